package models

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The EVM half of the chain seam, only as far as the neutral credit path
// needs it today: how a USDC transfer becomes a Credit, and how deep an EVM
// chain's observation says credits are. The EVM watcher domain
// (ApplyEVMObservation: orphaning, the scan cursor, confirmations) builds on
// these and on credits.go.

// EVMTransfer is one USDC Transfer log paying a watched receiver.
type EVMTransfer struct {
	Chain       string
	TxHash      string
	LogIndex    int64
	BlockNumber int64
	BlockHash   string
	BlockTime   time.Time
	Token       string
	From        string
	To          string
	Amount      int64 // micro-USDC
	// Unconvertible marks a value above evm.MaxUnits (2^62): recorded as
	// unmatched with Amount 0, never converted or credited.
	Unconvertible bool
}

// evmBacking is an EVM chain's observation: a live (non-orphaned) transfer
// at block n is head − n + 1 deep. Orphaned transfers are never active
// credits, so every active credit is backed. With a finality tag (final
// set: the node's safe or finalized block), depth alone never confirms: a
// block above final is at most required − 1 deep, one at or below final at
// least required.
type evmBacking struct {
	head     int64
	final    *int64
	required int64
}

// at is the depth of a transfer in block n under this observation.
func (b evmBacking) at(n int64) int64 {
	d := evmDepth(b.head, n)
	if b.final == nil {
		return d
	}
	if n <= *b.final {
		return max(d, b.required)
	}
	return min(d, max(b.required-1, 0))
}

func (b evmBacking) depth(credits []Transfer) (int64, bool) {
	if len(credits) == 0 {
		return 0, false
	}
	depth := int64(-1)
	for _, t := range credits {
		if t.BlockNumber == nil || t.OrphanedAt != nil {
			return 0, false
		}
		d := b.at(*t.BlockNumber)
		if depth < 0 || d < depth {
			depth = d
		}
	}
	return depth, true
}

// evmDepth counts the transfer's own block: mined in the head block is 1.
func evmDepth(head, block int64) int64 {
	if head < block {
		return 0
	}
	return head - block + 1
}

// evmCredit is a transfer log in neutral terms. EVM's start rule: a session
// can be paid only by a block after its start block (the head observed when
// it opened), start_block < block number.
func evmCredit(x EVMTransfer, head int64) Credit {
	block := x.BlockNumber
	return Credit{Chain: x.Chain, TxID: x.TxHash, Address: x.To, Amount: x.Amount,
		Depth: evmDepth(head, block), BlockTime: x.BlockTime, Sender: x.From,
		Started: func(q *gorm.DB) *gorm.DB { return q.Where("start_block < ?", block) }}
}

// evmStoredCredit is a recorded EVM transfer as a credit measured from the
// chain's last observed head (manual assignment).
func evmStoredCredit(t *Transfer, st *ChainState) (Credit, backing) {
	x := EVMTransfer{Chain: t.Chain, TxHash: t.TxID, LogIndex: t.OutputIndex, BlockHash: t.BlockHash,
		Token: t.TokenAddress, From: t.SenderAddress, To: t.Address, Amount: t.Amount}
	if t.BlockNumber != nil {
		x.BlockNumber = *t.BlockNumber
	}
	if t.BlockTime != nil {
		x.BlockTime = *t.BlockTime
	}
	return evmCredit(x, st.Head), evmBacking{head: st.Head}
}

// EVMRecordResult says what recording one transfer log did.
type EVMRecordResult struct{ Created, Matched, Confirmed bool }

// RecordEVMTransfer records one USDC transfer log under (chain, tx hash, log
// index) among live rows and credits it through the neutral path: exact
// unique amount on that chain and receiver, session started before the
// log's block, depth head − block + 1. Recording the same log twice changes
// nothing. It is the building block of the EVM watcher's domain call.
func (s *Store) RecordEVMTransfer(ctx context.Context, x EVMTransfer, head int64) (EVMRecordResult, error) {
	var r EVMRecordResult
	var err error
	r.Created, r.Matched, r.Confirmed, err = s.recordEVMTransfer(ctx, x, head, s.clock())
	if errors.Is(err, errConcurrentChange) {
		return EVMRecordResult{}, nil // rolled back; the next cycle sees it as new
	}
	return r, err
}

