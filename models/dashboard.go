package models

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"
)

// Read models of the merchant dashboard: each page gets what it shows from
// one call, over tenant-scoped queries.

// LinkSummary is a link with how often it was used.
type LinkSummary struct {
	PaymentLink
	// Sessions is the number of payment sessions opened on the link;
	// Paid how many of them are confirmed.
	Sessions int64
	Paid     int64
}

// LinkSummaries returns the merchant's links, newest first, each with its
// session counts (one grouped query over the merchant's payments).
func (s *Store) LinkSummaries(ctx context.Context, merchantID string) ([]LinkSummary, error) {
	links, err := s.Links(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	out := make([]LinkSummary, len(links))
	if len(links) == 0 {
		return out, nil
	}
	type row struct {
		LinkID   string
		Sessions int64
		Paid     int64
	}
	var rows []row
	err = s.db.R(ctx).Model(&Payment{}).Scopes(ownedBy(merchantID)).
		Select("link_id, COUNT(*) AS sessions, COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS paid", StatusConfirmed).
		Where("link_id IS NOT NULL").Group("link_id").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: link usage: %w", err)
	}
	use := make(map[string]row, len(rows))
	for _, r := range rows {
		use[r.LinkID] = r
	}
	for i := range links {
		u := use[links[i].ID]
		out[i] = LinkSummary{PaymentLink: links[i], Sessions: u.Sessions, Paid: u.Paid}
	}
	return out, nil
}

// LinkPreview is what a link being edited would look like at checkout.
type LinkPreview struct {
	// Link holds every field that passed validation (others keep their
	// zero value, e.g. Amount 0 for an amount that is not a number yet).
	Link         PaymentLink
	MerchantName string
	// Errors are the problems a save would report.
	Errors ValidationErrors
	// ApproxSompi is, for a USD link, the KAS a customer would pay at the
	// current rate (before the unique-amount offset); 0 when unknown.
	ApproxSompi int64
	Rate        string
}

// PreviewLink validates in as CreateLink would and returns the result for
// a live preview. It writes nothing.
func (s *Store) PreviewLink(ctx context.Context, merchantID string, in LinkInput) (*LinkPreview, error) {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	l, in := newLink(merchantID, in, now)
	p := &LinkPreview{MerchantName: m.Name}
	if err := s.applyLinkInput(l, in, now, m); err != nil {
		v, ok := AsValidation(err)
		if !ok {
			return nil, err
		}
		p.Errors = v
	}
	if p.Errors.For("amount") != "" {
		l.Amount = 0
	}
	if l.ExpiryMinutes == nil {
		exp := m.PaymentExpiry
		l.ExpiryMinutes = &exp
	}
	p.Link = *l
	if l.Currency == USD && l.Amount > 0 && s.rates != nil {
		if q, err := s.rates.Quote(ctx); err == nil {
			if sompi, err := ConvertUSDToSompi(l.Amount, q.Rate); err == nil {
				p.ApproxSompi, p.Rate = sompi, q.Rate
			}
		}
	}
	return p, nil
}

// PaymentList is one page of the payments table with what it refers to.
type PaymentList struct {
	PaymentPage
	// Links are all the merchant's links (filter choices and titles).
	Links []PaymentLink
	// Unmatched are recent credits that paid no session; only on the first
	// page.
	Unmatched []Transfer
	// Candidates are, per unmatched credit id, the sessions the merchant
	// may assign it to (see AssignCredit).
	Candidates map[string][]Payment
}

// LinkTitle returns the title of the link with id, or "".
func (l *PaymentList) LinkTitle(id *string) string {
	if id == nil {
		return ""
	}
	for i := range l.Links {
		if l.Links[i].ID == *id {
			return l.Links[i].Title
		}
	}
	return ""
}

// maxUnmatchedShown bounds the unmatched credits listed with the payments.
const maxUnmatchedShown = 20

