package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Transfer is one on-chain credit Till observed: a UTXO (Kaspa) keyed by its
// outpoint. Each is credited to at most one payment; credits that match no
// payment are kept with PaymentID nil and shown to the merchant.
type Transfer struct {
	ID                 string
	Chain              string
	TxID               string
	OutputIndex        int64
	Address            string
	Amount             int64
	MerchantID         *string
	PaymentID          *string
	BlockDaaScore      *int64
	AcceptingBlueScore *int64
	BlockTime          *time.Time
	SenderAddress      string
	DetailsFetched     bool
	DetailsAttempts    int
	// Coinbase marks a miner reward: recorded, never credited.
	Coinbase bool
	// MissingSince is when a credited output was first missing from the
	// UTXO answer without its transaction being confirmed accepted; it
	// starts the reversal grace period.
	MissingSince *time.Time
	// ReversedAt is when the chain took the credit back (rejected or
	// unknown after the grace period). The row is kept; a reversed credit
	// no longer counts towards its payment.
	ReversedAt *time.Time
	// BlockNumber and BlockHash place an EVM transfer (OutputIndex is then
	// its log index); TokenAddress is the token contract that emitted it.
	BlockNumber  *int64
	BlockHash    string
	TokenAddress string
	// OrphanedAt is when the transfer's block left the canonical chain
	// (EVM reorg). The row is kept; the outpoint key spans live rows only.
	OrphanedAt *time.Time
	SeenAt     time.Time
	CreatedAt  time.Time
}

// TableName pins the table name.
func (Transfer) TableName() string { return "transfers" }

// TransfersNeedingDetails returns transfers whose sender and block time are
// not known yet, matched ones first, at most limit.
func (s *Store) TransfersNeedingDetails(ctx context.Context, chain string, limit int) ([]Transfer, error) {
	var ts []Transfer
	err := s.db.R(ctx).Where("chain = ? AND details_fetched = ?", chain, false).
		Order("CASE WHEN payment_id IS NULL THEN 1 ELSE 0 END, details_attempts, seen_at").
		Limit(limit).Find(&ts).Error
	if err != nil {
		return nil, fmt.Errorf("models: transfers needing details: %w", err)
	}
	return ts, nil
}

// maxDetailAttempts bounds how often Till asks the indexer about one
// transaction before giving up on its sender (confirmation never waits on it).
const maxDetailAttempts = 60

// TransferDetails is what transaction history tells about a transfer.
type TransferDetails struct {
	SenderAddress      string
	BlockTime          *time.Time
	AcceptingBlueScore uint64
}

// SetTransferDetails stores a transfer's sender and block time and copies
// them to its payment: the sender when the payment has none, and the late
// flag cleared when the block turns out to predate the payment's expiry.
func (s *Store) SetTransferDetails(ctx context.Context, id string, d TransferDetails) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		var t Transfer
		if err := tx.Where("id = ?", id).Take(&t).Error; err != nil {
			return fmt.Errorf("models: transfer %s: %w", id, err)
		}
		up := map[string]any{"details_fetched": true, "sender_address": d.SenderAddress}
		if d.BlockTime != nil {
			up["block_time"] = d.BlockTime.UTC()
		}
		if d.AcceptingBlueScore > 0 && t.AcceptingBlueScore == nil {
			up["accepting_blue_score"] = int64(d.AcceptingBlueScore)
		}
		if err := tx.Model(&Transfer{}).Where("id = ?", id).Updates(up).Error; err != nil {
			return fmt.Errorf("models: transfer details: %w", err)
		}
		if t.PaymentID == nil || t.ReversedAt != nil {
			return nil // a reversed credit says nothing about its payment
		}
		if d.SenderAddress != "" {
			if err := tx.Model(&Payment{}).Where("id = ? AND sender_address = ''", *t.PaymentID).
				Update("sender_address", d.SenderAddress).Error; err != nil {
				return fmt.Errorf("models: payment sender: %w", err)
			}
		}
		if d.BlockTime != nil {
			if err := tx.Model(&Payment{}).Where("id = ? AND late = ? AND expires_at >= ?", *t.PaymentID, true, d.BlockTime.UTC()).
				Update("late", false).Error; err != nil {
				return fmt.Errorf("models: payment late flag: %w", err)
			}
		}
		return nil
	})
}

// TransferDetailsUnavailable counts a failed lookup (the indexer may lag)
// and gives up after maxDetailAttempts.
func (s *Store) TransferDetailsUnavailable(ctx context.Context, id string) error {
	err := s.db.W(ctx).Model(&Transfer{}).Where("id = ?", id).Updates(map[string]any{
		"details_attempts": gorm.Expr("details_attempts + 1"),
		"details_fetched":  gorm.Expr("details_attempts + 1 >= ?", maxDetailAttempts),
	}).Error
	if err != nil {
		return fmt.Errorf("models: transfer attempt: %w", err)
	}
	return nil
}

// ReconcileTarget is an address whose recent history the watcher should
// read, to find coins spent before they were seen in the UTXO set.
type ReconcileTarget struct {
	Address string
	Since   time.Time
}

// KaspaReconcileTargets returns addresses of sessions still waiting for
// money, each with the creation time of its oldest such session, oldest first
// (ties by address, as KaspaReconcileTargetsFrom orders them).
func (s *Store) KaspaReconcileTargets(ctx context.Context, limit int) ([]ReconcileTarget, error) {
	type row struct {
		PayAddress string
		Since      scanTime
	}
	var rows []row
	now := s.clock()
	err := s.db.R(ctx).Model(&Payment{}).Select("pay_address, MIN(created_at) AS since").
		Where("chain = ?", chainKaspa).
		Where(statusIn("status", StatusPending, StatusUnderpaid)+" OR ("+expiredStatusSQL+" AND tx_id = '' AND expires_at > ?)", now.Add(-s.lateWindow)).
		Group("pay_address").Order("since, pay_address").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: reconcile targets: %w", err)
	}
	out := make([]ReconcileTarget, len(rows))
	for i, r := range rows {
		out[i] = ReconcileTarget{Address: r.PayAddress, Since: r.Since.Time}
	}
	return out, nil
}

// NeedsBlueScore reports whether a confirming payment has a credit measured
// in blue score (found through history), so the watcher should fetch the
// sink blue score this cycle.
func (s *Store) NeedsBlueScore(ctx context.Context) (bool, error) {
	var n int64
	err := s.db.R(ctx).Model(&Transfer{}).
		Joins("JOIN payments ON payments.id = transfers.payment_id").
		Where("payments.status = ? AND transfers.block_daa_score IS NULL AND transfers.reversed_at IS NULL", StatusConfirming).
		Limit(1).Count(&n).Error
	return n > 0, err
}