func (s *Store) recordEVMTransfer(ctx context.Context, x EVMTransfer, head int64, now time.Time) (created, matched, confirmed bool, err error) {
	n, bt := x.BlockNumber, x.BlockTime
	t := &Transfer{ID: uuid.NewString(), Chain: x.Chain, TxID: x.TxHash, OutputIndex: x.LogIndex, Address: x.To,
		Amount: x.Amount, BlockNumber: &n, BlockHash: x.BlockHash, BlockTime: &bt, TokenAddress: x.Token,
		SenderAddress: x.From, DetailsFetched: true, SeenAt: now, CreatedAt: now}
	return s.recordCredit(ctx, t, evmCredit(x, head), evmBacking{head: head}, now)
}

// EVMReorgWindow is how many blocks back the EVM watcher distrusts: an
// unmatched transfer younger than this is re-checked each cycle, and a
// changed cursor hash rescans this many blocks.
const EVMReorgWindow = 128

// OrphanExpiryGrace keeps a pending session whose transfer was orphaned
// from expiring for a while: the transaction usually comes back in the next
// blocks under a new block hash.
const OrphanExpiryGrace = 10 * time.Minute

// EVMSettling is a recorded transfer whose block the watcher re-checks
// against the canonical chain each cycle.
type EVMSettling struct {
	ID          string
	TxHash      string
	LogIndex    int64
	BlockNumber int64
	BlockHash   string
	PaymentID   *string
}

// EVMWatchState is what one EVM watcher cycle needs from the store.
type EVMWatchState struct {
	// HasCursor is false before the chain's first scan.
	HasCursor  bool
	Head       int64
	Cursor     int64
	CursorHash string
	// Receivers are the distinct pay addresses of the chain's open and
	// late-window sessions (lower-case; confirming ones included: a reorg
	// may hand their transfer back to be found again); OldestStart the
	// smallest start_block among those sessions.
	Receivers   []string
	OldestStart int64
	// Unsettled are the live transfers credited to a payment not yet
	// confirmed, and the unmatched ones younger than EVMReorgWindow.
	Unsettled []EVMSettling
}

// EVMWatchState reads chain's scan cursor, receivers and unsettled
// transfers.
func (s *Store) EVMWatchState(ctx context.Context, chain string) (*EVMWatchState, error) {
	return s.EVMWatchStateFrom(ctx, chain, nil)
}

// EVMWatchStateFrom is EVMWatchState with the receivers served from idx
// (refreshed first), a watcher's index of chain's watched sessions, instead
// of read from every open row; nil reads them.
func (s *Store) EVMWatchStateFrom(ctx context.Context, chain string, idx *OpenIndex) (*EVMWatchState, error) {
	db := s.db.R(ctx)
	now := s.clock()
	out := &EVMWatchState{}
	var st ChainState
	switch err := db.Where("chain = ?", chain).Take(&st).Error; {
	case err == nil:
		out.HasCursor = st.CursorHash != ""
		out.Head, out.Cursor, out.CursorHash = st.Head, st.Cursor, st.CursorHash
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, fmt.Errorf("models: chain state: %w", err)
	}
	if idx != nil {
		if err := s.Refresh(ctx, idx); err != nil {
			return nil, err
		}
		out.Receivers, out.OldestStart = idx.receivers()
	} else if err := s.readReceivers(ctx, chain, now, out); err != nil {
		return nil, err
	}
	// Credited-unconfirmed and young unmatched transfers, in two queries
	// (disjoint: payment_id set or not), each on its own index: their OR
	// let SQLite use only the chain of transfers_block_idx and read every
	// transfer of the chain. The first names no chain (its payments do): a
	// chain condition would again draw SQLite to transfers_block_idx.
	var ts, young []Transfer
	const live = "orphaned_at IS NULL AND reversed_at IS NULL AND block_number IS NOT NULL"
	unsettled := db.Model(&Payment{}).Select("id").Where("chain = ? AND "+statusIn("status", unconfirmedStatuses...), chain)
	if err := db.Where(live).Where("payment_id IN (?)", unsettled).Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("models: unsettled transfers: %w", err)
	}
	if err := db.Where(live).Where("chain = ? AND payment_id IS NULL AND block_number > ?", chain, out.Head-EVMReorgWindow).Find(&young).Error; err != nil {
		return nil, fmt.Errorf("models: unmatched transfers: %w", err)
	}
	ts = append(ts, young...)
	sort.Slice(ts, func(i, j int) bool {
		if *ts[i].BlockNumber != *ts[j].BlockNumber {
			return *ts[i].BlockNumber < *ts[j].BlockNumber
		}
		return ts[i].ID < ts[j].ID
	})
	for _, t := range ts {
		out.Unsettled = append(out.Unsettled, EVMSettling{ID: t.ID, TxHash: t.TxID, LogIndex: t.OutputIndex,
			BlockNumber: *t.BlockNumber, BlockHash: t.BlockHash, PaymentID: t.PaymentID})
	}
	return out, nil
}

