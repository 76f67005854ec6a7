package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// RunBatched is Run with the rows committed in batches, as Till's writer
// commits new sessions (models/groupcommit.go, pgbatch.go): each client
// queues its row and waits; committers (SQLite: one, the single writer;
// Postgres: batchesInFlight) take whatever is queued, up to maxBatch
// rows, and commit them together (SQLite: one transaction; Postgres: one
// pgx batch, one round trip). Plain inserts, no conditions: a failed
// batch fails each of its rows.
func (in *inserter) RunBatched(clients int, mode insertMode, next func() bool) Result {
	queue := make(chan batchReq, maxBatch)
	committers := 1
	if in.postgres {
		committers = batchesInFlight
	}
	var wg sync.WaitGroup
	for range committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range queue {
				batch := takeQueued(queue, first)
				err := in.commitBatch(context.Background(), mode, batch)
				for _, r := range batch {
					r.done <- err
				}
			}
		}()
	}
	defer func() {
		close(queue)
		wg.Wait()
	}()
	return in.run(clients, next, func(n int64) error {
		r := batchReq{n: n, done: make(chan error, 1)}
		queue <- r
		return <-r.done
	})
}

// maxBatch and batchesInFlight are Till's bounds on a batch of session
// inserts and on Postgres batches in flight at once (maxCommitBatch,
// pgBatchesInFlight in models).
const (
	maxBatch        = 64
	batchesInFlight = 8
)

// batchReq is one queued row and where its outcome goes.
type batchReq struct {
	n    int64
	done chan error // buffered: the committer never waits on a client
}

// takeQueued is first and whatever else is queued, up to maxBatch rows.
func takeQueued(queue <-chan batchReq, first batchReq) []batchReq {
	batch := []batchReq{first}
	for len(batch) < maxBatch {
		select {
		case r, ok := <-queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commitBatch writes the batch's rows together: on SQLite in one
// transaction, on Postgres as one pgx batch (an implicit transaction, one
// round trip) on a connection of mode's pool.
func (in *inserter) commitBatch(ctx context.Context, mode insertMode, batch []batchReq) error {
	if !in.postgres {
		return in.inTx(ctx, mode, func(tx *sql.Tx) error {
			for _, r := range batch {
				if err := in.exec(ctx, tx, mode, r.n); err != nil {
					return err
				}
			}
			return nil
		})
	}
	conn, err := in.pool(mode).Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("batch: driver connection %T is not pgx's", dc)
		}
		var b pgx.Batch
		for _, r := range batch {
			b.Queue(in.insert, in.row(r.n)...)
		}
		br := sc.Conn().SendBatch(ctx, &b)
		for range batch {
			tag, err := br.Exec()
			if err == nil && tag.RowsAffected() != 1 {
				err = fmt.Errorf("batch: %d rows inserted, want 1", tag.RowsAffected())
			}
			if err != nil {
				return errors.Join(err, br.Close())
			}
		}
		return br.Close()
	})
}
