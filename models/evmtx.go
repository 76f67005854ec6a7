package models

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"gorm.io/gorm"
)

// Transactions reported by the customer's browser wallet (the checkout's
// "Pay with browser wallet"). A reported hash is only a hint: it is shown
// as "sent, waiting to be mined", and the EVM side checks its receipt so a
// reverted transaction can be shown as a failure. It never credits a
// session; only the watcher's Transfer logs do.

// txHashPattern is an EVM transaction hash: 0x and 64 hex digits.
var txHashPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{64}$`)

// SubmitWalletTx records the transaction hash a customer's wallet returned
// for a USDC session, once per session and only while it awaits payment.
// The hash is stored lower-case with the time it became known.
func (s *Store) SubmitWalletTx(ctx context.Context, paymentID, hash string) (*Payment, error) {
	hash = strings.TrimSpace(hash)
	if !txHashPattern.MatchString(hash) {
		return nil, Invalid("txHash", "A transaction hash is 0x followed by 64 hexadecimal digits")
	}
	hash = strings.ToLower(hash)
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	if p.AssetOf() != USDC {
		return nil, &StateError{Reason: ErrNotWalletPayment, Message: "This payment is not paid with a browser wallet"}
	}
	now := s.clock()
	if p.Status != StatusPending || !now.Before(p.ExpiresAt) {
		return nil, &StateError{Reason: ErrPaymentClosed, Message: "This payment request no longer takes payments"}
	}
	if p.SubmittedTxHash != "" {
		return nil, &ConflictError{Field: "txHash", Message: "A transaction was already reported for this payment"}
	}
	// The hash and its transition (KiraPay's transaction.created) in one
	// transaction.
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Payment{}).
			Where("id = ? AND status = ? AND submitted_tx_hash = ''", p.ID, StatusPending).
			Updates(map[string]any{"submitted_tx_hash": hash, "tx_known_at": now, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("models: submit wallet tx: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return &ConflictError{Field: "txHash", Message: "A transaction was already reported for this payment"}
		}
		p.SubmittedTxHash, p.TxKnownAt, p.UpdatedAt = hash, &now, now
		return s.emitTransition(tx, p, TransitionTxSubmitted)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// SubmittedTx is a wallet-reported transaction still waiting for its
// session to be paid.
type SubmittedTx struct {
	PaymentID string
	TxHash    string
}

// SubmittedTxsToCheck lists up to limit wallet-reported transactions of
// chain's sessions that are still pending without a recorded failure, in
// payment id order after the id after ("" from the start), so a caller can
// walk all of them in bounded batches.
func (s *Store) SubmittedTxsToCheck(ctx context.Context, chain, after string, limit int) ([]SubmittedTx, error) {
	var rows []Payment
	err := s.db.R(ctx).Select("id", "submitted_tx_hash").
		// The literal conditions are payments_submitted_idx's, so both
		// engines read that small partial index, not every pending session.
		Where("chain = ? AND status = 'pending' AND submitted_tx_hash <> '' AND failure = '' AND id > ?", chain, after).
		Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: submitted txs: %w", err)
	}
	out := make([]SubmittedTx, len(rows))
	for i, r := range rows {
		out[i] = SubmittedTx{PaymentID: r.ID, TxHash: r.SubmittedTxHash}
	}
	return out, nil
}

// MarkSubmittedTxFailed records why a session's wallet-reported transaction
// failed (e.g. it reverted), shown on the checkout. It applies only while
// the session is still pending with that report and no failure yet (a
// conditional update), and reports whether it did.
func (s *Store) MarkSubmittedTxFailed(ctx context.Context, paymentID, reason string) (bool, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return false, Invalid("failure", "A failure needs a reason")
	}
	done := false
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Payment{}).
			Where("id = ? AND status = ? AND submitted_tx_hash <> '' AND failure = ''", paymentID, StatusPending).
			Updates(map[string]any{"failure": reason, "updated_at": s.clock()})
		if res.Error != nil {
			return fmt.Errorf("models: mark submitted tx failed: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		done = true
		var p Payment
		if err := tx.Where("id = ?", paymentID).Take(&p).Error; err != nil {
			return fmt.Errorf("models: reverted payment: %w", err)
		}
		return s.emitTransition(tx, &p, TransitionTxReverted)
	})
	if err != nil {
		return false, err
	}
	return done, nil
}
