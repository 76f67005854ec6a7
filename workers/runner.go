// Package workers runs everything that happens in the background: the chain
// watchers, the expirer, the price feed and the webhook dispatcher. Each
// worker is a loop that stops when its context is cancelled; Runner starts
// them together and waits for all of them on shutdown.
package workers

import (
	"context"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Worker is one background loop. Run returns when ctx is cancelled.
type Worker interface {
	Name() string
	Run(ctx context.Context) error
}

// Runner starts workers and stops them in an orderly way.
type Runner struct {
	log     *slog.Logger
	workers []Worker
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewRunner builds a Runner for the given workers.
func NewRunner(log *slog.Logger, ws ...Worker) *Runner {
	return &Runner{log: log, workers: ws}
}

// Start launches every worker in its own goroutine. A worker that returns an
// error or panics is logged and restarted after a pause, so one bad cycle
// never stops payments from being watched.
func (r *Runner) Start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	r.cancel = cancel
	for _, w := range r.workers {
		r.wg.Add(1)
		go func(w Worker) {
			defer r.wg.Done()
			for ctx.Err() == nil {
				err := runSafely(ctx, w)
				if ctx.Err() != nil {
					return
				}
				r.log.Error("worker stopped; restarting", slog.String("worker", w.Name()), slog.Any("error", err))
				select {
				case <-ctx.Done():
					return
				case <-time.After(5 * time.Second):
				}
			}
		}(w)
	}
}

func runSafely(ctx context.Context, w Worker) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: string(debug.Stack())}
		}
	}()
	return w.Run(ctx)
}

type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return "panic: " + slogValue(p.value) + "\n" + p.stack }

func slogValue(v any) string { return slog.AnyValue(v).String() }

// Stop cancels every worker and waits for them, at most until ctx ends.
func (r *Runner) Stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
