package models

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// groupCommit batches session inserts: concurrent inserts queue up, and a
// committer goroutine runs each queued batch in one transaction. On SQLite
// that is one WAL commit instead of one per insert on the single writer (the
// profile put the commit at about a third of the writer's time per session);
// on Postgres one round trip for the whole batch (pgbatch.go). The money
// rules stay in the statement that writes, checked for each row: on SQLite
// every insert is its own conditional statement, and a unique clash or a
// NOT EXISTS that finds a row fails that statement only (SQLite rolls back
// the statement, not the transaction); on Postgres, where an error aborts
// the transaction, a batch's unique-amount inserts go in as one multi-row
// statement with the same per-row condition (pgRows), its kpub inserts on
// distinct addresses as another, and a clash on an amount leaves the row
// out (ON CONFLICT DO NOTHING). Either way the caller learns "not inserted" and retries with
// a new offset or index.
//
// On SQLite a kpub session's insert queues here before it has its index:
// the committer reserves the indexes of the batch's kpub sessions in the
// same transaction, derives their addresses and runs their inserts
// (kpubreserve.go), so a kpub session costs the single writer one turn.
//
// Committers start with queued inserts, at most limit at once, and end as
// soon as the queue is empty, so an idle Store holds none. A caller whose
// context ends while queued returns at once; its insert is skipped if it has
// not run yet.
type groupCommit struct {
	db *DB
	// commit runs one batch and sends each caller its outcome: the
	// engine's (commitSQLite, commitPostgres).
	commit func(batch []*commitReq)
	// limit is how many batches may be in flight at once.
	limit int
	// pool is the Postgres write pool the batches take connections from.
	pool *sql.DB
	// multiRowInserts counts the inserts written through a multi-row
	// statement (Postgres: pgbatch.go), for tests.
	multiRowInserts atomic.Int64

	mu      sync.Mutex
	queue   []*commitReq
	running int
	idle    chan struct{} // closed when the last running committer ends

	// onEnqueue, when set (tests), is called after each insert is queued;
	// beforeBatch before each batch is taken from the queue. Both are
	// read and set under mu.
	onEnqueue   func()
	beforeBatch func()
	// derive gives the address of a kpub at an index (SQLite's kpub
	// sessions: Store.addressAt).
	derive func(kpub string, index int64) (string, error)
	// beforeReserve, when set (tests), is called with each merchant whose
	// kpub sessions the next batch will hold, before it is taken;
	// reserveLimit, when positive (benchmarks), bounds one UPDATE's
	// indexes. Both read under mu.
	beforeReserve func(merchantID string)
	reserveLimit  int
	// kpubNext is, per merchant, the index (and kpub) its next queued
	// kpub session is likely to get: the counter after the last UPDATE
	// plus the sessions queued since. Under mu. writerDerives counts the
	// addresses the committer derived itself (no usable guess).
	kpubNext      map[string]kpubGuess
	writerDerives atomic.Int64
	// onCommit, when set (tests), is called after each SQLite transaction
	// commits with how many inserts and kpub index UPDATEs ran in it.
	onCommit func(inserts, reservations int)
}

// maxCommitBatch bounds one transaction: enough to absorb any realistic
// number of concurrent creators, small enough to keep the writer's other
// users (watchers, expiry) waiting briefly.
const maxCommitBatch = 64

// commitReq is one queued insert and where its outcome goes.
type commitReq struct {
	ctx  context.Context
	sql  string
	args []any
	// kpub, when set, makes this a kpub session's insert still without
	// its index and address (SQLite only): the committer reserves and
	// derives them in the transaction.
	kpub *kpubInsert
	done chan commitResult // buffered: the committer never waits on a caller
}

type commitResult struct {
	inserted bool
	err      error
}

func newGroupCommit(db *DB) *groupCommit {
	idle := make(chan struct{})
	close(idle)
	g := &groupCommit{db: db, idle: idle, limit: 1}
	g.commit = g.commitSQLite
	if db.Dialect == Postgres {
		g.commit, g.limit = g.commitPostgres, pgBatchesInFlight
		g.pool, _ = db.write.DB()
	}
	return g
}

