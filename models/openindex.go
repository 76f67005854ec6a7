package models

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
)

// OpenIndex is a watcher's in-memory copy of one chain's watched sessions:
// open ones and expired ones still inside the late window. Reading every
// such row each cycle made a cycle's time grow with the open sessions
// (226 ms at 100,000 on SQLite); the index reads them once, then each cycle
// only the rows whose updated_at moved (payments_chain_updated_idx) — every
// status change sets updated_at — so a cycle costs what changed, not what is
// open. A full re-read every FullEvery is the safety net for what the
// incremental read cannot see: rows deleted, or written by a process whose
// clock lags more than the overlap. Only the watcher's goroutine uses it.
type OpenIndex struct {
	chain string
	// FullEvery is how often the whole set is re-read (default 5 minutes).
	FullEvery time.Duration
	// Overlap is how far before the last read began the next read
	// starts, so a transaction that took its timestamp before and
	// committed after that read is still seen (default 5 s).
	Overlap time.Duration

	sessions map[string]openSession // by payment id
	addrs    map[string]*openAddress
	zero     map[string]struct{} // ids whose start is unknown (0)
	// buckets holds the addresses by the top shareBits of their hash, so
	// that a sweep share (KaspaWatch.Share) reads only its own addresses.
	buckets [][]*openAddress
	// lapses: expired sessions by when they leave the late window
	// (expires + late); Refresh drops those due, reading nothing else.
	lapses idHeap
	// hot counts, per address, the sessions holding a credit (paid,
	// confirming or underpaid): KaspaHotFrom reads them without a pass
	// over every session.
	hot map[string]int
	// pending (pending sessions by expiry) and due (those popped from it
	// as they came within KaspaHotFrom's horizon) are kept only once
	// KaspaHotFrom is first asked (dueOn): the EVM watcher never asks.
	pending idHeap
	due     map[string]struct{}
	dueOn   bool
	// readAt is the clock when the last read began. The next read starts
	// Overlap before it, not before the newest updated_at read: on a chain
	// gone quiet after a burst the newest row stays the burst's last, and
	// each cycle read the burst's last Overlap again (15,000 rows a cycle
	// while the suite loaded the other chain, docs/BENCHMARKS.md).
	readAt   time.Time
	lastFull time.Time
	read     int // rows the last read returned (tests)
	loaded   bool
	late     int64  // the store's late window, µs
	pass     uint32 // KaspaReconcileTargetsFrom's passes (openAddress.mark)
}

// openSession is what the index keeps per session: little, as it is held
// for every open one.
type openSession struct {
	a       *openAddress // its address, shared by its sessions
	start   int64        // start DAA score (Kaspa) or start block (EVM); -1: none
	created int64        // unix µs
	expires int64        // unix µs
	updated int64        // unix µs: a row read again unchanged is skipped
	status  statusCode
	paid    bool // tx_id set
}

// holdsCredit is KaspaHotFrom's first rule: a session whose credits the
// watcher checks against the UTXO answer every cycle.
func (e openSession) holdsCredit() bool {
	return e.paid || e.status == codeConfirming || e.status == codeUnderpaid || e.status == codeOther
}

// openAddress is one watched address and its sessions. Its oldest start is
// its only member's or, once it has had two, the top of starts, a heap of
// its members' starts whose entries are checked when read (a member gone
// or re-started leaves a stale entry), so no change costs a pass over an
// address's sessions: one merchant on one address may hold most of the
// open sessions.
type openAddress struct {
	addr   string
	ids    map[string]struct{}
	starts idHeap
	hash   uint32 // addressHash, for KaspaWatch.Share
	pos    int    // in its bucket
	// since is KaspaReconcileTargetsFrom's scratch: the oldest waiting
	// member's creation, valid when mark is the index's current pass.
	since int64
	mark  uint32
}

// shareBits is how many top bits of an address's hash pick its bucket.
const shareBits = 12