// readReceivers reads chain's watched addresses and their oldest start.
func (s *Store) readReceivers(ctx context.Context, chain string, now time.Time, out *EVMWatchState) error {
	db := s.db.R(ctx)
	// One pass over the open and the late-window sessions, each branch
	// fully on payments_chain_open_idx (status, chain, expires_at): an OR of
	// the two made SQLite (no statistics) use only the index's chain column
	// and read every past session of the chain each cycle.
	var rows []struct {
		PayAddress string
		MinStart   int64
	}
	if err := db.Raw(`SELECT pay_address, COALESCE(MIN(start_block), 0) AS min_start FROM (
	SELECT pay_address, start_block FROM payments WHERE chain = ? AND `+openStatusSQL+`
	UNION ALL
	SELECT pay_address, start_block FROM payments WHERE chain = ? AND `+expiredStatusSQL+` AND expires_at > ?
) AS open_sessions GROUP BY pay_address ORDER BY pay_address`,
		chain, chain, now.Add(-s.lateWindow)).
		Scan(&rows).Error; err != nil {
		return fmt.Errorf("models: receivers: %w", err)
	}
	for i, r := range rows {
		out.Receivers = append(out.Receivers, r.PayAddress)
		if i == 0 || r.MinStart < out.OldestStart {
			out.OldestStart = r.MinStart
		}
	}
	return nil
}

// EVMObservation is one EVM watcher cycle's view of a chain.
type EVMObservation struct {
	Chain   string
	ChainID int64
	Head    int64
	// Final is the node's safe or finalized block when the chain's
	// finality says so (nil: depth decides).
	Final *int64
	// Orphaned are unsettled transfers whose stored block hash is no
	// longer canonical.
	Orphaned []EVMSettling
	// Transfers are the USDC Transfer logs to watched receivers found in
	// the scanned range, oldest first.
	Transfers []EVMTransfer
	// Cursor is the last fully scanned block: number, hash and timestamp.
	Cursor     int64
	CursorHash string
	CursorTime time.Time
}

// EVMApplyResult counts what one observation changed.
type EVMApplyResult struct {
	Orphaned, Recorded, Matched, Confirmed int
}

// ApplyEVMObservation applies one watcher cycle, in order: orphaned
// transfers are marked and their credits taken back (conditional updates,
// an ActivityReversed entry "block reorganised", no event); each new log is
// recorded under (chain, tx hash, log index) among live rows and matched
// through the neutral path (re-inclusion after a reorg is a new live row and
// credits again, once); confirming payments reach confirmed at the chain's
// depth or finality with their event; then the cursor and head are saved.
// Each change is its own transaction with its events; a lost race is left to
// the next cycle.
func (s *Store) ApplyEVMObservation(ctx context.Context, obs EVMObservation) (EVMApplyResult, error) {
	var r EVMApplyResult
	now := s.clock()
	b := evmBacking{head: obs.Head, final: obs.Final, required: int64(s.evmConfirmations(obs.Chain))}
	for _, o := range obs.Orphaned {
		done, err := s.orphanTransfer(ctx, o, now)
		if err != nil {
			return r, err
		}
		if done {
			r.Orphaned++
		}
	}
	var tally creditTally
	for _, x := range obs.Transfers {
		if err := tally.add(s.recordEVMObserved(ctx, x, b, now)); err != nil {
			return r, err
		}
	}
	r.Recorded, r.Matched, r.Confirmed = tally.recorded, tally.matched, r.Confirmed+tally.confirmed
	n, err := s.confirmEVM(ctx, obs.Chain, b, now)
	r.Confirmed += n
	if err != nil {
		return r, err
	}
	ct := obs.CursorTime.UTC()
	st := ChainState{Chain: obs.Chain, ChainID: obs.ChainID, Head: obs.Head, Cursor: obs.Cursor, CursorHash: obs.CursorHash,
		CursorTime: &ct, ObservedAt: now}
	err = s.db.W(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "chain"}},
		DoUpdates: clause.AssignmentColumns([]string{"chain_id", "head", "cursor", "cursor_hash", "cursor_time", "observed_at"}),
	}).Create(&st).Error
	if err != nil {
		return r, fmt.Errorf("models: save cursor: %w", err)
	}
	return r, nil
}

