package workers

import (
	"context"
	"log/slog"
	"time"

	"till/models"
)

// Retention prunes the webhook outbox (events, deliveries, attempts) older
// than Keep (TILL_RETENTION) with Store.Prune, batch after batch until a
// batch finds nothing more, every Interval. Like the expirer it runs
// everywhere, but only the process holding the retention lock prunes.
type Retention struct {
	Store *models.Store
	// Keep is how long outbox rows are kept; 0 disables pruning (Run
	// only waits for ctx; serve does not start the worker then).
	Keep time.Duration
	// Interval is the wait between cycles (default 5 minutes); Batch the
	// rows per Prune call (default models.DefaultPruneBatch).
	Interval time.Duration
	Batch    int
	Log      *slog.Logger
	// Wait replaces the timer between cycles (tests; see Loop.Wait).
	Wait func(ctx context.Context, d time.Duration) bool
}

// Name identifies the worker in logs.
func (r *Retention) Name() string { return "retention" }

// Run prunes every Interval until ctx ends, under the retention lock.
func (r *Retention) Run(ctx context.Context) error {
	if r.Keep <= 0 {
		<-ctx.Done()
		return nil
	}
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	interval := r.Interval
	if interval <= 0 {
		interval = 5 * time.Minute
	}
	loop := &Loop{Name: "retention", DB: r.Store.DB(), LockKey: models.LockRetention, Interval: interval,
		MaxBackoff: 30 * time.Minute, Log: log, Wait: r.Wait, Cycle: func(ctx context.Context) error {
			started := time.Now()
			total, err := r.Cycle(ctx)
			if total.Rows() > 0 {
				log.Info("retention: pruned", slog.Int64("events", total.Events), slog.Int64("deliveries", total.Deliveries),
					slog.Int64("attempts", total.Attempts), slog.Int64("attempt_bodies", total.AttemptsBlanked),
					slog.Duration("keep", r.Keep), slog.Duration("took", time.Since(started)))
			}
			return err
		}}
	return loop.Run(ctx)
}

// Cycle prunes everything older than Keep, one Prune batch after another,
// and returns the totals (with what was done before an error).
func (r *Retention) Cycle(ctx context.Context) (models.PruneResult, error) {
	before := r.Store.Now().Add(-r.Keep)
	var total models.PruneResult
	for {
		started := time.Now()
		res, err := r.Store.Prune(ctx, before, r.Batch)
		total = total.Add(res)
		if err != nil || !res.More {
			return total, err
		}
		// Rest as long as the batch took (at most a second): on SQLite a
		// batch holds the single writer, and requests that write (new
		// sessions, webhook claims) get at least half of its time.
		if !Sleep(ctx, min(time.Since(started), time.Second)) {
			return total, ctx.Err()
		}
	}
}