// NewOpenIndex returns an empty index of chain's watched sessions; the
// first Refresh reads them all.
func (s *Store) NewOpenIndex(chain string) *OpenIndex {
	idx := &OpenIndex{chain: chain, FullEvery: 5 * time.Minute, Overlap: 5 * time.Second, late: s.lateWindow.Microseconds()}
	idx.reset()
	return idx
}

// startColumn is the column holding a chain's session start.
func startColumn(chain string) string {
	if chain == chainKaspa {
		return "start_daa_score"
	}
	return "start_block"
}

// Refresh brings idx up to date: the rows changed since the last read (a
// full read the first time and every FullEvery), and expired sessions
// whose late window has passed dropped. Rows are streamed into the index,
// never held as a slice: a full read of 100,000 would otherwise be a
// transient heap as big as the index.
func (s *Store) Refresh(ctx context.Context, idx *OpenIndex) error {
	now := s.clock()
	// A session without a start (NULL start_block) reads as -1 and is
	// left out of its address's oldest start, as MIN leaves out NULL.
	cols := "id, pay_address, COALESCE(" + startColumn(idx.chain) + ", -1) AS start, status, tx_id, expires_at, created_at, updated_at"
	var q *gorm.DB
	full := !idx.loaded || now.Sub(idx.lastFull) >= idx.FullEvery || now.Before(idx.lastFull)
	if full {
		// Each branch fully on payments_chain_open_idx (see EVMWatchState),
		// under a generic plan too (openStatusSQL).
		q = s.db.R(ctx).Raw(`SELECT `+cols+` FROM payments WHERE chain = ? AND `+openStatusSQL+`
UNION ALL
SELECT `+cols+` FROM payments WHERE chain = ? AND `+expiredStatusSQL+` AND expires_at > ?`,
			idx.chain, idx.chain, now.Add(-s.lateWindow))
		idx.reset()
		idx.lastFull, idx.loaded = now, true
	} else {
		// A row this read must see committed after the last read began,
		// so its updated_at is at most Overlap older than that (or than
		// now, should the clock have stepped back since).
		from := idx.readAt
		if now.Before(from) {
			from = now
		}
		q = s.db.R(ctx).Raw(`SELECT `+cols+` FROM payments WHERE chain = ? AND updated_at > ?`, idx.chain, from.Add(-idx.Overlap))
	}
	idx.read = 0
	rows, err := q.Rows()
	if err != nil {
		idx.loaded = idx.loaded && !full
		return fmt.Errorf("models: watched sessions: %w", err)
	}
	defer rows.Close()
	lateFrom := now.Add(-s.lateWindow).UnixMicro()
	var (
		id, addr, status, txID      string
		start                       int64
		expires, created, updatedAt scanTime
	)
	for rows.Next() {
		if err := rows.Scan(&id, &addr, &start, &status, &txID, &expires, &created, &updatedAt); err != nil {
			idx.loaded = false // read in full next time
			return fmt.Errorf("models: watched sessions: %w", err)
		}
		idx.read++
		e := openSession{start: start, created: created.UnixMicro(), expires: expires.UnixMicro(),
			updated: updatedAt.UnixMicro(), status: toCode(PaymentStatus(status)), paid: txID != ""}
		if old, ok := idx.sessions[id]; ok && old.updated == e.updated && old.status == e.status && old.start == e.start {
			continue // read again inside the overlap, unchanged
		}
		idx.put(id, addr, e, e.watched(lateFrom))
	}
	if err := rows.Err(); err != nil {
		idx.loaded = false
		return fmt.Errorf("models: watched sessions: %w", err)
	}
	idx.readAt = now // only a read that succeeded moves the next one's start
	idx.lapse(now.UnixMicro())
	return nil
}

// reset empties the index before a full read.
func (idx *OpenIndex) reset() {
	idx.sessions, idx.addrs, idx.zero = map[string]openSession{}, map[string]*openAddress{}, map[string]struct{}{}
	idx.buckets = make([][]*openAddress, 1<<shareBits)
	idx.hot, idx.lapses = map[string]int{}, nil
	idx.pending, idx.due = nil, map[string]struct{}{}
}

