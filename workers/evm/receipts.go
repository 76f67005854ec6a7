package evm

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"till/models"
)

// Receipt checks of wallet-reported transactions. The checkout's "Pay with
// browser wallet" reports the hash its wallet returned; the hash never
// credits a session (only the watcher's Transfer logs do), but a
// transaction that reverted will never pay, and its customer should be told
// so instead of waiting. The EVM side runs one ReceiptChecker per chain,
// once per watcher cycle.

// DefaultReceiptBatch bounds the receipts fetched per cycle.
const DefaultReceiptBatch = 20

// RevertedFailure is the failure a reverted wallet transaction records.
const RevertedFailure = "The transaction was reverted on the network"

// ReceiptChecker looks up the receipts of one chain's wallet-reported
// transactions of pending sessions, at most Batch per cycle, walking all of
// them in turn across cycles, and marks a reverted one (receipt status 0) as
// the session's failure. Not safe for concurrent use (one per chain).
type ReceiptChecker struct {
	Store  *models.Store
	Client *Client
	Chain  string
	// Batch is the most receipts per cycle (DefaultReceiptBatch when 0).
	Batch int
	after string
}

// ReceiptCycle is what one cycle did.
type ReceiptCycle struct {
	Checked, Reverted int
}

// Cycle checks the next batch. A transaction not mined yet is checked again
// later; an error of the node ends the cycle (the next starts where it
// stopped).
func (r *ReceiptChecker) Cycle(ctx context.Context) (ReceiptCycle, error) {
	var out ReceiptCycle
	batch := r.Batch
	if batch <= 0 {
		batch = DefaultReceiptBatch
	}
	txs, err := r.Store.SubmittedTxsToCheck(ctx, r.Chain, r.after, batch)
	if err != nil {
		return out, err
	}
	for _, tx := range txs {
		rc, err := r.Client.TransactionReceipt(ctx, common.HexToHash(tx.TxHash))
		if errors.Is(err, ErrNotFound) {
			r.after = tx.PaymentID
			out.Checked++
			continue
		}
		if err != nil {
			return out, fmt.Errorf("evm: receipt for payment %s: %w", tx.PaymentID, err)
		}
		out.Checked++
		if rc.Status == 0 {
			marked, err := r.Store.MarkSubmittedTxFailed(ctx, tx.PaymentID, RevertedFailure)
			if err != nil {
				return out, err
			}
			if marked {
				out.Reverted++
			}
		}
		r.after = tx.PaymentID
	}
	if len(txs) < batch {
		r.after = "" // the walk reached the end: start over next cycle
	}
	return out, nil
}
