package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// The dashboard's overview: revenue, counts and a daily chart, each computed
// by the database over one merchant's rows (tenant-scoped like every query).

// Revenue is a merchant's confirmed income, per asset: amounts of different
// assets (sompi, micro-USDC) are never added together. KAS is what reached
// the merchant's wallet; USD is each payment's value when its session opened:
// the price of USD links, and for KAS links the amount at the rate cached
// then. A KAS session opened while no fresh rate was at hand has no USD
// value, and it is never estimated afterwards.
type Revenue struct {
	// Sompi is the KAS received by every confirmed KAS payment.
	Sompi int64
	// Count is the number of confirmed payments (all assets).
	Count int64
	// USDCents is the USD value of the confirmed payments that have one
	// (a USDC payment's is its price: one USDC is valued at one dollar).
	USDCents int64
	// USDCount is the number of confirmed payments with a USD value.
	USDCount int64
	// USDSompi is the KAS those payments brought in.
	USDSompi int64
	// UnvaluedSompi and UnvaluedCount cover confirmed KAS payments without
	// a USD value.
	UnvaluedSompi int64
	UnvaluedCount int64
	// LateCount is how many confirmed payments arrived after their window.
	LateCount int64
}

// AssetTotal is a sum of amounts of one asset, in its base units, and how
// many rows it covers.
type AssetTotal struct {
	Units int64
	Count int64
}

// AssetTotals holds one AssetTotal per asset Till is paid in. Amounts of
// different assets are never added together. (Fixed fields rather than a
// map keep the summaries comparable values.)
type AssetTotals struct {
	KAS  AssetTotal
	USDC AssetTotal
}

// Of returns the total of asset c.
func (a AssetTotals) Of(c Currency) AssetTotal {
	if c == USDC {
		return a.USDC
	}
	return a.KAS
}

// add counts n rows worth units of asset c.
func (a *AssetTotals) add(c Currency, units, n int64) {
	t := &a.KAS
	if c == USDC {
		t = &a.USDC
	}
	t.Units += units
	t.Count += n
}

// DayRevenue is one day of the revenue chart (UTC days).
type DayRevenue struct {
	// Day is midnight UTC of the day.
	Day time.Time
	// Sompi is the day's KAS revenue; ByAsset every asset's (base units).
	Sompi   int64
	ByAsset AssetTotals
	// Count is the number of payments confirmed that day (all assets).
	Count int64
}

// UnmatchedSummary totals the credits to a merchant's addresses that paid
// no session (wrong amount, no open session): money that arrived but that
// no payment accounts for.
type UnmatchedSummary struct {
	Count int64
	// Sompi is the unmatched KAS (Overview.UnmatchedByAsset has every
	// asset's).
	Sompi int64
}

// Overview is everything the dashboard's first page shows.
type Overview struct {
	Revenue Revenue
	// RevenueByAsset is what confirmed payments received, per asset, in
	// each asset's base units (its KAS entry equals Revenue.Sompi).
	RevenueByAsset AssetTotals
	// Counts holds the number of payments in each status.
	Counts map[PaymentStatus]int64
	// Total is the number of payments of any status.
	Total int64
	// Daily is the confirmed revenue per UTC day, oldest first, one entry
	// per day of the period ending today.
	Daily []DayRevenue
	// Recent are the newest payments.
	Recent []Payment
	// LinkTitles maps the link ids of Recent to their titles.
	LinkTitles map[string]string
	// Links counts all links; ActiveLinks those customers can pay now.
	Links       int64
	ActiveLinks int64
	Unmatched   UnmatchedSummary
	// UnmatchedByAsset totals the unmatched credits per asset.
	UnmatchedByAsset AssetTotals
}

// Overview bounds.
const (
	OverviewDays   = 30
	overviewRecent = 6
)

// Overview returns the merchant's dashboard summary: confirmed revenue,
// counts by status, the daily revenue of the last days (today included;
// OverviewDays when days ≤ 0) and the newest payments.
func (s *Store) Overview(ctx context.Context, merchantID string, days int) (*Overview, error) {
	if days <= 0 {
		days = OverviewDays
	}
	now := s.clock()
	o := &Overview{Counts: map[PaymentStatus]int64{}}
	if err := s.statusTotals(ctx, merchantID, o); err != nil {
		return nil, err
	}
	daily, err := s.DailyRevenue(ctx, merchantID, now, days)
	if err != nil {
		return nil, err
	}
	o.Daily = daily
	page, err := s.Payments(ctx, merchantID, PaymentFilter{Limit: overviewRecent})
	if err != nil {
		return nil, err
	}
	o.Recent = page.Payments
	if o.LinkTitles, err = s.linkTitles(ctx, merchantID, o.Recent); err != nil {
		return nil, err
	}
	if err := s.linkCounts(ctx, merchantID, now, o); err != nil {
		return nil, err
	}
	if o.Unmatched, o.UnmatchedByAsset, err = s.unmatchedSummary(ctx, merchantID); err != nil {
		return nil, err
	}
	return o, nil
}