// PaymentList returns a page of the merchant's payments matching f (see
// Payments) with the merchant's links and, on the first page, the credits
// that matched no payment.
func (s *Store) PaymentList(ctx context.Context, merchantID string, f PaymentFilter) (*PaymentList, error) {
	page, err := s.Payments(ctx, merchantID, f)
	if err != nil {
		return nil, err
	}
	out := &PaymentList{PaymentPage: *page}
	if out.Links, err = s.Links(ctx, merchantID); err != nil {
		return nil, err
	}
	if f.Cursor == "" {
		if out.Unmatched, err = s.UnmatchedTransfers(ctx, merchantID, maxUnmatchedShown); err != nil {
			return nil, err
		}
		if out.Candidates, err = s.assignCandidates(ctx, merchantID, out.Unmatched); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// TimelineEntry is one step in a payment's history.
type TimelineEntry struct {
	At time.Time
	// Kind is created, detected, confirmed, expired, event, or an activity
	// kind (reversed, recredited, assigned).
	Kind string
	// Event is the event type for Kind "event".
	Event string
	// Activity is the activity entry for activity kinds.
	Activity *PaymentActivity
}

// PaymentDetail is one payment with everything the dashboard shows about it.
type PaymentDetail struct {
	Payment   Payment
	Link      *PaymentLink
	Transfers []Transfer
	Events    []Event
	// Activities are what happened without an event (reversals, manual
	// assignment).
	Activities []PaymentActivity
	// Timeline merges the payment's own timestamps and its events, oldest
	// first.
	Timeline []TimelineEntry
}

// PaymentDetail returns the merchant's payment with id, its link, the
// on-chain credits applied to it and its events.
func (s *Store) PaymentDetail(ctx context.Context, merchantID, id string) (*PaymentDetail, error) {
	p, err := s.MerchantPayment(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	d := &PaymentDetail{Payment: *p}
	if p.LinkID != nil {
		l, err := s.Link(ctx, merchantID, *p.LinkID)
		switch {
		case err == nil:
			d.Link = l
		case !isNotFound(err):
			return nil, err
		}
	}
	// Both are keyed by a payment id just checked to be the merchant's.
	if d.Transfers, err = s.PaymentTransfers(ctx, p.ID); err != nil {
		return nil, err
	}
	if d.Events, err = s.EventsForPayment(ctx, p.ID); err != nil {
		return nil, err
	}
	if d.Activities, err = s.PaymentActivities(ctx, p.ID); err != nil {
		return nil, err
	}
	d.Timeline = paymentTimeline(p, d.Events, d.Activities)
	return d, nil
}

func isNotFound(err error) bool {
	var nf *NotFoundError
	return errors.As(err, &nf)
}

func paymentTimeline(p *Payment, evs []Event, acts []PaymentActivity) []TimelineEntry {
	t := []TimelineEntry{{At: p.CreatedAt, Kind: "created"}}
	if p.DetectedAt != nil {
		t = append(t, TimelineEntry{At: *p.DetectedAt, Kind: "detected"})
	}
	if p.ConfirmedAt != nil {
		t = append(t, TimelineEntry{At: *p.ConfirmedAt, Kind: "confirmed"})
	}
	if p.ExpiredAt != nil {
		t = append(t, TimelineEntry{At: *p.ExpiredAt, Kind: "expired"})
	}
	for _, e := range evs {
		t = append(t, TimelineEntry{At: e.CreatedAt, Kind: "event", Event: e.Type})
	}
	for i := range acts {
		t = append(t, TimelineEntry{At: acts[i].CreatedAt, Kind: acts[i].Kind, Activity: &acts[i]})
	}
	sort.SliceStable(t, func(i, j int) bool { return t[i].At.Before(t[j].At) })
	return t
}

// linksByID indexes links by id.
func linksByID(ls []PaymentLink) map[string]*PaymentLink {
	m := make(map[string]*PaymentLink, len(ls))
	for i := range ls {
		m[ls[i].ID] = &ls[i]
	}
	return m
}

// merchantLinks loads all the merchant's links with only the fields the
// exports need.
func (s *Store) merchantLinks(ctx context.Context, merchantID string) ([]PaymentLink, error) {
	return listOwned[PaymentLink](ctx, s.db.read, merchantID, func(db *gorm.DB) *gorm.DB {
		return db.Select("id", "title", "slug")
	})
}
