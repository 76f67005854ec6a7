package models

import (
	"context"
	"strings"
	"time"
)

// TenantProbe is a test-only table for the tenant scoping helpers.
type TenantProbe struct {
	ID         string
	MerchantID string
	Note       string
}

// FindOwnedProbe exposes findOwned to the external tests.
func FindOwnedProbe(ctx context.Context, db *DB, merchantID, id string) (*TenantProbe, error) {
	return findOwned[TenantProbe](ctx, db.read, merchantID, id, "Probe")
}

// ListOwnedProbes exposes listOwned.
func ListOwnedProbes(ctx context.Context, db *DB, merchantID string) ([]TenantProbe, error) {
	return listOwned[TenantProbe](ctx, db.read, merchantID)
}

// UpdateOwnedProbe exposes updateOwned.
func UpdateOwnedProbe(ctx context.Context, db *DB, merchantID, id, note string) (int64, error) {
	return updateOwned[TenantProbe](ctx, db.write, merchantID, id, map[string]any{"note": note})
}

// Stamp is the tracker's stamp of the groups table belongs to.
func (c *Changes) Stamp(table string) uint64 { return c.stamp(tableMask(table)) }

// SetTTL changes how long cached reads are served (every entry, at once).
func (c *Changes) SetTTL(d time.Duration) { c.ttl.Store(int64(d)) }

// Notifies is how many NOTIFYs this handle sent.
func (c *Changes) Notifies() int64 { return c.notifies.Load() }

// SQLWriteGroups exposes sqlWriteMask: whether sql writes, and the groups
// (bit 0 payments, 1 links, 2 merchants, 3 chain states, 4 the kpub counter).
func SQLWriteGroups(sql string) (bool, uint32) {
	w, m := sqlWriteMask(sql)
	return w, uint32(m)
}

// ReserveIndexSQL is the kpub counter's statement (kpubreserve.go).
var ReserveIndexSQL = reserveIndexSQL

// OnIndexUpdate sets (nil: clears) a hook run before each kpub index
// reservation takes the write connection and its batch (SQLite: before the
// group commit takes a batch holding the merchant's kpub sessions).
func OnIndexUpdate(s *Store, f func(merchantID string)) {
	s.indexes.mu.Lock()
	s.indexes.beforeUpdate = f
	s.indexes.mu.Unlock()
	s.commits.mu.Lock()
	s.commits.beforeReserve = f
	s.commits.mu.Unlock()
}

// LimitIndexBatch bounds each kpub index reservation to n indexes (0: the
// default bound; 1: one UPDATE per session, as before batching).
func LimitIndexBatch(s *Store, n int) {
	s.indexes.mu.Lock()
	s.indexes.limit = n
	s.indexes.mu.Unlock()
	s.commits.mu.Lock()
	s.commits.reserveLimit = n
	s.commits.mu.Unlock()
}

// QueuedForIndex is how many callers wait for the merchant's next index
// reservation, not yet taken into a batch (SQLite: the merchant's kpub
// sessions queued in the group commit).
func QueuedForIndex(s *Store, merchantID string) int {
	s.indexes.mu.Lock()
	n := len(s.indexes.queues[merchantID])
	s.indexes.mu.Unlock()
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	for _, r := range s.commits.queue {
		if r.kpub != nil && r.kpub.merchantID == merchantID {
			n++
		}
	}
	return n
}

// Session creation's hand-written SQL (paymentinsert.go), for plan and
// schema tests.
var (
	SessionSourceSQL  = sessionSourceSQL
	AddressWatchedSQL = addressWatchedSQL
	// InsertCheckSQL is the subquery of the engine's conditional insert:
	// "unique amount" or "free address".
	InsertCheckSQL = func(d Dialect, which string) string {
		q := insertUniqueAmountSQL[d]
		if which == "free address" {
			q = insertOnFreeAddressSQL[d]
		}
		_, sub, _ := strings.Cut(q, " WHERE NOT EXISTS (")
		if sub == "" {
			_, sub, _ = strings.Cut(q, " WHERE (")
		}
		return strings.TrimSuffix(strings.TrimSuffix(sub, " = 0"), ")")
	}
	// InsertOnFreeAddressSQL is the engine's conditional insert of a kpub
	// session; its arguments are the row's, then the address, the chain
	// and the late window's cutoff.
	InsertOnFreeAddressSQL = func(d Dialect) string { return insertOnFreeAddressSQL[d] }
	PaymentColumns         = paymentColumns
	OpenStatuses           = openStatuses
)

