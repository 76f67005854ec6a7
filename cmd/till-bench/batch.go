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
// queues its row and waits for a batcher's committer. Plain inserts, no
// conditions: a failed batch fails each of its rows.
func (in *inserter) RunBatched(clients int, mode insertMode, next func() bool) Result {
	b := in.startBatcher(mode)
	defer b.stop()
	return in.run(clients, next, func(n int64) error { return b.insert(in.row(n)) })
}

// batcher commits queued rows in batches: committers (SQLite: one, the
// single writer; Postgres: batchesInFlight) take whatever is queued, up
// to maxBatch rows, and commit them together (commitBatch). RunBatched
// and the HTTP + session-row ceiling's batched route queue through it.
type batcher struct {
	queue chan batchReq
	wg    sync.WaitGroup
}

// startBatcher starts in's committers, sending in mode.
func (in *inserter) startBatcher(mode insertMode) *batcher {
	b := &batcher{queue: make(chan batchReq, maxBatch)}
	committers := 1
	if in.postgres {
		committers = batchesInFlight
	}
	for range committers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for first := range b.queue {
				batch := takeQueued(b.queue, first)
				err := in.commitBatch(context.Background(), mode, batch)
				for _, r := range batch {
					r.done <- err
				}
			}
		}()
	}
	return b
}

// insert queues row and waits until its batch is committed.
func (b *batcher) insert(row []any) error {
	r := batchReq{row: row, done: make(chan error, 1)}
	b.queue <- r
	return <-r.done
}

// stop lets the committers finish what is queued and end; no insert may
// follow.
func (b *batcher) stop() {
	close(b.queue)
	b.wg.Wait()
}

// maxBatch and batchesInFlight are Till's bounds on a batch of session
// inserts and on Postgres batches in flight at once (maxCommitBatch,
// pgBatchesInFlight in models).
const (
	maxBatch        = 64
	batchesInFlight = 2
)

// batchReq is one queued row's values and where its outcome goes.
type batchReq struct {
	row  []any
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
				if err := in.exec(ctx, tx, mode, r.row); err != nil {
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
			b.Queue(in.insert, r.row...)
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
