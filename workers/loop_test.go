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

// step is one scripted cycle of a fake watcher on the loop's clock: it
// marks its chain query at query, its write at write (0: not marked) and
// ends at end, all after its start; fail makes it fail at end instead.
type step struct {
	query, write, end time.Duration
	fail              bool
}

// cycleRecord is what a scripted cycle did, on the loop's clock.
type cycleRecord struct {
	start, query, write time.Time
	span                time.Duration // start to write
}

// runScript runs a Loop of interval over the script on a fake clock that
// only the cycles and the waits move, and returns each wait and what each
// cycle did.
func runScript(t *testing.T, interval time.Duration, script []step) ([]time.Duration, []cycleRecord) {
	t.Helper()
	db := modeltest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := time.Unix(1_700_000_000, 0)
	var waits []time.Duration
	var done []cycleRecord
	loop := &workers.Loop{Name: "test", DB: db, LockKey: 7_114_111_100, Interval: interval, MaxBackoff: time.Minute,
		Now: func() time.Time { return clock },
		Wait: func(ctx context.Context, d time.Duration) bool {
			waits = append(waits, d)
			clock = clock.Add(d)
			return ctx.Err() == nil
		},
		Cycle: func(ctx context.Context) error {
			s := script[len(done)]
			r := cycleRecord{start: clock}
			if s.query > 0 {
				clock = r.start.Add(s.query)
				workers.MarkQueried(ctx)
				workers.MarkQueried(ctx) // the first counts
				r.query = clock
			}
			if s.write > 0 {
				clock = r.start.Add(s.write)
				workers.MarkRecorded(ctx)
				r.write, r.span = clock, s.write
			}
			clock = r.start.Add(s.end)
			if s.query > 0 && s.write == 0 {
				r.write, r.span = clock, s.end
			}
			done = append(done, r)
			if len(done) == len(script) {
				cancel()
			}
			if s.fail {
				return errors.New("chain unavailable")
			}
			return nil
		}}
	if err := loop.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if len(done) != len(script) {
		t.Fatalf("%d cycles ran, want %d", len(done), len(script))
	}
	return waits, done
}

// TestLoopSchedule: a cycle that marks its chain query starts the next one
// so that its write lands within one Interval of that query — the next
// start is the query + Interval − the longest start-to-write time of the
// recent cycles — but no sooner than half an Interval after its own start,
// and at least a tenth of Interval after it ends. The run's first (cold)
// cycle is not planned for; a query without a write mark counts as written
// when the cycle ends; a failure backs off as ever; a long cycle is
// planned for until 16 shorter ones have followed.
func TestLoopSchedule(t *testing.T) {
	ms := time.Millisecond
	const interval = 2000 * time.Millisecond
	script := []step{
		{query: 10 * ms, write: 1200 * ms, end: 1210 * ms}, // cold: next: q 10 + 2000 → 800 after its end
		{query: 10 * ms, write: 160 * ms, end: 170 * ms},   // next: q 10 + 2000 − 160 = 1850
		{query: 10 * ms, write: 100 * ms, end: 110 * ms},   // starts 1850; next: q 1860 + 2000 − 160 = 3700
		{query: 10 * ms, write: 1500 * ms, end: 1510 * ms}, // starts 3700; next: q + 500 < start + 1000 → 4700; ends 5210 → a tenth
		{query: 10 * ms, end: 300 * ms},                    // starts 5410; no write mark: span 300; next 6410
		{query: 10 * ms, write: 50 * ms, end: 60 * ms, fail: true},
	}
	for range 17 {
		script = append(script, step{query: 10 * ms, write: 100 * ms, end: 110 * ms})
	}
	waits, done := runScript(t, interval, script)
	want := []time.Duration{800 * ms, 1680 * ms, 1740 * ms, 200 * ms, 700 * ms, 2000 * ms, 1000*ms - 110*ms}
	for i, w := range want {
		if waits[i] != w {
			t.Fatalf("wait %d = %s, want %s (waits %v)", i, waits[i], w, waits)
		}
	}
	// The long cycle (3) is planned for while it is one of the last 16
	// that marked a query (the failed one is none): after cycle 19 still;
	// after 20 the longest left is cycle 4's 300 ms, after 21 the short
	// ones' 100 ms: query + 2000 − 100, from the end.
	for i, w := range map[int]time.Duration{19: 890 * ms, 20: 1600 * ms, 21: 1800 * ms} {
		if waits[i] != w {
			t.Errorf("wait %d = %s, want %s (waits %v)", i, waits[i], w, waits)
		}
	}
	// The promise: after the cold cycle, a write lands within Interval of
	// the query before it, when its cycle took no longer than the longest
	// planned for.
	longest := time.Duration(0)
	for k := 1; k < len(done); k++ {
		prev, cur := done[k-1], done[k]
		if k > 1 {
			longest = max(longest, prev.span)
		}
		if k > 1 && cur.span <= longest && prev.query != (time.Time{}) && !script[k-1].fail {
			if late := cur.write.Sub(prev.query); late > interval {
				t.Errorf("cycle %d wrote %s after cycle %d's query, over %s", k, late, k-1, interval)
			}
		}
		if d := cur.start.Sub(prev.start); d < interval/2 {
			t.Errorf("cycle %d started %s after the one before: more than twice per interval", k, d)
		}
	}
}

// TestLoopScheduleUnmarked: a cycle that marks no query (the expirer) runs
// every Interval, start to start.
func TestLoopScheduleUnmarked(t *testing.T) {
	ms := time.Millisecond
	waits, done := runScript(t, 1000*ms, []step{{end: 30 * ms}, {end: 950 * ms}, {end: 5 * ms}})
	if want := []time.Duration{970 * ms, 100 * ms}; waits[0] != want[0] || waits[1] != want[1] {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if d := done[1].start.Sub(done[0].start); d != 1000*ms {
		t.Errorf("start to start %s, want 1s", d)
	}
}
