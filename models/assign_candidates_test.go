package models_test

import (
	"slices"
	"testing"
	"time"

	"till/models"
)

// TestAssignCandidates: an unmatched credit on a shared address is offered
// to the merchant's sessions on that address that could still take it —
// pending, confirming, expired recently (addressCandidates reads each
// status on its own) — and to no confirmed session, none that expired
// before the recent window, and none on another address.
func TestAssignCandidates(t *testing.T) {
	f := newFixture(t)
	old := f.session()
	f.expireOpen(1)
	f.clock.Add(models.RecentExpiryWindow + f.s.LateWindow() + time.Hour)
	f.daa += uint64((models.RecentExpiryWindow + f.s.LateWindow() + time.Hour).Seconds()) * 10
	f.observe()
	confirmed := f.confirm(f.session())
	expired := f.session()
	f.expireOpen(1)
	confirming := f.session()
	f.advance(1)
	f.observe(f.credit(merchantAddr, confirming.AmountExpected))
	pending := f.session()
	withKpub(t, f)
	derived := f.session() // on an address of its own
	f.advance(1)
	f.observe(f.credit(merchantAddr, 12_345))

	list, err := f.s.PaymentList(f.ctx, f.m.ID, models.PaymentFilter{})
	if err != nil || len(list.Unmatched) != 1 {
		t.Fatalf("unmatched %+v (%v)", list.Unmatched, err)
	}
	var got []string
	for _, p := range list.Candidates[list.Unmatched[0].ID] {
		got = append(got, p.ID)
	}
	slices.Sort(got)
	want := []string{pending.ID, confirming.ID, expired.ID}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		names := map[string]string{old.ID: "expired long ago", confirmed.ID: "confirmed", expired.ID: "expired recently",
			confirming.ID: "confirming", pending.ID: "pending", derived.ID: "another address"}
		for i := range got {
			got[i] = names[got[i]]
		}
		t.Fatalf("candidates %v, want pending, confirming and expired recently", got)
	}
}
