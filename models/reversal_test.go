package models_test

import (
	"testing"
	"time"

	"till/models"
)

// observeLookups runs one domain cycle over the fixture's UTXO set with the
// indexer's answers for missing credits.
func (f *fixture) observeLookups(lookups map[string]models.KaspaTxLookup) models.KaspaApplyResult {
	f.t.Helper()
	w, err := f.s.KaspaWatchList(f.ctx, f.daa)
	if err != nil {
		f.t.Fatal(err)
	}
	res, err := f.s.ApplyKaspaObservation(f.ctx, models.KaspaObservation{Network: "kaspa-mainnet", VirtualDaaScore: f.daa,
		Credits: f.utxos, Watch: w, Lookups: lookups})
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// drop removes an output from the fixture's UTXO set.
func (f *fixture) drop(c models.KaspaCredit) {
	for i, u := range f.utxos {
		if u.TxID == c.TxID && u.Index == c.Index {
			f.utxos = append(f.utxos[:i], f.utxos[i+1:]...)
			return
		}
	}
	f.t.Fatalf("no UTXO %s", c.TxID)
}

// TestReversalOfOneOfSeveralCredits: per-address session paid by two
// credits, the second one rejected. What is left decides where the payment
// goes back to, and it confirms only from what the chain still backs.
func TestReversalOfOneOfSeveralCredits(t *testing.T) {
	cases := []struct {
		name       string
		first      func(expected int64) int64
		second     func(expected int64) int64
		wantStatus models.PaymentStatus
	}{
		{"the rest still covers it", func(e int64) int64 { return e }, func(int64) int64 { return 50_000_000 }, models.StatusConfirmed},
		{"the rest is short", func(e int64) int64 { return e / 2 }, func(e int64) int64 { return e - e/2 }, models.StatusUnderpaid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			withKpub(t, f)
			p := f.session()
			f.advance(1)
			a := f.credit(p.PayAddress, tc.first(p.AmountExpected))
			f.observe(a)
			f.advance(1)
			b := f.credit(p.PayAddress, tc.second(p.AmountExpected))
			f.observe(b)
			if got := f.reload(p.ID); got.Status != models.StatusConfirming || got.AmountReceived != a.Amount+b.Amount {
				t.Fatalf("paid twice: %s %d", got.Status, got.AmountReceived)
			}
			f.drop(b)
			rejected := map[string]models.KaspaTxLookup{b.TxID: {Found: true}}
			f.advance(200)
			if res := f.observeLookups(rejected); res.Confirmed != 0 || res.Reversed != 0 {
				t.Fatalf("rejected, inside the grace period: %+v", res)
			}
			f.clock.Add(models.DefaultReversalGrace)
			res := f.observeLookups(rejected)
			got := f.reload(p.ID)
			if res.Reversed != 1 || got.Status != tc.wantStatus || got.AmountReceived != a.Amount || got.TxID != a.TxID {
				t.Fatalf("after the reversal: %+v, %s received %d tx %s", res, got.Status, got.AmountReceived, got.TxID)
			}
			if tc.wantStatus == models.StatusConfirmed && got.Confirmations != int64(f.daa)-int64(a.BlockDaaScore) {
				t.Fatalf("%d confirmations, want the remaining credit's depth", got.Confirmations)
			}
			f.clock.Add(time.Minute)
			for i := 0; i < 2; i++ {
				f.advance(10)
				f.observeLookups(rejected)
			}
			as, err := f.s.PaymentActivities(f.ctx, p.ID)
			if err != nil || len(as) != 1 || as[0].Kind != models.ActivityReversed || as[0].Amount != b.Amount {
				t.Fatalf("activities %+v %v", as, err)
			}
			n := 0
			for _, e := range f.events(p.ID) {
				if e == models.EventPaymentConfirmed {
					n++
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tc.wantStatus == models.StatusConfirmed]; n != want {
				t.Fatalf("%d payment.confirmed events, want %d", n, want)
			}
		})
	}
}
