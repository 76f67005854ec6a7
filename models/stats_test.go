package models_test

import (
	"errors"
	"testing"
	"time"

	"till/models"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDailyRevenue buckets confirmed payments by their UTC confirmation day,
// at the edges of days and windows, for one merchant only.
func TestDailyRevenue(t *testing.T) {
	f := newDashFixture(t)
	other, otherLink := f.otherMerchant()
	// Confirmation times (confirm adds 10.1 s to the clock).
	const settle = 10*time.Second + 100*time.Millisecond
	at := func(ts string) {
		f.t.Helper()
		tt, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatal(err)
		}
		f.setClock(tt.Add(-settle))
	}
	p1 := f.confirm(f.session())                                   // 2026-03-01 12:00:10.1
	at("2026-03-01T23:59:59.9Z")                                   // last moment of the day
	p2 := f.confirm(f.session())                                   //
	at("2026-03-02T00:00:10Z")                                     // early in the next
	p3 := f.confirm(f.session())                                   //
	f.confirm(f.sessionOn(otherLink, models.CreatePaymentInput{})) // another merchant's, on 03-02
	at("2026-03-05T10:00:00Z")
	p4 := f.confirm(f.session())
	_ = f.session() // pending: never revenue
	if got := *p2.ConfirmedAt; !got.Equal(time.Date(2026, 3, 1, 23, 59, 59, 900_000_000, time.UTC)) {
		t.Fatalf("p2 confirmed at %s", got)
	}

	type bucket struct {
		sompi, n int64
	}
	cases := []struct {
		name  string
		now   time.Time
		days  int
		first time.Time
		want  map[string]bucket
	}{
		{
			name: "30 days", now: time.Date(2026, 3, 5, 15, 0, 0, 0, time.UTC), days: 30, first: day("2026-02-04"),
			want: map[string]bucket{
				"2026-03-01": {p1.AmountReceived + p2.AmountReceived, 2},
				"2026-03-02": {p3.AmountReceived, 1},
				"2026-03-05": {p4.AmountReceived, 1},
			},
		},
		{
			name: "one day", now: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), days: 1, first: day("2026-03-02"),
			want: map[string]bucket{"2026-03-02": {p3.AmountReceived, 1}},
		},
		{
			name: "window starts after the first day", now: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC), days: 4, first: day("2026-03-02"),
			want: map[string]bucket{"2026-03-02": {p3.AmountReceived, 1}, "2026-03-05": {p4.AmountReceived, 1}},
		},
		{
			name: "nothing yet", now: time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC), days: 7, first: day("2026-02-14"),
			want: map[string]bucket{},
		},
		{
			name: "now in another zone is the same instant", now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.FixedZone("CET", 3600)), days: 1, first: day("2026-03-02"),
			want: map[string]bucket{"2026-03-02": {p3.AmountReceived, 1}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.s.DailyRevenue(f.ctx, f.m.ID, tc.now, tc.days)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.days || !got[0].Day.Equal(tc.first) {
				t.Fatalf("%d days from %s, want %d from %s", len(got), got[0].Day, tc.days, tc.first)
			}
			for i, d := range got {
				if i > 0 && !d.Day.Equal(got[i-1].Day.AddDate(0, 0, 1)) {
					t.Fatalf("day %d is %s after %s", i, d.Day, got[i-1].Day)
				}
				w := tc.want[d.Day.Format(time.DateOnly)]
				if d.Sompi != w.sompi || d.Count != w.n {
					t.Errorf("%s: %d sompi in %d payments, want %d in %d", d.Day.Format(time.DateOnly), d.Sompi, d.Count, w.sompi, w.n)
				}
			}
		})
	}
	for _, days := range []int{0, -1, 367} {
		_, err := f.s.DailyRevenue(f.ctx, f.m.ID, f.clock.Now(), days)
		var ve *models.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("days=%d: %v, want a validation error", days, err)
		}
	}
	if got, _ := f.s.DailyRevenue(f.ctx, other.ID, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC), 2); got[0].Count != 0 || got[1].Count != 1 {
		t.Errorf("other merchant's days: %+v", got)
	}
}

