package workers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"till/models"
)

// Loop runs one background job that must run in one process at a time (a
// chain watcher, the expirer): every Interval it makes sure it holds its
// leadership lock (Postgres advisory lock LockKey; SQLite serves one
// process and always leads), runs Cycle, and after consecutive failures
// waits longer (doubling from Interval up to MaxBackoff). A lost lock
// connection is released and taken again (or by another process).
type Loop struct {
	// Name prefixes log lines ("kaspa watcher", "expirer").
	Name    string
	DB      *models.DB
	LockKey int64
	// Interval (default 1s) is the promise a chain watcher keeps: what
	// lands on the chain is recorded within Interval. Its cycle marks when
	// its chain query goes out (MarkQueried) and when what it found is
	// written (MarkRecorded). A payment landing just after one query is
	// found by the next and written when that cycle writes, so the next
	// cycle starts at the last query + Interval − the time a cycle takes
	// from its start to its write (the longest of the last planWindow
	// cycles, the run's first one left out): its write lands within
	// Interval of the last query. Chain
	// queries then come every Interval less that time: more often by
	// about that time ÷ Interval, and never more than twice per Interval.
	// A cycle that marks no query (the expirer) starts Interval after the
	// last one started. Either way the wait after a cycle is at least a
	// tenth of Interval. MaxBackoff caps the wait after failures (default:
	// one minute, at least Interval).
	Interval   time.Duration
	MaxBackoff time.Duration
	// Timeout bounds one cycle (0: only ctx).
	Timeout time.Duration
	Log     *slog.Logger
	// Cycle does one unit of work; an error counts as a failure.
	Cycle func(ctx context.Context) error
	// Wait waits d or until ctx ends, reporting whether d elapsed (tests
	// inject their own; default a timer).
	Wait func(ctx context.Context, d time.Duration) bool
	// Now reads the clock that times a cycle (tests inject their own;
	// default time.Now).
	Now func() time.Time
}

// RunLed runs cycle under the leadership lock lockKey every interval with
// backoff up to maxBackoff, until ctx ends (see Loop).
func RunLed(ctx context.Context, db *models.DB, lockKey int64, interval, maxBackoff time.Duration, log *slog.Logger,
	name string, cycle func(ctx context.Context) error) error {
	return (&Loop{Name: name, DB: db, LockKey: lockKey, Interval: interval, MaxBackoff: maxBackoff, Log: log, Cycle: cycle}).Run(ctx)
}

// Run loops until ctx ends; the first cycle runs at once. It always returns
// nil: failures are logged and retried.
func (l *Loop) Run(ctx context.Context) error {
	interval, maxWait := l.Interval, l.MaxBackoff
	if interval <= 0 {
		interval = time.Second
	}
	if maxWait <= 0 {
		maxWait = time.Minute
	}
	maxWait = max(maxWait, interval)
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	wait := l.Wait
	if wait == nil {
		wait = Sleep
	}
	now := l.Now
	if now == nil {
		now = time.Now
	}
	var lead *models.Leadership
	defer func() {
		if lead != nil {
			lead.Release()
		}
	}()
	failures := 0
	next := time.Duration(0)
	plan := &schedule{interval: interval}
	for {
		if ctx.Err() != nil || (next > 0 && !wait(ctx, next)) {
			return nil
		}
		// The cycle's time runs from here: the leadership check is part
		// of what stands between a planned start and the write.
		began := now()
		next = interval
		if lead != nil && !lead.Alive(ctx) {
			lead.Release()
			lead = nil
		}
		if lead == nil {
			got, err := l.DB.TryLead(ctx, l.LockKey)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn(l.Name+": lock", slog.Any("error", err))
				}
				continue
			}
			if got == nil {
				continue // another process leads; check again next interval
			}
			lead = got
		}
		marks := &cycleMarks{now: now}
		cctx, cancel := context.WithValue(ctx, marksKey{}, marks), context.CancelFunc(func() {})
		if l.Timeout > 0 {
			cctx, cancel = context.WithTimeout(cctx, l.Timeout)
		}
		err := l.Cycle(cctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			next = Backoff(interval, maxWait, failures)
			log.Warn(l.Name+": cycle failed; retrying", slog.Any("error", err),
				slog.Int("failures", failures), slog.Duration("retry_in", next))
			continue
		}
		if failures > 0 {
			log.Info(l.Name+": recovered", slog.Int("after_failures", failures))
		}
		failures = 0
		queried, recorded := marks.times()
		next = plan.wait(began, now(), queried, recorded)
	}
}

// planWindow is how many recent cycles the schedule plans for: the longest
// of them, so a cycle with periodic extra work (the Kaspa watcher's history
// read, every 15 cycles) is covered.
const planWindow = 16

// schedule plans a loop's next cycle from the ones before (see
// Loop.Interval).
type schedule struct {
	interval time.Duration
	spans    [planWindow]time.Duration // start to write, of recent cycles that marked a query
	n        int
	warm     bool // a marked cycle ran: the first one (cold, see wait) is not planned for
}

// wait is how long to wait after a successful cycle that began at began
// and ended at ended; queried and recorded are its marks (zero: not
// marked; a query without a write mark counts as written at ended). The
// first marked cycle of a run is not planned for: it reads what a watcher
// keeps between cycles in full (at 100,000 open sessions, a second), once.
func (s *schedule) wait(began, ended, queried, recorded time.Time) time.Duration {
	next := began.Add(s.interval)
	if !queried.IsZero() {
		if recorded.IsZero() || recorded.After(ended) {
			recorded = ended
		}
		if s.warm {
			s.spans[s.n%planWindow] = recorded.Sub(began)
			s.n++
		}
		s.warm = true
		longest := time.Duration(0)
		for _, d := range s.spans[:min(s.n, planWindow)] {
			longest = max(longest, d)
		}
		next = queried.Add(s.interval - longest)
		if floor := began.Add(s.interval / 2); next.Before(floor) {
			next = floor
		}
	}
	return max(next.Sub(ended), s.interval/10)
}

// marksKey keys a cycle's *cycleMarks in its context.
type marksKey struct{}

// cycleMarks is what a cycle tells its Loop through MarkQueried and
// MarkRecorded, on the Loop's clock.
type cycleMarks struct {
	now               func() time.Time
	mu                sync.Mutex
	queried, recorded time.Time
}

func (m *cycleMarks) times() (queried, recorded time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.queried, m.recorded
}

// MarkQueried tells the Loop running this cycle that the cycle's chain
// query goes out now: what lands on the chain after this moment is for
// the next cycle to find. The first call in a cycle counts. Outside a
// Loop (a test or benchmark calling a watcher's Cycle) it does nothing.
func MarkQueried(ctx context.Context) {
	if m, ok := ctx.Value(marksKey{}).(*cycleMarks); ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.queried.IsZero() {
			m.queried = m.now()
		}
	}
}

// MarkRecorded tells the Loop running this cycle that what its chain query
// found is now written (committed). The last call in a cycle counts.
// Outside a Loop it does nothing.
func MarkRecorded(ctx context.Context) {
	if m, ok := ctx.Value(marksKey{}).(*cycleMarks); ok {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.recorded = m.now()
	}
}

// Backoff is the wait after the given number of consecutive failures: base
// doubled per failure after the first, at most max.
func Backoff(base, max time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Sleep waits d unless ctx ends first; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
