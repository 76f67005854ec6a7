package workers_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/workers"
)

func TestBackoff(t *testing.T) {
	cases := []struct {
		failures int
		want     time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second}, {7, time.Minute}, {50, time.Minute},
	}
	for _, tc := range cases {
		if got := workers.Backoff(time.Second, time.Minute, tc.failures); got != tc.want {
			t.Errorf("Backoff(%d failures) = %s, want %s", tc.failures, got, tc.want)
		}
	}
}

// recorder is an injected Wait: it records each requested wait, returns
// at once, and cancels the loop after max waits.
type recorder struct {
	mu     sync.Mutex
	waits  []time.Duration
	max    int
	cancel context.CancelFunc
}

func (r *recorder) wait(ctx context.Context, d time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waits = append(r.waits, d)
	if len(r.waits) >= r.max {
		r.cancel()
		return false
	}
	return ctx.Err() == nil
}

// TestLoopBackoff: consecutive failures double the wait up to MaxBackoff, a
// success goes back to Interval less the cycle's own time (at least a tenth
// of Interval), and every cycle runs under leadership.
func TestLoopBackoff(t *testing.T) {
	db := modeltest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Fail 4 times, succeed once, fail once, then succeed.
	outcomes := []bool{false, false, false, false, true, false, true, true}
	// Successful cycles take 3, 0 and 12 ms on the loop's clock.
	took := map[int]time.Duration{4: 3 * time.Millisecond, 7: 12 * time.Millisecond}
	clock := time.Unix(1_700_000_000, 0)
	calls := 0
	rec := &recorder{max: len(outcomes), cancel: cancel}
	loop := &workers.Loop{Name: "test", DB: db, LockKey: 7_114_111_099, Interval: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond, Wait: rec.wait, Now: func() time.Time { return clock },
		Cycle: func(context.Context) error {
			ok := outcomes[calls]
			clock = clock.Add(took[calls])
			calls++
			if !ok {
				return errors.New("chain unavailable")
			}
			return nil
		}}
	if err := loop.Run(ctx); err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 50 * ms, 7 * ms, 10 * ms, 10 * ms, 1 * ms}
	if calls != len(outcomes) {
		t.Fatalf("cycles = %d, want %d", calls, len(outcomes))
	}
	for i := range want {
		if rec.waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v", rec.waits, want)
		}
	}
}

// TestLoopLeadership: while another connection holds the lock, the loop
// never runs its cycle; once released, it takes over. SQLite serves one
// process and always leads.
func TestLoopLeadership(t *testing.T) {
	db := modeltest.Open(t)
	key := models.EVMWatcherLockKey("loop-test")
	var held *models.Leadership
	if db.Dialect == models.Postgres {
		var err error
		held, err = db.TryLead(context.Background(), key)
		if err != nil || held == nil {
			t.Fatalf("take the lock: %v %v", held, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan int, 1) // the number of waits before the first cycle
	var mu sync.Mutex
	waits := 0
	released := make(chan struct{})
	loop := &workers.Loop{Name: "test", DB: db, LockKey: key, Interval: time.Millisecond,
		Wait: func(ctx context.Context, d time.Duration) bool {
			mu.Lock()
			waits++
			n := waits
			mu.Unlock()
			if n == 5 && held != nil {
				held.Release() // another process dies or steps down
				close(released)
			}
			return ctx.Err() == nil
		},
		Cycle: func(context.Context) error {
			if held != nil {
				select {
				case <-released:
				default:
					t.Error("cycle ran while another connection held the lock")
				}
			}
			mu.Lock()
			n := waits
			mu.Unlock()
			select {
			case ran <- n:
			default:
			}
			return nil
		}}
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	var n int
	select {
	case n = <-ran:
	case <-time.After(30 * time.Second):
		t.Fatal("the loop never took the lock")
	}
	if held != nil && n < 5 {
		t.Fatalf("cycle ran after %d waits, before the lock was released", n)
	}
	if held == nil && n != 0 {
		t.Fatalf("on SQLite the first cycle should run at once, after %d waits", n)
	}
	// A second loop on the same key cannot lead while the first holds it.
	if db.Dialect == models.Postgres {
		other, err := db.TryLead(context.Background(), key)
		if err != nil || other != nil {
			t.Fatalf("a second leader got the lock: %v %v", other, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
