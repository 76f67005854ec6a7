package workers

import (
	"context"
	"log/slog"
	"time"

	"till/models"
)

// Expirer marks pending payment sessions past their deadline as expired
// (and so emits payment.expired). It runs everywhere, but only the process
// holding the expirer lock does the work.
type Expirer struct {
	Store    *models.Store
	Interval time.Duration
	Log      *slog.Logger
}

// Name identifies the worker in logs.
func (e *Expirer) Name() string { return "expirer" }

// Run expires due sessions every Interval until ctx ends.
func (e *Expirer) Run(ctx context.Context) error {
	if e.Interval <= 0 {
		e.Interval = time.Second
	}
	if e.Log == nil {
		e.Log = slog.Default()
	}
	var lead *models.Leadership
	defer func() {
		if lead != nil {
			lead.Release()
		}
	}()
	t := time.NewTicker(e.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if lead != nil && !lead.Alive(ctx) {
			lead.Release()
			lead = nil
		}
		if lead == nil {
			l, err := e.Store.DB().TryLead(ctx, models.LockExpirer)
			if err != nil || l == nil {
				continue
			}
			lead = l
		}
		for {
			n, err := e.Store.ExpireDue(ctx, 500)
			if err != nil {
				if ctx.Err() == nil {
					e.Log.Warn("expirer", slog.Any("error", err))
				}
				break
			}
			if n > 0 {
				e.Log.Info("payments expired", slog.Int("count", n))
			}
			if n < 500 {
				break
			}
		}
	}
}
