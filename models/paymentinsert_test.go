package models_test

import (
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm/schema"

	"till/models"
)

// TestPaymentInsertColumns: the hand-written insert names every column gorm
// maps for Payment, so a new field cannot be silently left out, and the
// address-in-use check spells out exactly the watched statuses.
func TestPaymentInsertColumns(t *testing.T) {
	sch, err := schema.Parse(&models.Payment{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range sch.Fields {
		if f.DBName != "" {
			want = append(want, f.DBName)
		}
	}
	if !reflect.DeepEqual(models.PaymentColumns, want) {
		t.Fatalf("insert columns\n%v\nwant (Payment's fields in order)\n%v", models.PaymentColumns, want)
	}
	var quoted []string
	for _, s := range models.OpenStatuses {
		quoted = append(quoted, "'"+string(s)+"'")
	}
	if in := "status IN (" + strings.Join(quoted, ", ") + ")"; !strings.Contains(models.AddressWatchedSQL, in) {
		t.Fatalf("address check %q does not name the open statuses %s", models.AddressWatchedSQL, in)
	}
}

// TestCreatedSessionReadsBack: every value CreatePayment returns is the one
// stored (the insert's columns and values line up), for a shared-address
// session with a rate and a derived-address one.
func TestCreatedSessionReadsBack(t *testing.T) {
	f := newFixture(t)
	meta := []byte(`{"order":"42"}`)
	in := models.CreatePaymentInput{LinkSlug: f.link.Slug, CustomerEmail: "c@example.com", CustomerName: "Carol", Metadata: meta, Visitor: "v1"}
	shared, err := f.s.CreatePayment(f.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	withKpub(t, f)
	derived, err := f.s.CreatePayment(f.ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*models.Payment{shared, derived} {
		got := f.reload(p.ID)
		// Times compare by instant (the engines return them in their own zone).
		for _, tm := range [][2]*time.Time{{&got.ExpiresAt, &p.ExpiresAt}, {&got.CreatedAt, &p.CreatedAt}, {&got.UpdatedAt, &p.UpdatedAt}} {
			if !tm[0].Equal(*tm[1]) {
				t.Fatalf("%s: time %v stored as %v", p.ID, *tm[1], *tm[0])
			}
			*tm[0] = *tm[1]
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("stored\n%+v\nreturned\n%+v", got, p)
		}
	}
	if shared.StartDaaScore != int64(f.daa) || shared.Visitor != "v1" || shared.CustomerName != "Carol" {
		t.Fatalf("session %+v", shared)
	}
}

// TestDerivedSessionSkipsWatchedAddresses: after the merchant's wallet is
// set again (its index back at 0), the addresses of sessions still watched
// (open, or expired inside the late window) are skipped, in the insert
// itself; an address whose session is past the late window is used again.
func TestDerivedSessionSkipsWatchedAddresses(t *testing.T) {
	f := newFixture(t, func(o *models.StoreOptions) { o.LateWindow = time.Hour })
	withKpub(t, f)
	a, b := f.session(), f.session() // indexes 0 and 1
	f.expireOpen(2)
	open := f.session() // index 2, pending
	rewind := func() {
		t.Helper()
		empty := ""
		if _, err := f.s.UpdateSettings(f.ctx, f.m.ID, models.SettingsInput{KaspaKpub: &empty}); err != nil {
			t.Fatal(err)
		}
		withKpub(t, f)
	}
	rewind()
	// 0 and 1 are expired but inside the late window, 2 is pending.
	if p := f.session(); *p.DerivationIndex != 3 {
		t.Fatalf("index %d, want 3 (0–2 still watched: %s %s %s)", *p.DerivationIndex, a.PayAddress, b.PayAddress, open.PayAddress)
	}
	f.clock.Add(2 * time.Hour) // past the late window of 0 and 1
	rewind()
	if p := f.session(); *p.DerivationIndex != 0 || p.PayAddress != a.PayAddress {
		t.Fatalf("index %d, want 0 (free again)", *p.DerivationIndex)
	}
}

// TestSessionStatementPlans: with many open sessions and no statistics (a
// fresh install taking a burst; SQLite never has any), the statements of
// session creation look up by slug, by address and amount, and by address
// (migration 0016), never through the open sessions of the whole chain.
func TestSessionStatementPlans(t *testing.T) {
	f := newFixture(t)
	for range 300 {
		f.session()
	}
	w, d := f.s.DB().W(f.ctx), f.s.DB().Dialect
	now := f.clock.Now()
	for _, tc := range []struct {
		q     string
		args  []any
		index string
	}{
		{models.SessionSourceSQL, []any{f.link.Slug}, "payment_links_slug_key"},
		{models.InsertCheckSQL(d, "unique amount"), []any{merchantAddr, f.link.Amount + 1, now, "kaspa"}, "payments_late_amount_idx"},
		{models.InsertCheckSQL(d, "free address"), []any{merchantAddr, "kaspa", now}, "payments_watched_address_idx"},
	} {
		plan := explain(t, w, tc.q, tc.args...)
		if !strings.Contains(plan, tc.index) || strings.Contains(plan, "payments_chain_open_idx") {
			t.Errorf("%s: plan does not use %s alone:\n%s", tc.q, tc.index, plan)
		}
	}
}
