package models

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"

	"gorm.io/gorm"
)

// indexReserver hands out kpub derivation indexes to concurrent sessions of
// one merchant together. Each kpub session used to move the merchant's
// counter on by one in its own UPDATE: one more round trip per session,
// serialised on the merchant's row lock (and on SQLite the single writer,
// outside the group commit). Now callers queue per merchant, and one
// UPDATE … + n … RETURNING hands n consecutive indexes to the n callers
// queued when it holds the write connection (on SQLite: when the group
// commit's transaction it rides in reaches it). The first caller of an idle
// merchant runs the UPDATE itself, or on SQLite queues it for the writer's
// next transaction (a lone caller waits for nobody: no timers); callers that
// queued meanwhile are served by the next UPDATE, run by a goroutine that
// ends when the queue is empty. n never exceeds the callers waiting, so the
// gaps stay as bounded as before: an index is lost only to a caller that
// gives up after its batch was taken (as an unpaid session leaves one).
type indexReserver struct {
	mu sync.Mutex
	// queues holds the callers waiting per merchant id; a merchant is in
	// the map while a reservation for it is running.
	queues map[string][]*indexReq
	// beforeUpdate, when set (tests), runs before each reservation takes
	// the write connection and its batch. Read under mu.
	beforeUpdate func(merchantID string)
	// limit, when positive (benchmarks), bounds a reservation below
	// maxIndexBatch: 1 is one UPDATE per session, as before. Read under mu.
	limit int
}

// maxIndexBatch bounds one reservation, as maxCommitBatch bounds a commit.
const maxIndexBatch = 64

// indexReq is one caller waiting for an index, and where it goes.
type indexReq struct {
	ctx  context.Context
	done chan indexGrant // buffered: the reserver never waits on a caller
}

// indexGrant is a reserved index and the kpub it belongs to: the key in the
// merchant's row when the counter moved, so that a kpub change racing a
// session can never pair the new wallet's counter with the old wallet's key.
type indexGrant struct {
	index int64
	kpub  string
	err   error
}

// reserveIndex reserves the merchant's next derivation index and returns it
// with the kpub it belongs to.
func (s *Store) reserveIndex(ctx context.Context, merchantID string) (int64, string, error) {
	r := &indexReq{ctx: ctx, done: make(chan indexGrant, 1)}
	res := &s.indexes
	res.mu.Lock()
	if res.queues == nil {
		res.queues = map[string][]*indexReq{}
	}
	queue, busy := res.queues[merchantID]
	res.queues[merchantID] = append(queue, r)
	res.mu.Unlock()
	if !busy && s.reserveBatch(merchantID) {
		go func() {
			for s.reserveBatch(merchantID) {
			}
		}()
	}
	select {
	case g := <-r.done:
		return g.index, g.kpub, g.err
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

// reserveBatch serves the merchant's queued callers with one UPDATE and
// tells whether more have queued since (else the merchant leaves the map).
// The batch is taken once the write connection is held, so on SQLite every
// caller that queued while the single writer was busy (a group commit, say)
// shares the UPDATE. On SQLite the UPDATE runs in the group commit's next
// transaction, beside the inserts queued (of the callers served by the
// previous reservation, typically), and its indexes are handed out once
// that transaction has committed. The UPDATE runs without the callers'
// contexts: one caller giving up must not fail the others' reservation;
// its index is then a gap.
func (s *Store) reserveBatch(merchantID string) (more bool) {
	res := &s.indexes
	res.mu.Lock()
	before := res.beforeUpdate
	res.mu.Unlock()
	if before != nil {
		before(merchantID)
	}
	b := &indexBatch{merchantID: merchantID, take: func() []*indexReq { return s.takeIndexBatch(merchantID) }}
	var err error
	if s.db.stmts != nil {
		err = s.commits.reserve(b)
	} else {
		err = s.db.W(context.Background()).Connection(func(tx *gorm.DB) error {
			b.taken, b.live = true, b.take()
			if len(b.live) == 0 {
				return nil
			}
			return tx.Raw(reserveIndexSQL, len(b.live), merchantID).Row().Scan(&b.next, &b.kpub)
		})
	}
	if err != nil {
		if !b.taken { // no connection: the batch was never taken
			b.live = b.take()
		}
		err = fmt.Errorf("models: next index: %w", err)
	}
	for i, r := range b.live {
		r.done <- indexGrant{index: b.next - int64(len(b.live)-i), kpub: b.kpub, err: err}
	}

	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.queues[merchantID]) == 0 {
		delete(res.queues, merchantID)
		return false
	}
	return true
}

// indexBatch is one reservation: the callers it serves, taken when it runs,
// and what its UPDATE returned (the counter after it, the kpub).
type indexBatch struct {
	merchantID string
	take       func() []*indexReq
	taken      bool
	live       []*indexReq
	next       int64
	kpub       string
}

// runIndexBatch takes b's callers and moves the merchant's counter on by
// their number with the prepared st, inside the SQLite transaction tx. Run
// again after tx failed, it keeps the callers taken (those still waiting).
func (db *DB) runIndexBatch(tx *gorm.DB, st *sql.Stmt, b *indexBatch) error {
	if !b.taken {
		b.taken, b.live = true, b.take()
	} else {
		b.live = slices.DeleteFunc(b.live, func(r *indexReq) bool { return r.ctx.Err() != nil })
	}
	b.next, b.kpub = 0, ""
	if len(b.live) == 0 {
		return nil
	}
	return db.queryRowPrepared(context.Background(), tx, st, reserveIndexSQL, []any{len(b.live), b.merchantID}, &b.next, &b.kpub)
}

// reserveAlone runs b on its own: after the transaction it rode in failed.
func (db *DB) reserveAlone(b *indexBatch) error {
	st, err := db.stmts.get(context.Background(), reserveIndexSQL) //nolint:sqlclosecheck // writeStmts owns it
	if err != nil {
		return err
	}
	return db.runIndexBatch(nil, st, b)
}

// takeIndexBatch takes the merchant's queued callers (at most the batch
// bound) and returns those still waiting: a caller gone reserves nothing.
func (s *Store) takeIndexBatch(merchantID string) []*indexReq {
	res := &s.indexes
	res.mu.Lock()
	queue := res.queues[merchantID]
	n := min(len(queue), maxIndexBatch)
	if res.limit > 0 {
		n = min(n, res.limit)
	}
	res.queues[merchantID] = queue[n:]
	res.mu.Unlock()
	live := make([]*indexReq, 0, n)
	for _, r := range queue[:n] {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	return live
}

// reserveIndexSQL moves the counter on by its first bind variable; its text
// is merchantIndexSQL's, so the change tracker counts it as a write to the
// counter alone.
var reserveIndexSQL = merchantIndexSQL[0] + "?" + merchantIndexSQL[1] + "?" + merchantIndexSQL[2]
