package models

import (
	"context"
	"fmt"
	"sort"
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
	// readAt is the clock when the last read began. The next read starts
	// Overlap before it, not before the newest updated_at read: on a chain
	// gone quiet after a burst the newest row stays the burst's last, and
	// each cycle read the burst's last Overlap again (15,000 rows a cycle
	// while the suite loaded the other chain, docs/BENCHMARKS.md).
	readAt   time.Time
	lastFull time.Time
	read     int // rows the last read returned (tests)
	loaded   bool
	late     int64 // the store's late window, µs
}

// openSession is what the index keeps per session: little, as it is held
// for every open one.
type openSession struct {
	addr    string // shared with the openAddress key
	start   int64  // start DAA score (Kaspa) or start block (EVM); -1: none
	created int64  // unix µs
	expires int64  // unix µs
	updated int64  // unix µs: a row read again unchanged is skipped
	status  statusCode
	paid    bool // tx_id set
}

// openAddress is one watched address: its sessions, and their aggregates,
// recomputed when a member changes or an expired one leaves the window.
type openAddress struct {
	addr     string
	ids      map[string]struct{}
	minStart int64 // -1: no member has a start
	lapse    int64 // unix µs when the next expired member leaves the window
	dirty    bool
	hash     uint32 // addressHash, for KaspaWatch.Share
}

// NewOpenIndex returns an empty index of chain's watched sessions; the
// first Refresh reads them all.
func (s *Store) NewOpenIndex(chain string) *OpenIndex {
	return &OpenIndex{chain: chain, FullEvery: 5 * time.Minute, Overlap: 5 * time.Second, late: s.lateWindow.Microseconds()}
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
		idx.sessions, idx.addrs, idx.zero = map[string]openSession{}, map[string]*openAddress{}, map[string]struct{}{}
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
	for addr, a := range idx.addrs {
		if a.dirty || (a.lapse > 0 && a.lapse <= now.UnixMicro()) {
			idx.settle(addr, a, lateFrom)
		}
	}
	return nil
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
	if old, ok := idx.sessions[id]; ok {
		if a := idx.addrs[old.addr]; a != nil {
			delete(a.ids, id)
			// Only losing the oldest start (or the last member) changes
			// the aggregates; an early lapse just settles sooner.
			a.dirty = a.dirty || old.start <= a.minStart || len(a.ids) == 0
		}
		delete(idx.sessions, id)
		delete(idx.zero, id)
	}
	if !watched {
		return
	}
	a := idx.addrs[addr]
	if a == nil {
		a = &openAddress{addr: addr, ids: map[string]struct{}{}, minStart: e.start, hash: addressHash(addr)}
		idx.addrs[addr] = a
	}
	e.addr = a.addr // one copy of the address for all its sessions
	a.ids[id] = struct{}{}
	if e.start >= 0 && (a.minStart < 0 || e.start < a.minStart) {
		a.minStart = e.start
	}
	if e.status == codeExpired && (a.lapse == 0 || e.expires+idx.late < a.lapse) {
		a.lapse = e.expires + idx.late
	}
	idx.sessions[id] = e
	if e.start == 0 {
		idx.zero[id] = struct{}{}
	}
}

// settle recomputes an address's aggregates, dropping expired members whose
// late window has passed and the address once none is left.
func (idx *OpenIndex) settle(addr string, a *openAddress, lateFrom int64) {
	a.minStart, a.lapse, a.dirty = -1, 0, false
	for id := range a.ids {
		e := idx.sessions[id]
		if !e.watched(lateFrom) {
			delete(a.ids, id)
			delete(idx.sessions, id)
			delete(idx.zero, id)
			continue
		}
		if e.start >= 0 && (a.minStart < 0 || e.start < a.minStart) {
			a.minStart = e.start
		}
		if e.status == codeExpired {
			// It leaves the window when the late window has passed its expiry.
			if at := e.expires + idx.late; a.lapse == 0 || at < a.lapse {
				a.lapse = at
			}
		}
	}
	if len(a.ids) == 0 {
		delete(idx.addrs, addr)
	}
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
		if a := idx.addrs[e.addr]; a != nil {
			idx.settle(e.addr, a, s.clock().Add(-s.lateWindow).UnixMicro())
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
	hot := map[string]bool{}
	for _, e := range idx.sessions {
		switch {
		case e.paid, e.status == codeConfirming, e.status == codeUnderpaid, e.status == codeOther:
		case e.status == codePending && e.expires <= due:
		default:
			continue
		}
		hot[e.addr] = true
	}
	return hot
}

// KaspaReconcileTargetsFrom is KaspaReconcileTargets served from idx, as
// refreshed by this cycle's KaspaWatchFrom: the addresses of sessions still
// waiting for money (pending, underpaid, or expired unpaid inside the late
// window), oldest first.
func (s *Store) KaspaReconcileTargetsFrom(idx *OpenIndex, limit int) []ReconcileTarget {
	lateFrom := s.clock().Add(-s.lateWindow).UnixMicro()
	since := map[string]int64{}
	for _, e := range idx.sessions {
		switch {
		case e.status == codePending, e.status == codeUnderpaid:
		case e.status == codeExpired && !e.paid && e.expires > lateFrom:
		default:
			continue
		}
		if at, ok := since[e.addr]; !ok || e.created < at {
			since[e.addr] = e.created
		}
	}
	out := make([]ReconcileTarget, 0, len(since))
	for addr, at := range since {
		out = append(out, ReconcileTarget{Address: addr, Since: time.UnixMicro(at).UTC()})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Address < out[j].Address
	})
	if len(out) > limit {
		out = out[:limit]
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
		if m := max(a.minStart, 0); len(out) == 0 || m < oldest {
			oldest = m
		}
		out = append(out, addr)
	}
	sort.Strings(out)
	return out, oldest
}