// evmConfirmations is the depth USDC payments need on chain.
func (s *Store) evmConfirmations(chain string) int {
	if c := s.evm[chain].Confirmations; c > 0 {
		return c
	}
	return defaultEVMConfirmations
}

// orphanTransfer marks o orphaned when its stored block hash is still the
// one the watcher found non-canonical, and takes its credit back, in one
// transaction.
func (s *Store) orphanTransfer(ctx context.Context, o EVMSettling, now time.Time) (bool, error) {
	done := false
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Transfer{}).Where("id = ? AND block_hash = ? AND orphaned_at IS NULL", o.ID, o.BlockHash).
			Update("orphaned_at", now)
		if res.Error != nil {
			return fmt.Errorf("models: orphan transfer: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // orphaned by another watcher already
		}
		done = true
		var t Transfer
		if err := tx.Where("id = ?", o.ID).Take(&t).Error; err != nil {
			return fmt.Errorf("models: orphaned transfer: %w", err)
		}
		if t.PaymentID == nil || t.ReversedAt != nil {
			return nil
		}
		_, err := s.reverseCreditTx(tx, t, "block reorganised", now)
		return err
	})
	if errors.Is(err, errConcurrentChange) {
		return false, nil
	}
	return done, err
}

// recordEVMObserved records one log of an observation: matched through the
// neutral path, or, when its value cannot be converted, kept unmatched.
func (s *Store) recordEVMObserved(ctx context.Context, x EVMTransfer, b evmBacking, now time.Time) (created, matched, confirmed bool, err error) {
	n, bt := x.BlockNumber, x.BlockTime.UTC()
	t := &Transfer{ID: uuid.NewString(), Chain: x.Chain, TxID: x.TxHash, OutputIndex: x.LogIndex, Address: x.To,
		Amount: x.Amount, BlockNumber: &n, BlockHash: x.BlockHash, BlockTime: &bt, TokenAddress: x.Token,
		SenderAddress: x.From, DetailsFetched: true, SeenAt: now, CreatedAt: now}
	if x.Unconvertible {
		t.Amount = 0
		err = s.db.Tx(ctx, func(tx *gorm.DB) error {
			ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(t)
			if ins.Error != nil || ins.RowsAffected == 0 {
				return ins.Error
			}
			created = true
			return s.claimUnmatched(tx, t)
		})
		return
	}
	c := evmCredit(x, b.head)
	c.Depth = b.at(x.BlockNumber)
	return s.recordCredit(ctx, t, c, b, now)
}

// confirmEVM moves chain's confirming payments whose credits are all deep
// enough (or final) to confirmed, and keeps the others' confirmations
// current.
func (s *Store) confirmEVM(ctx context.Context, chain string, b evmBacking, now time.Time) (int, error) {
	var ps []Payment
	if err := s.db.R(ctx).Where("chain = ? AND status = ?", chain, StatusConfirming).Order("created_at").Limit(1000).Find(&ps).Error; err != nil {
		return 0, fmt.Errorf("models: confirming payments: %w", err)
	}
	if len(ps) == 0 {
		return 0, nil
	}
	ids := make([]string, len(ps))
	for i := range ps {
		ids[i] = ps[i].ID
	}
	credits, err := s.activeCredits(s.db.R(ctx), ids)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range ps {
		p := &ps[i]
		depth, ok := b.depth(credits[p.ID])
		if !ok {
			continue
		}
		if depth >= int64(p.RequiredConfirmations) {
			done, err := s.confirmPayment(ctx, p, depth, now)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
			continue
		}
		if depth != p.Confirmations {
			if err := s.db.W(ctx).Model(&Payment{}).Where("id = ? AND status = ? AND amount_received = ?", p.ID, StatusConfirming, p.AmountReceived).
				Updates(map[string]any{"confirmations": depth, "updated_at": now}).Error; err != nil {
				return n, fmt.Errorf("models: confirmations: %w", err)
			}
		}
	}
	return n, nil
}