// statusTotals fills the counts and the revenue with one grouped query.
func (s *Store) statusTotals(ctx context.Context, merchantID string, o *Overview) error {
	type row struct {
		Status   PaymentStatus
		Asset    Currency
		Valued   bool
		Late     bool
		N        int64
		Received int64
		Cents    int64
	}
	var rows []row
	err := s.db.R(ctx).Model(&Payment{}).Scopes(ownedBy(merchantID)).
		Select("status, asset, usd_cents IS NOT NULL AS valued, late, COUNT(*) AS n, " +
			"CAST(COALESCE(SUM(amount_received), 0) AS BIGINT) AS received, " +
			"CAST(COALESCE(SUM(usd_cents), 0) AS BIGINT) AS cents").
		Group("status, asset, usd_cents IS NOT NULL, late").Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("models: payment totals: %w", err)
	}
	for _, r := range rows {
		o.Counts[r.Status] += r.N
		o.Total += r.N
		if r.Status != StatusConfirmed {
			continue
		}
		rv := &o.Revenue
		rv.Count += r.N
		o.RevenueByAsset.add(r.Asset, r.Received, r.N)
		if r.Late {
			rv.LateCount += r.N
		}
		kas := r.Asset == KAS
		if kas {
			rv.Sompi += r.Received
		}
		switch {
		case r.Valued:
			rv.USDCents += r.Cents
			rv.USDCount += r.N
			if kas {
				rv.USDSompi += r.Received
			}
		case kas:
			rv.UnvaluedSompi += r.Received
			rv.UnvaluedCount += r.N
		}
	}
	return nil
}

// confirmedStatusSQL is DailyRevenue's status condition as a literal: the
// predicate of payments_merchant_confirmed_idx (migration 0020), which a
// planner uses only when the statement states it (a bound status would not)
// in the index's own form: SQLite does not take status IN ('confirmed').
const confirmedStatusSQL = "status = '" + string(StatusConfirmed) + "'"

// DailyRevenue returns what confirmed payments received, per asset, on each of
// the days UTC days ending with the day of now, oldest first; days without
// revenue are present with zeros. A payment counts on the day it was
// confirmed.
func (s *Store) DailyRevenue(ctx context.Context, merchantID string, now time.Time, days int) ([]DayRevenue, error) {
	if days <= 0 || days > 366 {
		return nil, Invalid("days", "days must be between 1 and 366")
	}
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	start := today.AddDate(0, 0, -(days - 1))
	end := today.AddDate(0, 0, 1)
	type row struct {
		Day   string
		Asset Currency
		Units int64
		N     int64
	}
	// The day of a timestamp, as YYYY-MM-DD in UTC: the one expression that
	// differs between the engines.
	dayExpr := "date(confirmed_at)" // SQLite: parses the stored text, offset included, to UTC
	if s.db.Dialect == Postgres {
		dayExpr = "to_char(confirmed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
	}
	var rows []row
	err := s.db.R(ctx).Model(&Payment{}).Scopes(ownedBy(merchantID)).
		Select(dayExpr+" AS day, asset, CAST(COALESCE(SUM(amount_received), 0) AS BIGINT) AS units, COUNT(*) AS n").
		Where(confirmedStatusSQL+" AND confirmed_at >= ? AND confirmed_at < ?", start, end).
		Group(dayExpr + ", asset").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: daily revenue: %w", err)
	}
	out := make([]DayRevenue, days)
	index := make(map[string]int, days)
	for i := range out {
		d := start.AddDate(0, 0, i)
		out[i] = DayRevenue{Day: d}
		index[d.Format(time.DateOnly)] = i
	}
	for _, r := range rows {
		if i, ok := index[r.Day]; ok {
			d := &out[i]
			d.ByAsset.add(r.Asset, r.Units, r.N)
			if r.Asset == KAS {
				d.Sompi += r.Units
			}
			d.Count += r.N
		}
	}
	return out, nil
}

// linkTitles maps the link ids used by ps to the links' titles.
func (s *Store) linkTitles(ctx context.Context, merchantID string, ps []Payment) (map[string]string, error) {
	out := map[string]string{}
	var ids []string
	seen := map[string]bool{}
	for _, p := range ps {
		if p.LinkID != nil && !seen[*p.LinkID] {
			seen[*p.LinkID] = true
			ids = append(ids, *p.LinkID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	links, err := listOwned[PaymentLink](ctx, s.db.read, merchantID, func(db *gorm.DB) *gorm.DB {
		return db.Select("id", "title").Where("id IN ?", ids)
	})
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		out[l.ID] = l.Title
	}
	return out, nil
}

// linkCounts counts the merchant's links and those open for payment now.
func (s *Store) linkCounts(ctx context.Context, merchantID string, now time.Time, o *Overview) error {
	type row struct {
		Total  int64
		Active int64
	}
	var r row
	err := s.db.R(ctx).Model(&PaymentLink{}).Scopes(ownedBy(merchantID)).
		Select("COUNT(*) AS total, "+
			"COALESCE(SUM(CASE WHEN status = ? AND (expires_at IS NULL OR expires_at > ?) THEN 1 ELSE 0 END), 0) AS active",
			LinkActive, now).
		Scan(&r).Error
	if err != nil {
		return fmt.Errorf("models: link counts: %w", err)
	}
	o.Links, o.ActiveLinks = r.Total, r.Active
	return nil
}

// unmatchedSummary totals the merchant's credits that matched no payment.
func (s *Store) unmatchedSummary(ctx context.Context, merchantID string) (UnmatchedSummary, AssetTotals, error) {
	var rows []struct {
		Chain string
		N     int64
		Units int64
	}
	err := s.db.R(ctx).Model(&Transfer{}).Scopes(ownedBy(merchantID)).
		Select("chain, COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS units").
		Where("payment_id IS NULL AND orphaned_at IS NULL").Group("chain").Scan(&rows).Error
	if err != nil {
		return UnmatchedSummary{}, AssetTotals{}, fmt.Errorf("models: unmatched credits: %w", err)
	}
	var out UnmatchedSummary
	var by AssetTotals
	for _, r := range rows {
		asset := ParamsOf(r.Chain).Asset
		by.add(asset, r.Units, r.N)
		out.Count += r.N
		if asset == KAS {
			out.Sompi += r.Units
		}
	}
	return out, by, nil
}