// GroupCommitHooks sets the group commit's test hooks before the store is
// used, and lets one batch be in flight at a time (so that inserts queued
// while the first batch is held share the next one).
func GroupCommitHooks(s *Store, onEnqueue, beforeBatch func()) {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	s.commits.onEnqueue, s.commits.beforeBatch = onEnqueue, beforeBatch
	s.commits.limit = 1
}

// OnGroupCommit sets (nil: clears) a hook called after each SQLite group
// commit transaction commits, with how many inserts and kpub index
// reservations ran in it.
func OnGroupCommit(s *Store, f func(inserts, reservations int)) {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	s.commits.onCommit = f
}

// MultiRowInserts is how many inserts went through a Postgres multi-row
// statement.
func MultiRowInserts(s *Store) int64 { return s.commits.multiRowInserts.Load() }

// GroupCommitLimit is how many batches may be in flight at once.
func GroupCommitLimit(s *Store) int { return s.commits.limit }

// GroupCommitIdle is closed once no committer goroutine runs.
func GroupCommitIdle(s *Store) <-chan struct{} {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	return s.commits.idle
}

// InsertUniqueAmount runs p's conditional insert as CreatePayment's loop
// does, one try: inserted, or why not.
func InsertUniqueAmount(ctx context.Context, s *Store, p *Payment) (bool, error) {
	return s.insertUniqueAmount(ctx, p, s.clock().Add(-s.lateWindow))
}

// FreeAddressRows is the multi-row statement a Postgres batch sends for
// ps's free-address inserts (pgRows): its text and its arrays.
func FreeAddressRows(s *Store, ps []*Payment) (string, []any) {
	cutoff := s.clock().Add(-s.lateWindow)
	rows := make([]*commitReq, len(ps))
	for i, p := range ps {
		rows[i] = &commitReq{sql: insertOnFreeAddressSQL[Postgres], args: append(p.insertArgs(), p.PayAddress, p.Chain, cutoff)}
	}
	m := rowsOf(rows)
	return m.text, m.args
}

// InsertOnFreeAddress runs p's free-address insert (a kpub session's), one
// try.
func InsertOnFreeAddress(ctx context.Context, s *Store, p *Payment) (bool, error) {
	return s.insertOnFreeAddress(ctx, p, s.clock().Add(-s.lateWindow))
}

// IsUniqueViolation exposes isUniqueViolation.
func IsUniqueViolation(err error) bool { return isUniqueViolation(err) }

// SessionSourceView is what sessionSource returned, for the cache tests.
type SessionSourceView struct {
	Link                   PaymentLink
	Merchant               Merchant
	DaaScore, Head, Cursor int64
}

// SessionSourceOf exposes sessionSource (cached as session creation reads
// it).
func SessionSourceOf(ctx context.Context, s *Store, slug string) (*SessionSourceView, error) {
	src, err := s.sessionSource(ctx, slug)
	if err != nil {
		return nil, err
	}
	return &SessionSourceView{Link: src.link, Merchant: src.merchant, DaaScore: src.daaScore, Head: src.head, Cursor: src.cursor}, nil
}

// SetPaymentIDs replaces the generator of new payments' ids (nil: back to
// NewPaymentID), to force clashes.
func SetPaymentIDs(s *Store, f func() string) {
	if f == nil {
		f = NewPaymentID
	}
	s.paymentID = f
}

// ReserveIndex exposes reserveIndex: the merchant's next kpub index.
func ReserveIndex(ctx context.Context, s *Store, merchantID string) (int64, string, error) {
	return s.reserveIndex(ctx, merchantID)
}

// InsertAtIndex exposes insertAtIndex: p at the address of kpub's index.
func InsertAtIndex(ctx context.Context, s *Store, p *Payment, idx int64, kpub string) (bool, error) {
	return s.insertAtIndex(ctx, p, idx, kpub, s.clock().Add(-s.lateWindow))
}

// WriterDerives is how many kpub addresses the SQLite committer derived
// itself, for want of a usable guess.
func WriterDerives(s *Store) int64 { return s.commits.writerDerives.Load() }

// KpubGuessesDerived is how many of the queued kpub sessions guessed their
// index and have derived its address.
func KpubGuessesDerived(s *Store) int {
	s.commits.mu.Lock()
	defer s.commits.mu.Unlock()
	n := 0
	for _, r := range s.commits.queue {
		if r.kpub == nil || r.kpub.guess == nil {
			continue
		}
		select {
		case <-r.kpub.derived:
			n++
		default:
		}
	}
	return n
}

// AnalyzeIfRows is migration 0021's ANALYZE step, for its test.
var AnalyzeIfRows = analyzeIfRows

// DollarPlaceholders is the pgx batch's placeholder numbering, for plans
// PREPAREd in tests.
var DollarPlaceholders = dollarPlaceholders
