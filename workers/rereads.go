package workers

import (
	"context"
	"math"
	"time"

	"till/models"
)

// Rereads moves a chain watcher's periodic full read of its
// models.OpenIndex (the safety net for what the changed-rows read cannot
// see: deleted rows, a lagging clock elsewhere) from the start of a cycle,
// before its chain query, to after its write. At 100,000 open sessions a
// full read takes 0.5–1.2 s on SQLite (docs/BENCHMARKS.md); before the
// query, the cycle that did it recorded that much later than Loop.Interval
// promises. The index's own periodic full read is switched off; its first
// read, and the one after a failed read, stay full (the index decides
// those).
type Rereads struct {
	idx   *models.OpenIndex
	every time.Duration
	last  time.Time
}

// NewRereads takes idx's periodic full read over, at idx's own period
// (FullEvery); now is about when the index is first read.
func NewRereads(idx *models.OpenIndex, now time.Time) *Rereads {
	r := &Rereads{idx: idx, every: idx.FullEvery, last: now}
	idx.FullEvery = math.MaxInt64
	return r
}

// AfterWrite reads the index in full when the period has passed since the
// last full read, on the store's clock. A watcher calls it after its
// cycle's write (MarkRecorded); the next cycle's read is then the changed
// rows only.
func (r *Rereads) AfterWrite(ctx context.Context, store *models.Store) error {
	now := store.Now()
	if now.Sub(r.last) < r.every && !now.Before(r.last) {
		return nil
	}
	r.last = now
	r.idx.FullEvery = 0
	defer func() { r.idx.FullEvery = math.MaxInt64 }()
	return store.Refresh(ctx, r.idx)
}
