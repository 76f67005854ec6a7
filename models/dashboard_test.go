package models_test

import (
	"errors"
	"testing"
	"time"

	"till/models"
)

func TestLinkSummaries(t *testing.T) {
	f := newDashFixture(t)
	other, otherLink := f.otherMerchant()
	f.clock.Add(time.Second)
	unused := f.linkFor(f.m, "Unused", "3", "KAS")
	f.confirm(f.session())
	f.session()
	f.session()
	f.sessionOn(otherLink, models.CreatePaymentInput{})

	cases := []struct {
		name     string
		merchant string
		want     map[string][2]int64 // link id → sessions, paid
		order    []string
	}{
		{"merchant", f.m.ID, map[string][2]int64{f.link.ID: {3, 1}, unused.ID: {0, 0}}, []string{unused.ID, f.link.ID}},
		{"other merchant", other.ID, map[string][2]int64{otherLink.ID: {1, 0}}, []string{otherLink.ID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := f.s.LinkSummaries(f.ctx, tc.merchant)
			if err != nil {
				t.Fatal(err)
			}
			if len(ls) != len(tc.order) {
				t.Fatalf("%d links, want %d", len(ls), len(tc.order))
			}
			for i, l := range ls {
				if l.ID != tc.order[i] {
					t.Errorf("link %d is %s, want %s (newest first)", i, l.ID, tc.order[i])
				}
				if w := tc.want[l.ID]; l.Sessions != w[0] || l.Paid != w[1] {
					t.Errorf("%s: %d sessions %d paid, want %v", l.Title, l.Sessions, l.Paid, w)
				}
			}
		})
	}
}

func TestPreviewLink(t *testing.T) {
	f := newDashFixture(t)
	s := func(v string) *string { return &v }
	minutes := func(v int) **int { p := &v; return &p }
	cases := []struct {
		name       string
		in         models.LinkInput
		wantErrs   []string // fields with errors
		wantAmount int64
		wantApprox int64
		wantWindow int
		wantExpiry bool
	}{
		{name: "empty form", wantErrs: []string{"title", "amount"}, wantWindow: 30},
		{
			name: "valid KAS link", in: models.LinkInput{Title: s("Coffee"), Amount: s("12.5"), Currency: s("KAS"), ExpiryMinutes: minutes(15)},
			wantAmount: 1_250_000_000, wantWindow: 15,
		},
		{
			name: "USD link priced at the current rate", in: models.LinkInput{Title: s("Hoodie"), Amount: s("19.99"), Currency: s("usd"), LinkExpiresIn: minutes(1440)},
			wantAmount: 1999, wantApprox: 15_992_000_000, wantWindow: 30, wantExpiry: true,
		},
		{
			name: "bad amount and redirect", in: models.LinkInput{Title: s("X"), Amount: s("1.2.3"), RedirectURL: s("javascript:alert(1)")},
			wantErrs: []string{"amount", "redirectUrl"}, wantWindow: 30,
		},
		{
			name: "below the payable minimum", in: models.LinkInput{Title: s("Tiny"), Amount: s("0.1")},
			wantErrs: []string{"amount"}, wantWindow: 30,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := f.s.PreviewLink(f.ctx, f.m.ID, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Errors) != len(tc.wantErrs) {
				t.Fatalf("errors %v, want fields %v", p.Errors, tc.wantErrs)
			}
			for _, field := range tc.wantErrs {
				if p.Errors.For(field) == "" {
					t.Errorf("no error for %s: %v", field, p.Errors)
				}
			}
			if p.Link.Amount != tc.wantAmount || p.ApproxSompi != tc.wantApprox || *p.Link.ExpiryMinutes != tc.wantWindow ||
				(p.Link.ExpiresAt != nil) != tc.wantExpiry || p.MerchantName != "Shop" {
				t.Fatalf("preview amount=%d approx=%d window=%d expires=%v name=%q", p.Link.Amount, p.ApproxSompi, *p.Link.ExpiryMinutes, p.Link.ExpiresAt, p.MerchantName)
			}
		})
	}
	links, err := f.s.Links(f.ctx, f.m.ID)
	if err != nil || len(links) != 1 {
		t.Fatalf("previews created links: %d %v", len(links), err)
	}
	var nf *models.NotFoundError
	if _, err := f.s.PreviewLink(f.ctx, "00000000-0000-0000-0000-000000000000", models.LinkInput{}); !errors.As(err, &nf) {
		t.Fatalf("unknown merchant: %v", err)
	}
}