// lapse drops the expired sessions whose late window has passed by now
// (unix µs).
func (idx *OpenIndex) lapse(now int64) {
	for len(idx.lapses) > 0 && idx.lapses[0].key <= now {
		l := idx.lapses.pop()
		if e, ok := idx.sessions[l.id]; ok && e.status == codeExpired && e.expires+idx.late == l.key {
			idx.drop(l.id, e, "")
		}
	}
}

// statusCode packs the statuses the index tells apart into a byte.
type statusCode uint8

const (
	codeOther statusCode = iota
	codePending
	codeConfirming
	codeUnderpaid
	codeExpired
)

func toCode(st PaymentStatus) statusCode {
	switch st {
	case StatusPending:
		return codePending
	case StatusConfirming:
		return codeConfirming
	case StatusUnderpaid:
		return codeUnderpaid
	case StatusExpired:
		return codeExpired
	}
	return codeOther
}

// watched is the watch list's rule: open, or expired inside the late window.
func (e openSession) watched(lateFrom int64) bool {
	switch e.status {
	case codePending, codeConfirming, codeUnderpaid:
		return true
	case codeExpired:
		return e.expires > lateFrom
	}
	return false
}

// put stores (or, when not watched, drops) session id.
func (idx *OpenIndex) put(id, addr string, e openSession, watched bool) {
	old, had := idx.sessions[id]
	if had {
		keep := ""
		if watched {
			keep = addr
		}
		idx.drop(id, old, keep)
	}
	if !watched {
		return
	}
	a := idx.addrs[addr]
	if a == nil {
		a = &openAddress{addr: addr, ids: map[string]struct{}{}, hash: addressHash(addr)}
		b := a.hash >> (32 - shareBits)
		a.pos = len(idx.buckets[b])
		idx.buckets[b] = append(idx.buckets[b], a)
		idx.addrs[addr] = a
	}
	e.a = a
	a.ids[id] = struct{}{}
	idx.sessions[id] = e
	switch {
	case a.starts == nil && len(a.ids) > 1:
		// A second member: a heap from now on (most addresses, a kpub
		// session's own, never need one).
		a.starts = make(idHeap, 0, 2)
		for mid := range a.ids {
			if st := idx.sessions[mid].start; st >= 0 {
				a.starts.push(idEntry{key: st, id: mid})
			}
		}
	case a.starts != nil && e.start >= 0 && (!had || old.start != e.start):
		idx.pushStart(a, id, e.start)
	}
	if e.holdsCredit() {
		idx.hot[a.addr]++
	}
	if e.status == codeExpired && (!had || old.status != codeExpired || old.expires != e.expires) {
		idx.lapses.push(idEntry{key: e.expires + idx.late, id: id})
	}
	if idx.dueOn && e.status == codePending && (!had || old.status != codePending || old.expires != e.expires) {
		idx.pending.push(idEntry{key: e.expires, id: id})
	}
	if e.start == 0 {
		idx.zero[id] = struct{}{}
	}
}

// drop removes session id (held as old), and its address once it has no
// other member, unless that address is keep (put is re-adding it there).
// Heap entries naming it go stale; they are skipped when read.
func (idx *OpenIndex) drop(id string, old openSession, keep string) {
	delete(idx.sessions, id)
	delete(idx.zero, id)
	a := old.a
	if a == nil {
		return
	}
	delete(a.ids, id)
	if old.holdsCredit() {
		if idx.hot[a.addr]--; idx.hot[a.addr] <= 0 {
			delete(idx.hot, a.addr)
		}
	}
	if len(a.ids) == 0 && a.addr != keep {
		b := a.hash >> (32 - shareBits)
		last := idx.buckets[b][len(idx.buckets[b])-1]
		idx.buckets[b][a.pos], last.pos = last, a.pos
		idx.buckets[b] = idx.buckets[b][:len(idx.buckets[b])-1]
		delete(idx.addrs, a.addr)
	}
}

