package models_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"till/models"
)

// observePolled runs one domain cycle in which only the addresses of polled
// were asked for their UTXOs, as a watcher following the chain does.
func (f *fixture) observePolled(polled map[string]bool, lookups map[string]models.KaspaTxLookup) models.KaspaApplyResult {
	f.t.Helper()
	w, err := f.s.KaspaWatchFrom(f.ctx, f.idx, f.daa)
	if err != nil {
		f.t.Fatal(err)
	}
	var credits []models.KaspaCredit
	for _, c := range f.utxos {
		if polled[c.Address] {
			credits = append(credits, c)
		}
	}
	res, err := f.s.ApplyKaspaObservation(f.ctx, models.KaspaObservation{Network: "kaspa-mainnet", VirtualDaaScore: f.daa,
		Credits: credits, Watch: w, Polled: polled, Lookups: lookups})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// TestPartialObservationLeavesUnpolledCreditsAlone: a credit whose address a
// cycle did not poll is neither backed nor missing in that cycle. Were it
// marked missing, the reversal grace would start on a credit nobody looked
// for, and a later cycle would reverse a payment the chain still holds.
func TestPartialObservationLeavesUnpolledCreditsAlone(t *testing.T) {
	f := newFixture(t)
	withKpub(t, f)
	p := f.session()
	f.advance(1)
	a := f.credit(p.PayAddress, p.AmountExpected/2)
	f.observe(a)
	if got := f.reload(p.ID); got.Status != models.StatusUnderpaid {
		t.Fatalf("half paid: %s", got.Status)
	}
	f.drop(a)
	rejected := map[string]models.KaspaTxLookup{a.TxID: {Found: true}}
	other := map[string]bool{merchantAddr: true}

	// Not polled: the credit stays as it is, however long.
	for range 3 {
		if res := f.observePolled(other, rejected); res.Reversed != 0 {
			t.Fatalf("reversed a credit whose address was not polled: %+v", res)
		}
		f.clock.Add(models.DefaultReversalGrace)
	}
	// Polled and missing: the grace starts now, not in the cycles above.
	if res := f.observePolled(map[string]bool{p.PayAddress: true}, rejected); res.Reversed != 0 {
		t.Fatalf("reversed at the first cycle that missed it: %+v", res)
	}
	f.clock.Add(models.DefaultReversalGrace)
	if res := f.observePolled(map[string]bool{p.PayAddress: true}, rejected); res.Reversed != 1 {
		t.Fatalf("after the grace, polled and missing: %+v", res)
	}
	if got := f.reload(p.ID); got.Status != models.StatusPending || got.AmountReceived != 0 {
		t.Fatalf("after the reversal: %s received %d", got.Status, got.AmountReceived)
	}
}

// TestKaspaHotFrom: the addresses a following watcher polls every cycle are
// those of sessions holding a credit and of pending sessions near their
// deadline; a pending session far from it, or an expired unpaid one, is
// left to the chain follower.
func TestKaspaHotFrom(t *testing.T) {
	f := newFixture(t)
	withKpub(t, f)
	early := f.session()
	f.clock.Add(10 * time.Minute)
	late := f.session()
	paid := f.session()
	f.advance(1)
	f.observe(f.credit(paid.PayAddress, paid.AmountExpected))
	if got := f.reload(paid.ID); got.Status != models.StatusConfirming {
		t.Fatalf("paid: %s", got.Status)
	}
	f.observe() // the next cycle's index holds the payment as confirming
	untilEarly := early.ExpiresAt.Sub(f.clock.Now())
	cases := []struct {
		name      string
		dueWithin time.Duration
		want      []string
	}{
		{"none due", time.Second, []string{paid.PayAddress}},
		{"the early one due", untilEarly + time.Second, []string{early.PayAddress, paid.PayAddress}},
		{"both due", untilEarly + 10*time.Minute + time.Second, []string{early.PayAddress, late.PayAddress, paid.PayAddress}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := slices.Sorted(maps.Keys(f.s.KaspaHotFrom(f.idx, tc.dueWithin)))
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("hot %v, want %v", got, tc.want)
			}
		})
	}
	// Past its deadline and expired, unpaid: watched for late payments,
	// but not hot.
	f.clock.Add(untilEarly + time.Second)
	f.daa += uint64(untilEarly/time.Second+1) * 10
	f.observe()
	if n, err := f.s.ExpireDue(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("expired %d, want 1 (%v)", n, err)
	}
	f.observe()
	if got := f.reload(early.ID); got.Status != models.StatusExpired {
		t.Fatalf("early: %s", got.Status)
	}
	if got := f.reload(paid.ID); got.Status != models.StatusConfirmed {
		t.Fatalf("paid, 30 minutes deep: %s", got.Status)
	}
	hot := f.s.KaspaHotFrom(f.idx, time.Hour)
	if len(hot) != 1 || !hot[late.PayAddress] {
		t.Fatalf("after the early one expired and the paid one confirmed: hot %v, want only %s", hot, late.PayAddress)
	}
}