// exec runs the conditional insert sql in the next batch and reports
// whether it inserted a row, or the statement's own error.
func (g *groupCommit) exec(ctx context.Context, sql string, args []any) (bool, error) {
	r := &commitReq{ctx: ctx, sql: sql, args: args, done: make(chan commitResult, 1)}
	g.enqueue(r)
	select {
	case res := <-r.done:
		return res.inserted, res.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// enqueue queues r and starts a committer if fewer than limit run.
func (g *groupCommit) enqueue(r *commitReq) {
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if r.kpub != nil {
		g.guessIndex(r.kpub)
	}
	if g.running < g.limit {
		if g.running == 0 {
			g.idle = make(chan struct{})
		}
		g.running++
		go g.run(g.idle)
	}
	onEnqueue := g.onEnqueue
	g.mu.Unlock()
	if onEnqueue != nil {
		onEnqueue()
	}
}

// run commits batches until the queue is empty.
func (g *groupCommit) run(idle chan struct{}) {
	for {
		g.mu.Lock()
		beforeBatch, beforeReserve := g.beforeBatch, g.beforeReserve
		g.mu.Unlock()
		if beforeBatch != nil {
			beforeBatch()
		}
		if beforeReserve != nil {
			for _, merchantID := range g.kpubMerchants() {
				beforeReserve(merchantID)
			}
		}
		g.mu.Lock()
		n := min(len(g.queue), maxCommitBatch)
		if n == 0 {
			g.running--
			if g.running == 0 {
				close(idle)
			}
			g.mu.Unlock()
			return
		}
		batch := make([]*commitReq, n)
		copy(batch, g.queue)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		g.mu.Unlock()
		g.commit(batch)
	}
}

// kpubMerchants are the merchants whose kpub sessions the next batch
// holds (for the beforeReserve hook).
func (g *groupCommit) kpubMerchants() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ids []string
	for _, r := range g.queue[:min(len(g.queue), maxCommitBatch)] {
		if r.kpub != nil && !slices.Contains(ids, r.kpub.merchantID) {
			ids = append(ids, r.kpub.merchantID)
		}
	}
	return ids
}

// commitSQLite runs batch in one transaction: first the index
// reservations of its kpub sessions (reserveKpubs), then the inserts in
// the order they queued. Statements run without their callers' contexts
// (an interrupted statement would roll back the whole transaction on
// SQLite); a caller gone before its turn is skipped, except a kpub session
// whose index is reserved (no gap). Should the transaction itself fail (an
// I/O error, say), each insert is run again on its own, so one failure
// never takes the others with it, and a kpub session's index from the
// rolled-back transaction is never used.
//
// Each statement runs prepared once on the write connection
// (DB.execPrepared): the inserts are long and all alike, and parsing them
// again each time was a fifth or more of the writer's CPU.
func (g *groupCommit) commitSQLite(batch []*commitReq) {
	results := make([]commitResult, len(batch))
	// Prepared before the transaction: preparing takes the pool's one
	// connection, which the transaction holds.
	stmts := make([]*sql.Stmt, len(batch))
	var reserve *sql.Stmt
	var reserveErr error
	for i, r := range batch {
		var err error
		if stmts[i], err = g.db.stmts.get(context.Background(), r.sql); err != nil { //nolint:sqlclosecheck // writeStmts owns it
			results[i].err = err
		}
		if r.kpub != nil && reserve == nil && reserveErr == nil {
			reserve, reserveErr = g.db.stmts.get(context.Background(), reserveIndexSQL) //nolint:sqlclosecheck // writeStmts owns it
		}
	}
	updates := 0
	err := g.db.Tx(context.Background(), func(tx *gorm.DB) error {
		if reserve != nil {
			var err error
			if updates, err = g.reserveKpubs(tx, reserve, batch); err != nil {
				return err // the transaction may be gone; retry one by one
			}
		}
		for i, r := range batch {
			switch {
			case stmts[i] == nil:
				continue
			case r.kpub != nil && reserveErr != nil:
				results[i].err = reserveErr
				continue
			case r.kpub != nil && r.kpub.err != nil:
				continue // told through kpub.err (an index without a key: the next one)
			case r.kpub != nil && !r.kpub.reserved:
				results[i].err = r.ctx.Err() // gone before the reservation: none taken
				continue
			case r.kpub == nil && r.ctx.Err() != nil:
				results[i].err = r.ctx.Err()
				continue
			}
			n, err := g.db.execPrepared(context.Background(), tx, stmts[i], r.sql, r.args)
			results[i] = commitResult{inserted: n == 1, err: err}
			if err != nil && !isUniqueViolation(err) {
				return err // the transaction may be gone; retry one by one
			}
		}
		return nil
	})
	if err != nil {
		g.mu.Lock()
		g.kpubNext = nil // the counters rolled back: guess again after the next UPDATE
		g.mu.Unlock()
		g.eachAlone(batch, results)
	} else {
		g.mu.Lock()
		onCommit := g.onCommit
		g.mu.Unlock()
		if onCommit != nil {
			onCommit(len(batch), updates)
		}
	}
	g.reply(batch, results)
}

// eachAlone runs every insert of a failed batch again as its own statement
// (skipping callers gone by now).
func (g *groupCommit) eachAlone(batch []*commitReq, results []commitResult) {
	for i, r := range batch {
		if r.kpub != nil {
			r.kpub.reset() // nothing of the failed transaction
		}
		results[i] = commitResult{err: r.ctx.Err()}
		if results[i].err == nil {
			results[i] = g.execAlone(r)
		}
	}
}

// reply sends each caller its result.
func (g *groupCommit) reply(batch []*commitReq, results []commitResult) {
	for i, r := range batch {
		r.done <- results[i]
	}
}

// execAlone runs r as its own statement: on SQLite the prepared one, a
// kpub session's after its own reservation (kpubAlone).
func (g *groupCommit) execAlone(r *commitReq) commitResult {
	if r.kpub != nil {
		return g.kpubAlone(r)
	}
	return g.execStmtAlone(r)
}

// execStmtAlone runs r's statement on its own.
func (g *groupCommit) execStmtAlone(r *commitReq) commitResult {
	if g.db.stmts == nil {
		res := g.db.W(r.ctx).Exec(r.sql, r.args...)
		return commitResult{inserted: res.RowsAffected == 1, err: res.Error}
	}
	st, err := g.db.stmts.get(r.ctx, r.sql) //nolint:sqlclosecheck // writeStmts owns it
	if err != nil {
		return commitResult{err: err}
	}
	n, err := g.db.execPrepared(r.ctx, nil, st, r.sql, r.args)
	return commitResult{inserted: n == 1, err: err}
}
