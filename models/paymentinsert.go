package models

import (
	"context"
	"slices"
	"strings"
	"time"
)

// The statements of session creation, written by hand in this one place:
// they are the hot write path (issue 12), and gorm's statement building and
// reflection cost more than the statements themselves there.

// paymentColumns are the payments columns in the order of insertArgs.
var paymentColumns = []string{
	"id", "merchant_id", "link_id", "chain", "asset", "pay_address", "derivation_index",
	"amount_expected", "amount_received", "price_currency", "price_amount", "rate", "rate_source", "rate_at",
	"usd_cents", "status", "late", "confirmations", "required_confirmations", "start_daa_score", "start_block",
	"token_address", "submitted_tx_hash", "tx_known_at", "failure", "tx_id", "sender_address",
	"customer_email", "customer_name", "metadata", "visitor",
	"expires_at", "detected_at", "confirmed_at", "expired_at", "created_at", "updated_at",
}

// insertArgs are p's values in the order of paymentColumns.
func (p *Payment) insertArgs() []any {
	return []any{
		p.ID, p.MerchantID, p.LinkID, p.Chain, p.Asset, p.PayAddress, p.DerivationIndex,
		p.AmountExpected, p.AmountReceived, string(p.PriceCurrency), p.PriceAmount, p.Rate, p.RateSource, p.RateAt,
		p.USDCents, string(p.Status), p.Late, p.Confirmations, p.RequiredConfirmations, p.StartDaaScore, p.StartBlock,
		p.TokenAddress, p.SubmittedTxHash, p.TxKnownAt, p.Failure, p.TxID, p.SenderAddress,
		p.CustomerEmail, p.CustomerName, p.Metadata, p.Visitor,
		p.ExpiresAt, p.DetectedAt, p.ConfirmedAt, p.ExpiredAt, p.CreatedAt, p.UpdatedAt,
	}
}

// PaymentRow is p as the session insert writes it: the payments columns
// and their values, in order. The harness's session-row ceiling
// (cmd/till-bench) inserts exactly this, so the two cannot drift apart.
func PaymentRow(p *Payment) (columns []string, values []any) {
	return slices.Clone(paymentColumns), p.insertArgs()
}

// insertPaymentSQL is the head of a conditional insert of one payment: the
// row goes in only if the WHERE condition that follows holds, checked in the
// same statement (so no other writer can slip in between).
var insertPaymentSQL = "INSERT INTO payments (" + strings.Join(paymentColumns, ", ") +
	") SELECT " + strings.TrimSuffix(strings.Repeat("?, ", len(paymentColumns)), ", ") + " WHERE "

// lateAmountTakenSQL matches an expired session on the same address, chain
// and amount that can still be paid late. The literal conditions are the
// partial index payments_late_amount_idx's predicate, so the check reads no
// history. Open (pending) sessions are kept apart by the partial unique
// index payments_open_amount_key.
const lateAmountTakenSQL = "WHERE status = 'expired' AND tx_id = '' AND derivation_index IS NULL" +
	" AND pay_address = ? AND amount_expected = ? AND expires_at > ? AND chain = ?)"

// addressWatchedSQL matches any session whose address is still watched:
// open, or expired but inside the late window. The statuses are literals
// (openStatuses) so the planner sees them without statistics.
const addressWatchedSQL = "WHERE pay_address = ? AND chain = ?" +
	" AND (status IN ('pending', 'confirming', 'underpaid') OR (status = 'expired' AND expires_at > ?)))"

// The two conditional inserts per engine. The address check counts rather
// than asks NOT EXISTS: with NOT EXISTS, kpub sessions on Postgres fell to
// 6–14/s at 1M past sessions on one address (BenchmarkPayments, twice; the
// inserts waiting on data file reads), with the count 1,403/s. The likely
// cause is a prepared statement's generic plan, which costs EXISTS as
// stopping at its first row; a count is costed in full. SQLite's planner
// has no statistics and, counting equality terms, would take the address
// index of migration 0016 for the late check (reading every late-payable
// session on the address instead of one amount's), so there the index is
// named.
var (
	insertUniqueAmountSQL = map[Dialect]string{
		SQLite:   insertPaymentSQL + "NOT EXISTS (SELECT 1 FROM payments INDEXED BY payments_late_amount_idx " + lateAmountTakenSQL,
		Postgres: insertPaymentSQL + "NOT EXISTS (SELECT 1 FROM payments " + lateAmountTakenSQL,
	}
	insertOnFreeAddressSQL = map[Dialect]string{
		SQLite:   insertPaymentSQL + "(SELECT COUNT(*) FROM payments INDEXED BY payments_watched_address_idx " + addressWatchedSQL + " = 0",
		Postgres: insertPaymentSQL + "(SELECT COUNT(*) FROM payments " + addressWatchedSQL + " = 0",
	}
)

// pgBatchConflict is each Postgres insert's clause in a batch (pgbatch.go).
// The unique-amount insert names the partial unique index on open amounts
// as its only arbiter: a clash there is "not inserted", while a clash on
// the id stays an error. Without a target every unique index (the primary
// key, payments_short_id_key, payments_open_amount_key) was an arbiter,
// each probed before the insert and checked again after it. The
// free-address insert has none: its rows carry a derivation index, so the
// open-amount index does not hold them, and an id clash is an error as
// when the statement runs alone.
var pgBatchConflict = map[string]string{
	insertUniqueAmountSQL[Postgres]: " ON CONFLICT (chain, pay_address, amount_expected)" +
		" WHERE status = 'pending' AND derivation_index IS NULL DO NOTHING",
}

// insertUniqueAmount inserts p unless an expired session on its address and
// amount can still be paid late (inserted false); a pending one with the same
// amount fails the partial unique index (a unique violation).
func (s *Store) insertUniqueAmount(ctx context.Context, p *Payment, lateCutoff time.Time) (inserted bool, err error) {
	args := append(p.insertArgs(), p.PayAddress, p.AmountExpected, lateCutoff, p.Chain)
	return s.execInsert(ctx, insertUniqueAmountSQL[s.db.Dialect], args)
}

// insertOnFreeAddress inserts p unless a session on its address is still
// watched (inserted false).
func (s *Store) insertOnFreeAddress(ctx context.Context, p *Payment, lateCutoff time.Time) (inserted bool, err error) {
	args := append(p.insertArgs(), p.PayAddress, p.Chain, lateCutoff)
	return s.execInsert(ctx, insertOnFreeAddressSQL[s.db.Dialect], args)
}

// execInsert runs a conditional insert in the next group commit
// (groupcommit.go): on SQLite the single writer's next transaction, on
// Postgres the next batch sent in one round trip (pgbatch.go).
func (s *Store) execInsert(ctx context.Context, sql string, args []any) (inserted bool, err error) {
	if s.commits != nil {
		return s.commits.exec(ctx, sql, args)
	}
	res := s.db.W(ctx).Exec(sql, args...)
	return res.RowsAffected == 1, res.Error
}
