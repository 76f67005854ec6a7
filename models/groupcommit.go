package models

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// groupCommit batches session inserts: concurrent inserts queue up, and a
// committer goroutine runs each queued batch in one transaction. On SQLite
// that is one WAL commit instead of one per insert on the single writer (the
// profile put the commit at about a third of the writer's time per session);
// on Postgres one round trip for the whole batch (pgbatch.go). Every insert
// stays its own conditional statement, so the money rules stay in the
// statement that writes: on SQLite a unique clash or a NOT EXISTS that finds
// a row fails that statement only (SQLite rolls back the statement, not the
// transaction); on Postgres, where an error aborts the transaction, the
// statement does nothing on a clash (ON CONFLICT DO NOTHING). Either way the
// caller learns "not inserted" and retries with a new offset or index.
//
// On SQLite a kpub index reservation (kpubreserve.go) queues here too and
// runs in the next transaction beside the inserts queued: a kpub session
// then costs the single writer no commit of its own for its index.
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
	// alone: while at most this many inserts are in flight, each runs as
	// its own statement (Postgres: batching only pays under contention).
	alone    int32
	inflight atomic.Int32

	mu      sync.Mutex
	queue   []*commitReq
	running int
	idle    chan struct{} // closed when the last running committer ends

	// onEnqueue, when set (tests), is called after each insert is queued;
	// beforeBatch before each batch is taken from the queue. Both are
	// read and set under mu.
	onEnqueue   func()
	beforeBatch func()
	// derived, when set (SQLite), is told of each queued insert of a kpub
	// session (its merchant and index), under mu; a reservation it
	// returns is queued right behind that insert (Store.derivedQueued).
	derived func(merchantID string, index int64) *commitReq
	// onCommit, when set (tests), is called after each SQLite transaction
	// commits with how many inserts and reservations ran in it.
	onCommit func(inserts, reservations int)
}

// The positions in insertArgs of a kpub session's merchant and index.
var (
	argMerchant   = slices.Index(paymentColumns, "merchant_id")
	argDerivation = slices.Index(paymentColumns, "derivation_index")
)

// maxCommitBatch bounds one transaction: enough to absorb any realistic
// number of concurrent creators, small enough to keep the writer's other
// users (watchers, expiry) waiting briefly.
const maxCommitBatch = 64

// commitReq is one queued insert, or reservation, and where its outcome
// goes.
type commitReq struct {
	ctx  context.Context
	sql  string
	args []any
	// batch, when set, makes this a kpub index reservation rather than an
	// insert (SQLite only): its callers are taken and its counter moved
	// in the transaction, and batch holds what the UPDATE returned.
	batch *indexBatch
	done  chan commitResult // buffered: the committer never waits on a caller
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
		g.commit, g.limit, g.alone = g.commitPostgres, pgBatchesInFlight, pgAloneUpTo
		g.pool, _ = db.write.DB()
	}
	return g
}

// exec runs the conditional insert sql in the next batch and reports
// whether it inserted a row, or the statement's own error.
func (g *groupCommit) exec(ctx context.Context, sql string, args []any) (bool, error) {
	if g.alone > 0 {
		defer g.inflight.Add(-1)
		if g.inflight.Add(1) <= g.alone {
			res := g.db.W(ctx).Exec(sql, args...)
			return res.RowsAffected == 1, res.Error
		}
	}
	r := &commitReq{ctx: ctx, sql: sql, args: args, done: make(chan commitResult, 1)}
	g.enqueue(r)
	select {
	case res := <-r.done:
		return res.inserted, res.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// reserve runs the kpub index reservation b in the next SQLite transaction
// and returns once that transaction has committed (or b has run alone after
// it failed): only then are b's indexes the merchant's for good. It waits
// whatever the callers' contexts: b serves every caller it takes.
func (g *groupCommit) reserve(b *indexBatch) error {
	r := reserveReq(b)
	g.enqueue(r)
	return (<-r.done).err
}

// reserveReq is the queue's request for the reservation b.
func reserveReq(b *indexBatch) *commitReq {
	return &commitReq{ctx: context.Background(), sql: reserveIndexSQL, batch: b, done: make(chan commitResult, 1)}
}

// enqueue queues r and starts a committer if fewer than limit run.
func (g *groupCommit) enqueue(r *commitReq) {
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.derived != nil && r.batch == nil && len(r.args) > argDerivation {
		i, ok := r.args[argDerivation].(*int64)
		merchantID, isID := r.args[argMerchant].(string)
		if ok && i != nil && isID {
			if follow := g.derived(merchantID, *i); follow != nil {
				g.queue = append(g.queue, follow)
			}
		}
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
		beforeBatch := g.beforeBatch
		g.mu.Unlock()
		if beforeBatch != nil {
			beforeBatch()
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

// commitSQLite runs batch in one transaction: inserts and reservations in
// the order they queued. Statements run without their
// callers' contexts (an interrupted statement would roll back the whole
// transaction on SQLite); a caller gone before its turn is skipped. Should
// the transaction itself fail (an I/O error, say), each insert is run again
// on its own, so one failure never takes the others with it.
//
// Each insert runs as a statement prepared once on the write connection
// (DB.execPrepared): the inserts are long and all alike, and parsing them
// again each time was a fifth or more of the writer's CPU. So does each
// reservation: its outcome reaches its waiter only after the commit, and a
// reservation whose transaction failed runs again alone (a rolled-back
// index is never handed out).
func (g *groupCommit) commitSQLite(batch []*commitReq) {
	results := make([]commitResult, len(batch))
	// Prepared before the transaction: preparing takes the pool's one
	// connection, which the transaction holds.
	stmts := make([]*sql.Stmt, len(batch))
	for i, r := range batch {
		var err error
		if stmts[i], err = g.db.stmts.get(context.Background(), r.sql); err != nil { //nolint:sqlclosecheck // writeStmts owns it
			results[i].err = err
		}
	}
	err := g.db.Tx(context.Background(), func(tx *gorm.DB) error {
		for i, r := range batch {
			if stmts[i] == nil {
				continue
			}
			if err := r.ctx.Err(); err != nil {
				results[i].err = err
				continue
			}
			if r.batch != nil {
				err := g.db.runIndexBatch(tx, stmts[i], r.batch)
				results[i].err = err
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return err // the transaction may be gone; retry one by one
				}
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
		g.eachAlone(batch, results)
	} else {
		g.mu.Lock()
		onCommit := g.onCommit
		g.mu.Unlock()
		if onCommit != nil {
			reservations := 0
			for _, r := range batch {
				if r.batch != nil {
					reservations++
				}
			}
			onCommit(len(batch)-reservations, reservations)
		}
	}
	g.reply(batch, results)
}

// eachAlone runs every insert of a failed batch again as its own statement
// (skipping callers gone by now).
func (g *groupCommit) eachAlone(batch []*commitReq, results []commitResult) {
	for i, r := range batch {
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

// execAlone runs r as its own statement: on SQLite the prepared one.
func (g *groupCommit) execAlone(r *commitReq) commitResult {
	if r.batch != nil {
		return commitResult{err: g.db.reserveAlone(r.batch)}
	}
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
