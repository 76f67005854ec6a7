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
//
// On SQLite the next reservation of a merchant also waits for the callers
// of the previous one to queue their inserts (or to give up on the index:
// settleIndex), and is then queued right behind the last of those inserts:
// reservation and inserts share one writer transaction. Queued at once, it
// ran alone while those callers derived their addresses (97 % of the
// transactions it rode in held nothing else, docs/BENCHMARKS.md). The wait
// is for work already under way (a derivation), never for a timer.
type indexReserver struct {
	mu sync.Mutex
	// queues holds the callers waiting per merchant id; a merchant is in
	// the map while a reservation for it is running.
	queues map[string][]*indexReq
	// deriving holds, per merchant (SQLite), the indexes handed out whose
	// insert is not yet queued; parked the merchants whose callers wait
	// for their next reservation until deriving empties.
	deriving map[string]map[int64]*indexReq
	parked   map[string]bool
	// beforeUpdate, when set (tests), runs before each reservation takes
	// the write connection and its batch (under the group commit's lock
	// when the reservation follows an insert: it must not block then).
	// Read under mu.
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
	// granted: the index handed out and now deriving (SQLite); gone: the
	// caller returned before its grant. Both under indexReserver.mu.
	granted bool
	index   int64
	gone    bool
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
	if !busy && len(res.deriving[merchantID]) > 0 {
		// The last reservation's callers are deriving: follow their inserts.
		res.parked[merchantID], busy = true, true
	}
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
		res.mu.Lock()
		r.gone = true
		granted, index := r.granted, r.index
		res.mu.Unlock()
		if granted {
			s.settleIndex(merchantID, index)
		}
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
	b := s.newIndexBatch(merchantID)
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
	return s.grantIndexes(b, err)
}

func (s *Store) newIndexBatch(merchantID string) *indexBatch {
	return &indexBatch{merchantID: merchantID, take: func() []*indexReq { return s.takeIndexBatch(merchantID) }}
}

// grantIndexes hands b's indexes (or err) to its callers and tells whether
// the merchant's next reservation is to run now: callers are queued and,
// on SQLite, none of b's is still deriving (else the merchant is parked
// until the last of them settles).
func (s *Store) grantIndexes(b *indexBatch, err error) (more bool) {
	merchantID := b.merchantID
	if err != nil {
		if !b.taken { // no connection: the batch was never taken
			b.live = b.take()
		}
		err = fmt.Errorf("models: next index: %w", err)
	}
	res := &s.indexes
	res.mu.Lock()
	defer res.mu.Unlock()
	for i, r := range b.live {
		g := indexGrant{index: b.next - int64(len(b.live)-i), kpub: b.kpub, err: err}
		if err == nil && s.db.stmts != nil && !r.gone {
			r.granted, r.index = true, g.index
			if res.deriving == nil {
				res.deriving, res.parked = map[string]map[int64]*indexReq{}, map[string]bool{}
			}
			if res.deriving[merchantID] == nil {
				res.deriving[merchantID] = map[int64]*indexReq{}
			}
			res.deriving[merchantID][g.index] = r
		}
		r.done <- g
	}
	switch {
	case len(res.queues[merchantID]) == 0:
		delete(res.queues, merchantID)
		return false
	case len(res.deriving[merchantID]) > 0:
		res.parked[merchantID] = true
		return false
	}
	return true
}

// settleIndex tells the reserver that the caller handed the merchant's
// index is done with it: its insert is queued (or it gave up on the
// index). It reports whether that unparks the merchant: the last of a
// reservation's callers settled while others wait for the next.
func (s *Store) settleIndex(merchantID string, index int64) (unpark bool) {
	res := &s.indexes
	res.mu.Lock()
	defer res.mu.Unlock()
	wave := res.deriving[merchantID]
	if _, ok := wave[index]; !ok {
		return false
	}
	delete(wave, index)
	if len(wave) > 0 {
		return false
	}
	delete(res.deriving, merchantID)
	if !res.parked[merchantID] {
		return false
	}
	delete(res.parked, merchantID)
	return true
}

// indexDone is settleIndex for the callers of reserveIndex: every index
// handed out is settled once its insert has been queued or given up. An
// unparked merchant's reservation runs on a goroutine of its own.
func (s *Store) indexDone(merchantID string, index int64) {
	if s.settleIndex(merchantID, index) {
		go func() {
			for s.reserveBatch(merchantID) {
			}
		}()
	}
}

// derivedQueued is the group commit's word (under its lock) that a kpub
// session's insert for the merchant's index is queued. When that unparks
// the merchant, the reservation returned is queued right behind the
// insert, in the same transaction unless the batch fills.
func (s *Store) derivedQueued(merchantID string, index int64) *commitReq {
	if !s.settleIndex(merchantID, index) {
		return nil
	}
	s.indexes.mu.Lock()
	before := s.indexes.beforeUpdate
	s.indexes.mu.Unlock()
	if before != nil {
		before(merchantID)
	}
	b := s.newIndexBatch(merchantID)
	r := reserveReq(b)
	go func() {
		if s.grantIndexes(b, (<-r.done).err) {
			for s.reserveBatch(merchantID) {
			}
		}
	}()
	return r
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
