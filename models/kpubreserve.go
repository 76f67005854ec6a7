package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"

	"gorm.io/gorm"
)

// A kpub session needs the merchant's next derivation index, the address
// derived at it, and a conditional insert at that address. Two paths:
//
//   - SQLite (kpubInsert): the session's insert is queued in the group
//     commit as is, and the committer, in the writer's transaction, moves
//     the counter on by the number of the merchant's kpub sessions in its
//     batch (one UPDATE … + n … RETURNING), derives their addresses from the
//     kpub that UPDATE returned, and runs their inserts: reservation and
//     insert in one transaction, one writer turn per session. It used to be
//     two (the reservation in one transaction, the insert in the next), and
//     the waves of callers between them held every kpub request for two
//     writer turns (docs/BENCHMARKS.md, wip-kpub2).
//   - Postgres (indexReserver): callers of one merchant queue, one UPDATE
//     hands n consecutive indexes to the n callers queued, and each derives
//     its address and queues its insert. The merchant's row lock is held
//     for one statement, not across the derivation and the insert.
//
// Either way no index is reserved ahead (n is the callers waiting), an
// index from a rolled-back transaction is never used, and the address is
// derived from the kpub the reservation read with the index.

// indexReserver hands out kpub derivation indexes to concurrent sessions of
// one merchant together (Postgres). The first caller of an idle merchant
// runs the UPDATE itself (a lone caller waits for nobody: no timers);
// callers that queued meanwhile are served by the next UPDATE, run by a
// goroutine that ends when the queue is empty. n never exceeds the callers
// waiting, so the gaps stay as bounded as before: an index is lost only to
// a caller that gives up after its batch was taken (as an unpaid session
// leaves one).
type indexReserver struct {
	mu sync.Mutex
	// queues holds the callers waiting per merchant id; a merchant is in
	// the map while a reservation for it is running.
	queues map[string][]*indexReq
	// beforeUpdate, when set (tests), runs before each reservation takes
	// the write connection and its batch (SQLite: before the group commit
	// takes a batch holding the merchant's kpub sessions). Read under mu.
	beforeUpdate func(merchantID string)
	// limit, when positive (benchmarks), bounds a reservation below
	// maxIndexBatch: 1 is one UPDATE per session. Read under mu.
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
// with the kpub it belongs to (Postgres).
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
// The batch is taken once the write connection is held, so every caller
// that queued while it was busy shares the UPDATE. The UPDATE runs without
// the callers' contexts: one caller giving up must not fail the others'
// reservation; its index is then a gap.
func (s *Store) reserveBatch(merchantID string) (more bool) {
	res := &s.indexes
	res.mu.Lock()
	before := res.beforeUpdate
	res.mu.Unlock()
	if before != nil {
		before(merchantID)
	}
	var live []*indexReq
	var next int64
	var kpub string
	taken := false
	err := s.db.W(context.Background()).Connection(func(tx *gorm.DB) error {
		taken, live = true, s.takeIndexBatch(merchantID)
		if len(live) == 0 {
			return nil
		}
		return tx.Raw(reserveIndexSQL, len(live), merchantID).Row().Scan(&next, &kpub)
	})
	if err != nil {
		if !taken { // no connection: the batch was never taken
			live = s.takeIndexBatch(merchantID)
		}
		err = fmt.Errorf("models: next index: %w", err)
	}
	for i, r := range live {
		r.done <- indexGrant{index: next - int64(len(live)-i), kpub: kpub, err: err}
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if len(res.queues[merchantID]) == 0 {
		delete(res.queues, merchantID)
		return false
	}
	return true
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

// kpubInsert marks a queued insert (SQLite) as a kpub session's that still
// needs its index and address: the committer reserves the index in its
// transaction (reserveKpubs), derives the address and sets it in the
// insert's arguments, and the caller reads index and address back once the
// transaction has committed.
type kpubInsert struct {
	merchantID string
	// Set by the committer: the index and address the insert ran with
	// (reserved), or why the session cannot use the index (err: a typed
	// error for the caller; errSkipIndex: take the next one).
	reserved bool
	index    int64
	address  string
	err      error
	// The index and kpub guessed when the insert was queued (set under
	// the group commit's lock), and the caller's derivation of that
	// address: guessAddress and guessErr are written before derived
	// closes, and read only after it is closed.
	guess        *kpubGuess
	derived      chan struct{}
	guessAddress string
	guessErr     error
}

// kpubGuess is an index a merchant's next kpub session is likely to get,
// and the kpub it would belong to.
type kpubGuess struct {
	next int64
	kpub string
}

// reset forgets what the committer set (after the transaction failed).
func (k *kpubInsert) reset() {
	k.reserved, k.index, k.address, k.err = false, 0, "", nil
}

// maxKpubGuesses bounds the merchants whose next index is guessed.
const maxKpubGuesses = 1024

// guessIndex gives the queued kpub session k the index its merchant's next
// session is likely to get, if the last UPDATE told it (under g.mu). The
// caller then derives that address while the writer is busy, off the
// writer's path; the committer uses it only if the UPDATE hands out exactly
// that index of exactly that kpub.
func (g *groupCommit) guessIndex(k *kpubInsert) {
	next, ok := g.kpubNext[k.merchantID]
	if !ok {
		return
	}
	guess := next
	k.guess, k.derived = &guess, make(chan struct{})
	next.next++
	g.kpubNext[k.merchantID] = next
}

// learnIndex records, after an UPDATE moved the merchant's counter to next
// (of kpub), the index its next queued kpub session is likely to get: next,
// plus the merchant's kpub sessions queued meanwhile (they follow in queue
// order).
func (g *groupCommit) learnIndex(merchantID string, next int64, kpub string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range g.queue {
		if r.kpub != nil && r.kpub.merchantID == merchantID {
			next++
		}
	}
	if g.kpubNext == nil || len(g.kpubNext) >= maxKpubGuesses {
		g.kpubNext = map[string]kpubGuess{}
	}
	g.kpubNext[merchantID] = kpubGuess{next: next, kpub: kpub}
}

// deriveGuess is the caller's derivation of its guessed address, done
// while its insert waits in the queue.
func (g *groupCommit) deriveGuess(k *kpubInsert) {
	if k.guess == nil {
		return
	}
	k.guessAddress, k.guessErr = g.derive(k.guess.kpub, k.guess.next)
	close(k.derived)
}

// guessed is the caller's derivation of the address at idx of kpub, if it
// guessed exactly that and has finished.
func (k *kpubInsert) guessed(idx int64, kpub string) (string, bool) {
	if k.guess == nil || k.guess.next != idx || k.guess.kpub != kpub {
		return "", false
	}
	select {
	case <-k.derived:
		return k.guessAddress, k.guessErr == nil
	default:
		return "", false
	}
}

// errSkipIndex is a derivation's "no key at this index" (probability
// < 2^-127): the index is skipped, as one whose address is watched.
var errSkipIndex = errors.New("models: index skipped")

// The positions in insertOnFreeAddress's arguments of the derivation
// index and of the address in its condition (the row's is argAddress).
var (
	argDerivation     = slices.Index(paymentColumns, "derivation_index")
	argWatchedAddress = len(paymentColumns)
)

// execKpubInsert queues p's free-address insert for the merchant's next
// index (SQLite): reserved, derived and inserted in one writer transaction.
// On success p carries the index and address; an id clash is "not
// inserted", as in insertAtIndex.
func (g *groupCommit) execKpubInsert(ctx context.Context, merchantID string, p *Payment, args []any) (bool, error) {
	k := &kpubInsert{merchantID: merchantID}
	r := &commitReq{ctx: ctx, sql: insertOnFreeAddressSQL[SQLite], args: args, kpub: k, done: make(chan commitResult, 1)}
	g.enqueue(r)
	g.deriveGuess(k)
	select {
	case res := <-r.done:
		switch {
		case k.err != nil && !errors.Is(k.err, errSkipIndex):
			return false, k.err
		case res.inserted:
			idx := k.index
			p.DerivationIndex, p.PayAddress = &idx, k.address
		}
		return insertedAtIndex(res.inserted, res.err)
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// reserveKpubs reserves, inside the SQLite transaction tx, the indexes of
// the batch's kpub sessions: one UPDATE per merchant (chunked by the
// benchmark's limit) for its sessions whose callers still wait, in queue
// order; then derives each address and sets it in the session's insert. A
// session whose derivation fails keeps its index as a gap and is not
// inserted (kpubInsert.err). It returns how many UPDATEs ran, or the error
// that fails the transaction.
func (g *groupCommit) reserveKpubs(tx *gorm.DB, st *sql.Stmt, batch []*commitReq) (updates int, err error) {
	done := map[string]bool{}
	for i, r := range batch {
		if r.kpub == nil || done[r.kpub.merchantID] {
			continue
		}
		merchantID := r.kpub.merchantID
		done[merchantID] = true
		var live []*commitReq
		for _, q := range batch[i:] {
			if q.kpub != nil && q.kpub.merchantID == merchantID && q.ctx.Err() == nil {
				live = append(live, q)
			}
		}
		chunk := len(live)
		g.mu.Lock()
		if g.reserveLimit > 0 {
			chunk = g.reserveLimit
		}
		g.mu.Unlock()
		for len(live) > 0 {
			n := min(chunk, len(live))
			var next int64
			var kpub string
			err := g.db.queryRowPrepared(context.Background(), tx, st, reserveIndexSQL, []any{n, merchantID}, &next, &kpub)
			updates++
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return updates, err // the transaction may be gone; retry one by one
			}
			if err == nil {
				g.learnIndex(merchantID, next, kpub)
			}
			for j, q := range live[:n] {
				if err != nil {
					q.kpub.err = fmt.Errorf("models: next index: %w", err)
					continue
				}
				g.useIndex(q, next-int64(n-j), kpub)
			}
			live = live[n:]
		}
	}
	return updates, nil
}

// useIndex gives the queued kpub session r the index idx of kpub: its
// address goes into the insert's arguments.
func (g *groupCommit) useIndex(r *commitReq, idx int64, kpub string) {
	k := r.kpub
	k.reserved, k.index, k.err = true, idx, nil
	if addr, ok := k.guessed(idx, kpub); ok {
		k.address = addr
	} else {
		g.writerDerives.Add(1)
		if k.address, k.err = g.derive(kpub, idx); k.err != nil {
			return
		}
	}
	r.args[argAddress], r.args[argWatchedAddress] = k.address, k.address
	r.args[argDerivation] = &k.index
}

// kpubAlone runs the kpub session r on its own (after the transaction it
// rode in failed): its index reserved by an UPDATE of its own, committed
// before the address is derived, then its insert.
func (g *groupCommit) kpubAlone(r *commitReq) commitResult {
	st, err := g.db.stmts.get(context.Background(), reserveIndexSQL) //nolint:sqlclosecheck // writeStmts owns it
	if err != nil {
		return commitResult{err: err}
	}
	var next int64
	var kpub string
	if err := g.db.queryRowPrepared(context.Background(), nil, st, reserveIndexSQL, []any{1, r.kpub.merchantID}, &next, &kpub); err != nil {
		r.kpub.err = fmt.Errorf("models: next index: %w", err)
		return commitResult{}
	}
	if g.useIndex(r, next-1, kpub); r.kpub.err != nil {
		return commitResult{}
	}
	return g.execStmtAlone(r)
}