// TestOverview checks the totals of the overview for a merchant with
// payments in every state, for a merchant with none, and that neither sees
// the other's.
func TestOverview(t *testing.T) {
	f := newDashFixture(t)
	other, otherLink := f.otherMerchant()
	usdLink := f.linkFor(f.m, "Hoodie", "19.99", "USD")
	draft := "draft"
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.linkFor(f.m, "Draft", "1", "KAS").ID, models.LinkInput{Status: &draft}); err != nil {
		t.Fatal(err)
	}
	in := 60
	exp := &in
	if _, err := f.s.UpdateLink(f.ctx, f.m.ID, f.linkFor(f.m, "Soon gone", "1", "KAS").ID, models.LinkInput{LinkExpiresIn: &exp}); err != nil {
		t.Fatal(err)
	}

	kas1 := f.confirm(f.session())
	kas2 := f.confirm(f.session())
	usd := f.confirm(f.sessionOn(usdLink, models.CreatePaymentInput{CustomerEmail: "buyer@example.com"}))
	f.confirm(f.sessionOn(otherLink, models.CreatePaymentInput{}))
	pending := f.session()
	expiring := f.session()
	// An unmatched credit: one sompi short of the pending session.
	f.advance(1)
	stray := f.credit(merchantAddr, pending.AmountExpected-1)
	f.observe(stray)
	f.clock.Add(2 * time.Hour) // sessions (30 min) expire; the 60-minute link too
	f.observe(stray)
	if _, err := f.s.ExpireDue(f.ctx, 100); err != nil {
		t.Fatal(err)
	}
	_ = expiring

	cases := []struct {
		name        string
		merchant    string
		total       int64
		counts      map[models.PaymentStatus]int64
		revenue     models.Revenue
		links       int64
		activeLinks int64
		unmatched   models.UnmatchedSummary
		recent      int
	}{
		{
			name: "merchant with payments", merchant: f.m.ID, total: 5,
			counts: map[models.PaymentStatus]int64{models.StatusConfirmed: 3, models.StatusExpired: 2},
			revenue: models.Revenue{
				Sompi: kas1.AmountReceived + kas2.AmountReceived + usd.AmountReceived, Count: 3,
				USDCents: 1999, USDCount: 1, USDSompi: usd.AmountReceived,
				UnvaluedSompi: kas1.AmountReceived + kas2.AmountReceived, UnvaluedCount: 2,
			},
			links: 4, activeLinks: 2, unmatched: models.UnmatchedSummary{Count: 1, Sompi: stray.Amount}, recent: 5,
		},
		{
			name: "other merchant", merchant: other.ID, total: 1,
			counts:  map[models.PaymentStatus]int64{models.StatusConfirmed: 1},
			revenue: models.Revenue{Sompi: otherLink.Amount, Count: 1, UnvaluedCount: 1},
			links:   1, activeLinks: 1, recent: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := f.s.Overview(f.ctx, tc.merchant, 0)
			if err != nil {
				t.Fatal(err)
			}
			if tc.merchant == other.ID {
				// The unique offset makes the exact amount random.
				tc.revenue.Sompi, tc.revenue.UnvaluedSompi = o.Revenue.Sompi, o.Revenue.Sompi
				if o.Revenue.Sompi <= otherLink.Amount || o.Revenue.Sompi > otherLink.Amount+99_999 {
					t.Errorf("other revenue %d", o.Revenue.Sompi)
				}
			}
			if o.Total != tc.total || o.Revenue != tc.revenue || o.Links != tc.links || o.ActiveLinks != tc.activeLinks || o.Unmatched != tc.unmatched {
				t.Fatalf("overview total=%d revenue=%+v links=%d/%d unmatched=%+v\nwant total=%d revenue=%+v links=%d/%d unmatched=%+v",
					o.Total, o.Revenue, o.ActiveLinks, o.Links, o.Unmatched, tc.total, tc.revenue, tc.activeLinks, tc.links, tc.unmatched)
			}
			for st, n := range tc.counts {
				if o.Counts[st] != n {
					t.Errorf("%s: %d, want %d", st, o.Counts[st], n)
				}
			}
			if len(o.Daily) != models.OverviewDays || len(o.Recent) != tc.recent {
				t.Fatalf("%d days, %d recent", len(o.Daily), len(o.Recent))
			}
			var chart int64
			for _, d := range o.Daily {
				chart += d.Sompi
			}
			if chart != o.Revenue.Sompi {
				t.Errorf("chart sums to %d, revenue is %d", chart, o.Revenue.Sompi)
			}
			for _, p := range o.Recent {
				if p.MerchantID != tc.merchant {
					t.Fatalf("recent payment of another merchant: %s", p.ID)
				}
				if p.LinkID == nil || o.LinkTitles[*p.LinkID] == "" {
					t.Errorf("no title for the link of %s", p.ID)
				}
			}
		})
	}

	t.Run("new merchant", func(t *testing.T) {
		m, err := f.s.Register(f.ctx, models.RegisterInput{Email: "new@example.com", Password: "securepassword", Name: "New", KaspaAddress: merchantAddr})
		if err != nil {
			t.Fatal(err)
		}
		o, err := f.s.Overview(f.ctx, m.ID, 7)
		if err != nil {
			t.Fatal(err)
		}
		if o.Total != 0 || o.Revenue != (models.Revenue{}) || len(o.Recent) != 0 || len(o.Daily) != 7 || o.Links != 0 || o.Unmatched.Count != 0 {
			t.Fatalf("empty overview %+v", o)
		}
	})
}