func TestPaymentList(t *testing.T) {
	f := newDashFixture(t)
	other, otherLink := f.otherMerchant()
	for i := 0; i < 3; i++ {
		f.clock.Add(time.Second)
		f.session()
	}
	f.advance(1)
	f.observe(f.credit(merchantAddr, 123_456_789)) // matches nothing
	f.sessionOn(otherLink, models.CreatePaymentInput{})

	cases := []struct {
		name          string
		merchant      string
		filter        models.PaymentFilter
		wantRows      int
		wantMore      bool
		wantUnmatched int
		wantLinks     int
	}{
		{"first page", f.m.ID, models.PaymentFilter{Limit: 2}, 2, true, 1, 1},
		{"everything", f.m.ID, models.PaymentFilter{}, 3, false, 1, 1},
		{"other merchant", other.ID, models.PaymentFilter{}, 1, false, 0, 1},
		{"filtered to nothing", f.m.ID, models.PaymentFilter{Status: models.StatusConfirmed}, 0, false, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := f.s.PaymentList(f.ctx, tc.merchant, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Payments) != tc.wantRows || (l.NextCursor != "") != tc.wantMore || len(l.Unmatched) != tc.wantUnmatched || len(l.Links) != tc.wantLinks {
				t.Fatalf("%d rows more=%v %d unmatched %d links", len(l.Payments), l.NextCursor != "", len(l.Unmatched), len(l.Links))
			}
			for _, p := range l.Payments {
				if p.MerchantID != tc.merchant || l.LinkTitle(p.LinkID) == "" {
					t.Fatalf("row %s of %s titled %q", p.ID, p.MerchantID, l.LinkTitle(p.LinkID))
				}
			}
		})
	}
	first, _ := f.s.PaymentList(f.ctx, f.m.ID, models.PaymentFilter{Limit: 2})
	next, err := f.s.PaymentList(f.ctx, f.m.ID, models.PaymentFilter{Limit: 2, Cursor: first.NextCursor})
	if err != nil || len(next.Payments) != 1 || next.NextCursor != "" || len(next.Unmatched) != 0 {
		t.Fatalf("second page: %v %+v", err, next)
	}
	if _, err := f.s.PaymentList(f.ctx, f.m.ID, models.PaymentFilter{Cursor: "junk"}); err == nil {
		t.Fatal("junk cursor accepted")
	}
}

func TestPaymentDetail(t *testing.T) {
	f := newDashFixture(t)
	other, otherLink := f.otherMerchant()
	paid := f.confirm(f.session())
	expired := f.session()
	f.clock.Add(time.Hour)
	f.observe()
	if _, err := f.s.ExpireDue(f.ctx, 10); err != nil {
		t.Fatal(err)
	}
	foreign := f.sessionOn(otherLink, models.CreatePaymentInput{})

	cases := []struct {
		name      string
		merchant  string
		id        string
		wantErr   bool
		transfers int
		timeline  []string
	}{
		{name: "confirmed", merchant: f.m.ID, id: paid.ID, transfers: 1, timeline: []string{"created", "detected", "confirmed", "event:payment.confirmed"}},
		{name: "expired", merchant: f.m.ID, id: expired.ID, timeline: []string{"created", "expired", "event:payment.expired"}},
		{name: "another merchant's payment", merchant: f.m.ID, id: foreign.ID, wantErr: true},
		{name: "own payment seen by another merchant", merchant: other.ID, id: paid.ID, wantErr: true},
		{name: "not an id", merchant: f.m.ID, id: "../etc", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := f.s.PaymentDetail(f.ctx, tc.merchant, tc.id)
			if tc.wantErr {
				if !errors.Is(err, models.ErrNotFound) {
					t.Fatalf("err %v, want not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Link == nil || d.Link.ID != f.link.ID || len(d.Transfers) != tc.transfers {
				t.Fatalf("link %v, %d transfers", d.Link, len(d.Transfers))
			}
			var got []string
			for _, e := range d.Timeline {
				k := e.Kind
				if k == "event" {
					k += ":" + e.Event
				}
				got = append(got, k)
			}
			if len(got) != len(tc.timeline) {
				t.Fatalf("timeline %v, want %v", got, tc.timeline)
			}
			for i := range got {
				if got[i] != tc.timeline[i] {
					t.Fatalf("timeline %v, want %v", got, tc.timeline)
				}
			}
			for i := 1; i < len(d.Timeline); i++ {
				if d.Timeline[i].At.Before(d.Timeline[i-1].At) {
					t.Fatalf("timeline out of order: %v", d.Timeline)
				}
			}
		})
	}
}
