package workers

import (
	"context"
	"log/slog"
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
	// Interval is the time from the start of one cycle to the start of the
	// next (default 1s): the wait after a cycle is Interval less the
	// cycle's own time (at least a tenth of Interval), so a slow cycle
	// (many open sessions) does not push detection past one interval.
	// MaxBackoff caps the wait after failures (default: one minute, at
	// least Interval).
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
	for {
		if ctx.Err() != nil || (next > 0 && !wait(ctx, next)) {
			return nil
		}
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
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if l.Timeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, l.Timeout)
		}
		began := now()
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
		next = max(interval-now().Sub(began), interval/10)
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
