package models

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"time"
)

// The KiraPay projection: transaction.created, transaction.succeeded and
// transaction.failed for USDC sessions. A session's KiraPay transaction is
// "open" from its created event until a succeeded or failed one closes it;
// created is sent only when none is open (none yet, or the last one failed),
// so the several transfers a session can get make one created, and a
// transfer after a reverted submission starts a new created/succeeded pair
// under the same _id. The subject of created is the transaction hash it
// shows: a partial unique index on events (payment_id, subject) refuses a
// second created for the same hash, so two processes never both send it
// (a reorged transfer mined again sends none).

// kiraPayTxEvents are the KiraPay event types of a session's transaction.
var kiraPayTxEvents = []string{EventTransactionCreated, EventTransactionSucceeded, EventTransactionFailed}

// KiraPayProjection maps a transition of a USDC payment to its KiraPay
// event (nil for none). Kaspa payments cost no query.
func KiraPayProjection(pc ProjectCtx, p *Payment, t Transition) (*Projected, error) {
	if p.AssetOf() != USDC {
		return nil, nil
	}
	switch t {
	case TransitionTransferSeen, TransitionTxSubmitted, TransitionConfirmed, TransitionTxReverted, TransitionExpired:
	default:
		return nil, nil
	}
	open, err := kiraPayTxOpen(pc, p.ID)
	if err != nil {
		return nil, err
	}
	var typ string
	switch {
	case t == TransitionConfirmed:
		typ = EventTransactionSucceeded
	case (t == TransitionTransferSeen || t == TransitionTxSubmitted) && !open:
		typ = EventTransactionCreated
	case (t == TransitionTxReverted || t == TransitionExpired) && open:
		typ = EventTransactionFailed
	default:
		return nil, nil // still open, or nothing was ever created
	}
	src := KiraPayTxSource{Payment: p}
	if err := pc.Tx.Model(&Merchant{}).Where("id = ?", p.MerchantID).Limit(1).Pluck("name", &src.Username).Error; err != nil {
		return nil, fmt.Errorf("models: kirapay merchant: %w", err)
	}
	if typ == EventTransactionFailed && p.TxID == "" {
		var hashes []string
		if err := pc.Tx.Model(&Transfer{}).Where("payment_id = ? AND orphaned_at IS NOT NULL", p.ID).
			Order("orphaned_at DESC").Limit(1).Pluck("tx_id", &hashes).Error; err != nil {
			return nil, fmt.Errorf("models: kirapay orphaned transfer: %w", err)
		}
		if len(hashes) == 1 {
			src.OrphanedTxID = hashes[0]
		}
	}
	tx := KiraPayTx(src, typ != EventTransactionCreated)
	out := &Projected{Type: typ, Data: &tx, ID: KiraPayEventID(pc.Now)}
	if typ == EventTransactionCreated {
		// created announces a new transaction, Pending as in the KiraPay
		// document's example, even when the transfer arrived deep enough:
		// its success is the succeeded event of the same change.
		tx.Status = KiraPayPending
		if tx.Hash != nil {
			out.Subject = *tx.Hash
		}
	}
	return out, nil
}

// kiraPayTxOpen tells whether payment id has a KiraPay transaction not yet
// closed: more created events than succeeded and failed ones. Counting,
// rather than reading the last event, does not depend on the order of
// events written at the same instant.
func kiraPayTxOpen(pc ProjectCtx, paymentID string) (bool, error) {
	var rows []struct {
		Type string
		N    int64
	}
	if err := pc.Tx.Model(&Event{}).Select("type, COUNT(*) AS n").
		Where("payment_id = ? AND dialect = ? AND type IN ?", paymentID, DialectKiraPay, kiraPayTxEvents).
		Group("type").Scan(&rows).Error; err != nil {
		return false, fmt.Errorf("models: kirapay events: %w", err)
	}
	var balance int64
	for _, r := range rows {
		if r.Type == EventTransactionCreated {
			balance += r.N
		} else {
			balance -= r.N
		}
	}
	return balance > 0, nil
}

// kiraPayIDAlphabet is the alphabet of an event id's random tail.
const kiraPayIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// KiraPayEventID is a KiraPay event id: evt_<Unix ms>_<6 random [a-z0-9]>,
// as the KiraPay document's examples (evt_1704067200000_abc123).
func KiraPayEventID(at time.Time) string {
	b := make([]byte, 0, 6)
	buf := make([]byte, 16)
	for len(b) < cap(b) {
		_, _ = rand.Read(buf)
		for _, c := range buf {
			// 252 = 7×36: values above would favour the first letters.
			if c < 252 && len(b) < cap(b) {
				b = append(b, kiraPayIDAlphabet[int(c)%len(kiraPayIDAlphabet)])
			}
		}
	}
	return "evt_" + strconv.FormatInt(at.UnixMilli(), 10) + "_" + string(b)
}