// startOf is member id's start if it is still a member of a, else -1.
func (idx *OpenIndex) startOf(a *openAddress, id string) int64 {
	if _, ok := a.ids[id]; !ok {
		return -1
	}
	return idx.sessions[id].start
}

// pushStart records member id's new start in a's heap, rebuilding the heap
// when it is mostly stale entries.
func (idx *OpenIndex) pushStart(a *openAddress, id string, start int64) {
	if a.starts == nil {
		return // one member: read directly
	}
	a.starts.push(idEntry{key: start, id: id})
	if len(a.starts) > 2*len(a.ids)+8 {
		a.starts = a.starts.compact(func(x idEntry) bool { return idx.startOf(a, x.id) == x.key })
	}
}

// minStart is a's oldest member start (-1: no member has one), popping
// the stale entries above it.
func (idx *OpenIndex) minStart(a *openAddress) int64 {
	if a.starts == nil { // its only member's
		for id := range a.ids {
			return max(idx.sessions[id].start, -1)
		}
		return -1
	}
	for len(a.starts) > 0 {
		if top := a.starts[0]; idx.startOf(a, top.id) == top.key {
			return top.key
		}
		a.starts.pop()
	}
	return -1
}

// Len is the number of sessions held.
func (idx *OpenIndex) Len() int { return len(idx.sessions) }

// KaspaWatchFrom is KaspaWatchList served from idx (refreshed first): the
// same addresses and start scores, read without touching every open row,
// and answered from idx itself until its next refresh (KaspaWatch).
func (s *Store) KaspaWatchFrom(ctx context.Context, idx *OpenIndex, virtualDaa uint64) (*KaspaWatch, error) {
	if err := s.Refresh(ctx, idx); err != nil {
		return nil, err
	}
	if err := s.backfillIndexed(ctx, idx, virtualDaa); err != nil {
		return nil, err
	}
	return &KaspaWatch{idx: idx}, nil
}

// backfillIndexed gives the index's sessions without a start score one, as
// backfillStartDaa does, reading only those rows.
func (s *Store) backfillIndexed(ctx context.Context, idx *OpenIndex, virtualDaa uint64) error {
	if virtualDaa == 0 || len(idx.zero) == 0 {
		return nil
	}
	ids := make([]string, 0, min(len(idx.zero), 1000))
	for id := range idx.zero {
		if len(ids) == cap(ids) {
			break
		}
		ids = append(ids, id)
	}
	est, err := s.backfillStart(ctx, ids, virtualDaa, s.clock())
	if err != nil {
		return err
	}
	for id, v := range est {
		e, ok := idx.sessions[id]
		if !ok {
			continue
		}
		e.start = v
		idx.sessions[id] = e
		delete(idx.zero, id)
		if a := e.a; a != nil {
			idx.pushStart(a, id, v)
		}
	}
	return nil
}

// KaspaHotFrom returns, from idx as refreshed by this cycle's
// KaspaWatchFrom, the addresses a watcher that follows the chain must still
// poll every cycle, whatever the chain names:
//   - those of sessions holding a credit (confirming, underpaid, or paid),
//     whose credits are checked against the UTXO answer every cycle
//     (verifyCredits, advanceConfirmations);
//   - those of pending sessions due within dueWithin (or overdue), so that
//     the expirer, which trusts the last observation's time, decides on a
//     direct read of their address, as when every address is polled.
//
// Their number follows the payments in flight and the sessions created
// about dueWithin before their lifetime ends, not the sessions open.
func (s *Store) KaspaHotFrom(idx *OpenIndex, dueWithin time.Duration) map[string]bool {
	due := s.clock().Add(dueWithin).UnixMicro()
	if !idx.dueOn {
		idx.dueOn = true
		for id, e := range idx.sessions {
			if e.status == codePending {
				idx.pending.push(idEntry{key: e.expires, id: id})
			}
		}
	}
	for len(idx.pending) > 0 && idx.pending[0].key <= due {
		p := idx.pending.pop()
		if e, ok := idx.sessions[p.id]; ok && e.status == codePending && e.expires == p.key {
			idx.due[p.id] = struct{}{}
		}
	}
	hot := make(map[string]bool, len(idx.hot)+len(idx.due))
	for addr := range idx.hot {
		hot[addr] = true
	}
	for id := range idx.due {
		switch e, ok := idx.sessions[id]; {
		case !ok || e.status != codePending:
			delete(idx.due, id) // paid, expired or gone: no longer due
		case e.expires <= due:
			hot[e.a.addr] = true
		}
	}
	return hot
}

