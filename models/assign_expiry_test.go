package models_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"till/models"
)

// TestExpireDueUnderpaid: an underpaid session ends only at its deadline
// plus the late window, once the chain has been observed past that time,
// with its partial amount and one payment.expired.
func TestExpireDueUnderpaid(t *testing.T) {
	const kas = models.SompiPerKAS
	f := newFixture(t)
	withKpub(t, f)
	late := f.s.LateWindow()
	expiry := 30 * time.Minute // the merchant's default expiry
	p := f.session()
	f.advance(1)
	f.observe(f.credit(p.PayAddress, 4*kas))
	steps := []struct {
		name    string
		after   time.Duration // clock moved from the session's creation
		observe bool          // the watcher looks at the chain at that time
		want    models.PaymentStatus
		n       int
	}{
		{"before the deadline", expiry - time.Minute, true, models.StatusUnderpaid, 0},
		{"past the deadline, inside the late window", expiry + time.Minute, true, models.StatusUnderpaid, 0},
		{"past the late window, chain not observed since", expiry + late + time.Minute, false, models.StatusUnderpaid, 0},
		{"past the late window, chain observed", expiry + late + 2*time.Minute, true, models.StatusExpired, 1},
		{"again", expiry + late + 3*time.Minute, true, models.StatusExpired, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			f.clock.Add(p.CreatedAt.Add(st.after).Sub(f.clock.Now()))
			if st.observe {
				f.observe()
			}
			n, err := f.s.ExpireDue(f.ctx, 100)
			got := f.reload(p.ID)
			if err != nil || n != st.n || got.Status != st.want || got.AmountReceived != 4*kas {
				t.Fatalf("ExpireDue %d %v: %s %d, want %d %s", n, err, got.Status, got.AmountReceived, st.n, st.want)
			}
			w, err := f.s.KaspaWatchList(f.ctx, f.daa)
			if err != nil {
				t.Fatal(err)
			}
			if watched := slices.Contains(w.Addresses, p.PayAddress); watched != (st.want == models.StatusUnderpaid) {
				t.Fatalf("watched %v while %s", watched, st.want)
			}
		})
	}
	if evs := f.events(p.ID); strings.Join(evs, ",") != models.EventPaymentExpired {
		t.Fatalf("events %v", evs)
	}
}

// TestAssignCreditConcurrent: many assignments of one credit at once, each
// to another session: exactly one wins, the others are refused as already
// assigned, and the credit counts once.
func TestAssignCreditConcurrent(t *testing.T) {
	f := newFixture(t)
	const n = 8
	var ps []*models.Payment
	for i := 0; i < n; i++ {
		ps = append(ps, f.session())
	}
	f.advance(1)
	f.observe(f.credit(merchantAddr, 3*models.SompiPerKAS))
	ts, err := f.s.UnmatchedTransfers(f.ctx, f.m.ID, 10)
	if err != nil || len(ts) != 1 {
		t.Fatalf("unmatched %d %v", len(ts), err)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = f.s.AssignCredit(f.ctx, f.m.ID, ts[0].ID, ps[i].ID)
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	var total int64
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, models.ErrCreditAssigned):
			t.Errorf("assignment %d: %v", i, err)
		}
		total += f.reload(ps[i].ID).AmountReceived
	}
	if won != 1 || total != 3*models.SompiPerKAS {
		t.Fatalf("%d assignments won, %d sompi credited; errors %v", won, total, errs)
	}
}
