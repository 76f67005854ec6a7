package workers

import (
	"context"
	"log/slog"
	"time"

	"till/models"
)

// Expirer marks pending payment sessions past their deadline as expired
// (and so emits payment.expired), and forgets idempotency keys past their
// 24 hours. It runs everywhere, but only the process holding the expirer
// lock does the work.
type Expirer struct {
	Store    *models.Store
	Interval time.Duration
	Log      *slog.Logger
}

// Name identifies the worker in logs.
func (e *Expirer) Name() string { return "expirer" }

// Run expires due sessions every Interval until ctx ends, under the
// expirer's leadership lock (Loop).
func (e *Expirer) Run(ctx context.Context) error {
	log := e.Log
	if log == nil {
		log = slog.Default()
	}
	return RunLed(ctx, e.Store.DB(), models.LockExpirer, e.Interval, time.Minute, log, "expirer", func(ctx context.Context) error {
		for {
			n, err := e.Store.ExpireDue(ctx, 500)
			if err != nil {
				return err
			}
			if n > 0 {
				log.Info("payments expired", slog.Int("count", n))
			}
			if n < 500 {
				// One bounded batch a cycle keeps far ahead of any
				// realistic rate of keyed requests.
				_, err := e.Store.PruneIdempotencyKeys(ctx, 500)
				return err
			}
		}
	})
}