// KaspaReconcileTargetsFrom is KaspaReconcileTargets served from idx, as
// refreshed by this cycle's KaspaWatchFrom: the addresses of sessions still
// waiting for money (pending, underpaid, or expired unpaid inside the late
// window), oldest first.
func (s *Store) KaspaReconcileTargetsFrom(idx *OpenIndex, limit int) []ReconcileTarget {
	lateFrom := s.clock().Add(-s.lateWindow).UnixMicro()
	// Each session reaches its address through its pointer: no map of
	// every waiting address is built, and none is hashed.
	idx.pass++
	var ts []*openAddress
	for _, e := range idx.sessions {
		switch {
		case e.status == codePending, e.status == codeUnderpaid:
		case e.status == codeExpired && !e.paid && e.expires > lateFrom:
		default:
			continue
		}
		switch a := e.a; {
		case a.mark != idx.pass:
			a.mark, a.since = idx.pass, e.created
			ts = append(ts, a)
		case e.created < a.since:
			a.since = e.created
		}
	}
	slices.SortFunc(ts, func(x, y *openAddress) int {
		if c := cmp.Compare(x.since, y.since); c != 0 {
			return c
		}
		return strings.Compare(x.addr, y.addr)
	})
	out := make([]ReconcileTarget, min(len(ts), limit))
	for i := range out {
		out[i] = ReconcileTarget{Address: ts[i].addr, Since: time.UnixMicro(ts[i].since).UTC()}
	}
	return out
}

// receivers returns the watched addresses, sorted, and the oldest of their
// oldest starts.
func (idx *OpenIndex) receivers() ([]string, int64) {
	out := make([]string, 0, len(idx.addrs))
	oldest := int64(0)
	for addr, a := range idx.addrs {
		// As readReceivers: an address whose sessions have no start counts 0.
		if m := max(idx.minStart(a), 0); len(out) == 0 || m < oldest {
			oldest = m
		}
		out = append(out, addr)
	}
	sort.Strings(out)
	return out, oldest
}

// idEntry is a session id under a key (a start, an expiry, a lapse time).
type idEntry struct {
	key int64
	id  string
}

// idHeap is a min-heap of idEntry by key (container/heap). Entries are
// never removed from the middle: their owners check them when they reach
// the top.
type idHeap []idEntry

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i].key < h[j].key }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }

// Push and Pop are container/heap's; callers use push and pop.
func (h *idHeap) Push(x any) { *h = append(*h, x.(idEntry)) }
func (h *idHeap) Pop() any {
	s := *h
	x := s[len(s)-1]
	s[len(s)-1] = idEntry{} // let the id go
	*h = s[:len(s)-1]
	return x
}

func (h *idHeap) push(x idEntry) { heap.Push(h, x) }
func (h *idHeap) pop() idEntry   { return heap.Pop(h).(idEntry) }

// compact keeps the entries live reports true for, one per id, in a new
// heap.
func (h idHeap) compact(live func(idEntry) bool) idHeap {
	out := make(idHeap, 0, len(h)/2)
	seen := make(map[string]struct{}, len(h)/2)
	for _, x := range h {
		if _, dup := seen[x.id]; !dup && live(x) {
			seen[x.id] = struct{}{}
			out = append(out, x)
		}
	}
	heap.Init(&out)
	return out
}
