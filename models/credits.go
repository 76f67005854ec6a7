package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The chain-neutral credit path. A chain's watcher domain (kaspawatch.go and
// kaspabacking.go for Kaspa; evmwatch.go for EVM chains) turns what it saw
// into Transfers and Credits and calls these functions, which hold every
// rule about payments:
//
//   - recordCredit inserts a transfer under its unique key (chain, tx_id,
//     output_index) among live (non-orphaned) rows — a second insert of the
//     same key does nothing — and, in the same transaction, credits it to the
//     payment it pays (findPaymentForCredit, creditPayment) or attributes it
//     to the merchant whose address it paid (claimUnmatched).
//   - creditPayment is the one conditional update that adds money to a
//     payment (automatic match, recredit, manual assignment).
//   - confirmPayment moves a confirming payment to confirmed with its event.
//   - reverseCredit takes a credit back (Kaspa: rejected transaction; EVM:
//     orphaned block) and recreditTransfer credits a reversed one again, once.
//     An orphaned EVM transfer is taken back through reverseCredit and also
//     marked orphaned_at; rows with orphaned_at set never count as active
//     credits, unmatched credits or assignable credits, and free their key
//     (the partial transfers_outpoint_key) for the log's re-inclusion.
//
// The contract for a chain half: a Credit names its chain, address and
// amount in the chain's asset base units; Depth is its confirmations now;
// BlockTime dates it (exact, or estimated) for the late rule; Started
// restricts candidate sessions to those whose start precedes the credit's
// position (Kaspa: start_daa_score <= block DAA score, or created_at before
// the block time for history credits; EVM: start_block < block number). A
// backing answers, for the same observation, how deep a payment's other
// credits are and whether the chain still backs every one of them (a
// payment confirms only then). Every payment change is a conditional UPDATE
// checked by rows affected; a lost race returns errConcurrentChange and the
// next cycle retries from the new state.

// Credit is one on-chain credit in chain-neutral terms.
type Credit struct {
	Chain   string
	TxID    string
	Address string
	// Amount is in base units of the chain's asset.
	Amount int64
	// Depth is the credit's confirmations in the current observation.
	Depth int64
	// BlockTime is when the credit's block was made (zero: now).
	BlockTime time.Time
	// Sender is who paid, when the chain tells it with the credit (EVM:
	// the log's from topic); empty when it comes later (Kaspa's details).
	Sender string
	// Started narrows a payments query to sessions that started no later
	// than the credit's position on the chain (nil: no bound).
	Started func(q *gorm.DB) *gorm.DB
}

// backing is one observation of a chain as the neutral path needs it:
// depth is a payment's depth from its active credits (its newest credit's)
// and whether the chain backs every one of them this cycle.
type backing interface {
	depth(credits []Transfer) (int64, bool)
}

// storedCredit is a recorded transfer as a credit of its chain, measured
// from that chain's last observed state st, with the backing that state
// gives (manual assignment uses it so its statuses and depth are those of an
// automatic match).
func (s *Store) storedCredit(t *Transfer, st *ChainState, now time.Time) (Credit, backing) {
	if IsKaspa(t.Chain) {
		return s.kaspaStoredCredit(t, st, now)
	}
	return evmStoredCredit(t, st)
}

// recordCredit inserts transfer t and credits it to the payment it pays, if
// any, in one transaction. A transfer whose key is already recorded (by an
// earlier cycle or another watcher) changes nothing. Coinbase transfers are
// recorded only.
func (s *Store) recordCredit(ctx context.Context, t *Transfer, c Credit, b backing, now time.Time) (created, matched, confirmed bool, err error) {
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(t)
		if ins.Error != nil {
			return fmt.Errorf("models: insert transfer: %w", ins.Error)
		}
		if ins.RowsAffected == 0 {
			return nil // another watcher recorded it first
		}
		created = true
		if t.Coinbase {
			return nil
		}
		p, err := s.findPaymentForCredit(tx, c, now)
		if err != nil {
			return err
		}
		if p == nil {
			return s.claimUnmatched(tx, t)
		}
		matched = true
		confirmed, err = s.creditPayment(tx, p, t, c, b, now)
		return err
	})
	return
}

// findPaymentForCredit finds the session a credit pays, on the credit's chain
// and address. Per-payment address: the session owning the address. Shared
// address: the open session whose unique amount equals the credit exactly.
// Either way the session must have started no later than the credit's
// position (c.Started) and still be open or inside the late window.
func (s *Store) findPaymentForCredit(tx *gorm.DB, c Credit, now time.Time) (*Payment, error) {
	lateCutoff := now.Add(-s.lateWindow)
	// Two indexed lookups rather than one OR, which would read every open
	// session of a busy shared address for each credit.
	started := func(q *gorm.DB) *gorm.DB {
		q = q.Where("chain = ? AND pay_address = ?", c.Chain, c.Address)
		if c.Started != nil {
			return c.Started(q)
		}
		return q
	}
	var shared []Payment
	err := started(tx.Model(&Payment{})).
		Where("amount_expected = ? AND derivation_index IS NULL AND tx_id = ''", c.Amount).
		Where("status = ? OR (status = ? AND expires_at > ?)", StatusPending, StatusExpired, lateCutoff).
		Order("created_at").Limit(1).Find(&shared).Error
	if err != nil {
		return nil, fmt.Errorf("models: match credit: %w", err)
	}
	var derived []Payment
	err = started(tx.Model(&Payment{})).
		Where("derivation_index IS NOT NULL").
		Where("status IN ? OR (status = ? AND expires_at > ?)", []PaymentStatus{StatusPending, StatusUnderpaid, StatusConfirming}, StatusExpired, lateCutoff).
		Order("created_at").Limit(1).Find(&derived).Error
	if err != nil {
		return nil, fmt.Errorf("models: match credit: %w", err)
	}
	switch {
	case len(shared) == 0 && len(derived) == 0:
		return nil, nil
	case len(derived) == 0:
		return &shared[0], nil
	case len(shared) == 0 || derived[0].CreatedAt.Before(shared[0].CreatedAt):
		return &derived[0], nil
	}
	return &shared[0], nil
}

// claimUnmatched attributes an unmatched credit to the merchant whose
// address it paid, when exactly one merchant uses that address.
func (s *Store) claimUnmatched(tx *gorm.DB, t *Transfer) error {
	var owners []string
	if err := tx.Model(&Payment{}).Where("chain = ? AND pay_address = ?", t.Chain, t.Address).Distinct().Limit(2).Pluck("merchant_id", &owners).Error; err != nil {
		return fmt.Errorf("models: unmatched owner: %w", err)
	}
	if len(owners) != 1 {
		return nil
	}
	return tx.Model(&Transfer{}).Where("id = ?", t.ID).Update("merchant_id", owners[0]).Error
}

// creditPayment applies credit t (c in neutral terms) to p with a
// conditional update, and emits payment.confirmed when the credit is already
// deep enough and every other credit of p is backed by b.
func (s *Store) creditPayment(tx *gorm.DB, p *Payment, t *Transfer, c Credit, b backing, now time.Time) (bool, error) {
	received := p.AmountReceived + t.Amount
	conf := c.Depth
	if p.AmountReceived > 0 && p.Confirmations < conf {
		conf = p.Confirmations // depth of a multi-credit payment is its newest credit's
	}
	status := StatusConfirming
	if received < p.AmountExpected {
		status = StatusUnderpaid
	} else if conf >= int64(p.RequiredConfirmations) {
		status = StatusConfirmed
	}
	if p.Status == StatusConfirming && status == StatusUnderpaid {
		status = StatusConfirming
	}
	if status == StatusConfirmed {
		// Every other credit of the payment must be backed by the chain in
		// this observation too, and the payment is as deep as its newest.
		depth, ok, err := s.otherCreditsDepth(tx, p.ID, t.ID, b)
		if err != nil {
			return false, err
		}
		switch {
		case !ok:
			status = StatusConfirming
		case depth < conf:
			conf = depth
			if conf < int64(p.RequiredConfirmations) {
				status = StatusConfirming
			}
		}
	}
	blockTime := c.BlockTime
	if blockTime.IsZero() {
		blockTime = now
	}
	late := p.Late || blockTime.After(p.ExpiresAt)
	updates := map[string]any{
		"status": status, "amount_received": received, "confirmations": conf, "late": late, "updated_at": now,
	}
	if p.TxID == "" {
		updates["tx_id"] = t.TxID
		p.TxID = t.TxID
	}
	if p.SenderAddress == "" && c.Sender != "" {
		updates["sender_address"] = c.Sender
		p.SenderAddress = c.Sender
	}
	if p.DetectedAt == nil {
		updates["detected_at"] = now
		p.DetectedAt = &now
	}
	if p.TxKnownAt == nil {
		// When Till first learned of the session's transaction (a wallet
		// report sets it earlier): KiraPay's transaction createdAt.
		updates["tx_known_at"] = now
		p.TxKnownAt = &now
	}
	if status == StatusConfirmed {
		updates["confirmed_at"] = now
		p.ConfirmedAt = &now
	}
	res := tx.Model(&Payment{}).Where("id = ? AND status = ? AND amount_received = ?", p.ID, p.Status, p.AmountReceived).Updates(updates)
	if res.Error != nil {
		return false, fmt.Errorf("models: credit payment: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return false, errConcurrentChange
	}
	p.Status, p.AmountReceived, p.Confirmations, p.Late, p.UpdatedAt = status, received, conf, late, now
	if err := tx.Model(&Transfer{}).Where("id = ? AND payment_id IS NULL", t.ID).
		Updates(map[string]any{"payment_id": p.ID, "merchant_id": p.MerchantID}).Error; err != nil {
		return false, fmt.Errorf("models: link transfer: %w", err)
	}
	// Every credit is a transfer seen for the first time (KiraPay's
	// transaction.created; KasPay has no event for it).
	if err := s.emitTransition(tx, p, TransitionTransferSeen); err != nil {
		return false, err
	}
	if status == StatusConfirmed {
		return true, s.emitTransition(tx, p, TransitionConfirmed)
	}
	return false, nil
}

// errConcurrentChange aborts a transaction whose conditional update lost a
// race; the next watcher cycle sees the new state and tries again.
var errConcurrentChange = errors.New("models: payment changed concurrently")

// confirmPayment moves a confirming payment to confirmed with its event, in
// one transaction; it reports false when another process got there first.
func (s *Store) confirmPayment(ctx context.Context, p *Payment, conf int64, now time.Time) (bool, error) {
	done := false
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		// amount_received unchanged: no credit was reversed or added since
		// the depth was computed.
		res := tx.Model(&Payment{}).Where("id = ? AND status = ? AND amount_received = ?", p.ID, StatusConfirming, p.AmountReceived).
			Updates(map[string]any{"status": StatusConfirmed, "confirmations": conf, "confirmed_at": now, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil
		}
		p.Status, p.Confirmations, p.ConfirmedAt, p.UpdatedAt = StatusConfirmed, conf, &now, now
		done = true
		return s.emitTransition(tx, p, TransitionConfirmed)
	})
	if err != nil {
		return false, fmt.Errorf("models: confirm payment: %w", err)
	}
	return done, nil
}

// activeCredits loads the unreversed credits of payments, by payment id.
func (s *Store) activeCredits(db *gorm.DB, paymentIDs []string) (map[string][]Transfer, error) {
	out := map[string][]Transfer{}
	for start := 0; start < len(paymentIDs); start += 500 {
		var ts []Transfer
		if err := db.Where("payment_id IN ? AND reversed_at IS NULL AND orphaned_at IS NULL", paymentIDs[start:min(start+500, len(paymentIDs))]).
			Order("seen_at, id").Find(&ts).Error; err != nil {
			return nil, fmt.Errorf("models: payment credits: %w", err)
		}
		for _, t := range ts {
			out[*t.PaymentID] = append(out[*t.PaymentID], t)
		}
	}
	return out, nil
}

// otherCreditsDepth is the depth of payment id's active credits other than
// except, and whether all of them are backed in obs (true when there are
// none: the depth is then unbounded).
func (s *Store) otherCreditsDepth(tx *gorm.DB, id, except string, b backing) (int64, bool, error) {
	var ts []Transfer
	if err := tx.Where("payment_id = ? AND reversed_at IS NULL AND orphaned_at IS NULL AND id <> ?", id, except).Find(&ts).Error; err != nil {
		return 0, false, fmt.Errorf("models: payment credits: %w", err)
	}
	if len(ts) == 0 {
		return 1 << 62, true, nil
	}
	d, ok := b.depth(ts)
	return d, ok, nil
}

// reverseCredit takes credit t off its payment, in one transaction: the
// transfer is marked reversed (kept), the payment goes back — to pending when
// nothing is left on it, underpaid when part is, confirming when the rest
// still covers it — with a conditional update, and an activity entry is
// written. No webhook event for the reversal: the merchant was never told
// the payment was confirmed.
//
// A shared-address session whose unique amount another session took while
// it was confirming cannot wait for that amount again (one credit would fit
// two sessions, and its checkout would ask the customer to send an amount
// that pays someone else). It ends instead: expired, keeping its tx_id so no
// credit by amount matches it, with payment.expired as any session that ends
// unpaid. If the chain accepts the transaction again inside the late window,
// it is still credited (late rules apply). It reports false when the credit
// was already settled elsewhere.
func (s *Store) reverseCredit(ctx context.Context, t Transfer, why string, now time.Time) (bool, error) {
	done := false
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		var err error
		done, err = s.reverseCreditTx(tx, t, why, now)
		return err
	})
	return done, err
}

// reverseCreditTx is reverseCredit inside the caller's transaction (the EVM
// orphaning marks the transfer orphaned in the same one).
func (s *Store) reverseCreditTx(tx *gorm.DB, t Transfer, why string, now time.Time) (bool, error) {
	done := false
	err := func() error {
		var p Payment
		if err := tx.Where("id = ?", *t.PaymentID).Take(&p).Error; err != nil {
			return fmt.Errorf("models: reversed payment: %w", err)
		}
		if p.Status != StatusConfirming && p.Status != StatusUnderpaid {
			return nil // confirmed or ended meanwhile: no longer ours to take back
		}
		res := tx.Model(&Transfer{}).Where("id = ? AND payment_id = ? AND reversed_at IS NULL", t.ID, p.ID).
			Updates(map[string]any{"reversed_at": now, "missing_since": nil})
		if res.Error != nil {
			return fmt.Errorf("models: reverse credit: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		var rest []Transfer
		if err := tx.Where("payment_id = ? AND reversed_at IS NULL AND orphaned_at IS NULL", p.ID).Order("seen_at, id").Find(&rest).Error; err != nil {
			return fmt.Errorf("models: payment credits: %w", err)
		}
		received := max(p.AmountReceived-t.Amount, 0)
		status := StatusConfirming
		switch {
		case received == 0:
			status = StatusPending
		case received < p.AmountExpected:
			status = StatusUnderpaid
		}
		updates := map[string]any{"status": status, "amount_received": received, "updated_at": now}
		if len(rest) == 0 {
			updates["tx_id"], updates["detected_at"], updates["confirmations"], updates["late"] = "", nil, 0, false
			updates["sender_address"] = ""
		} else if p.TxID == t.TxID {
			updates["tx_id"] = rest[0].TxID
		}
		detail := why
		if status == StatusPending && p.DerivationIndex == nil {
			taken, err := s.sharedAmountTaken(tx, &p, now)
			if err != nil {
				return err
			}
			if taken {
				status = StatusExpired
				updates["status"], updates["expired_at"] = status, now
				delete(updates, "tx_id") // kept: with it, no credit by amount can match this session
				detail += "; its amount now belongs to another session, so this one ended"
			}
		}
		upd := tx.Model(&Payment{}).Where("id = ? AND status = ? AND amount_received = ?", p.ID, p.Status, p.AmountReceived).Updates(updates)
		if upd.Error != nil {
			if isUniqueViolation(upd.Error) {
				return errConcurrentChange // a session took the amount just now; retried next cycle
			}
			return fmt.Errorf("models: payment back: %w", upd.Error)
		}
		if upd.RowsAffected == 0 {
			return errConcurrentChange
		}
		if status == StatusExpired {
			p.Status, p.AmountReceived, p.ExpiredAt, p.UpdatedAt = status, received, &now, now
			if err := s.emitTransition(tx, &p, TransitionExpired); err != nil {
				return err
			}
		}
		done = true
		return addActivity(tx, &p, ActivityReversed, t.TxID, t.Amount, detail, now)
	}()
	return done, err
}

// sharedAmountTaken tells whether another shared-address session on p's
// address could take a credit of p's amount: a pending one, or an expired one
// still inside the late window and never paid (the same sessions the
// unique-amount choice avoids).
func (s *Store) sharedAmountTaken(tx *gorm.DB, p *Payment, now time.Time) (bool, error) {
	var n int64
	err := tx.Model(&Payment{}).
		Where("chain = ? AND pay_address = ? AND amount_expected = ? AND derivation_index IS NULL AND id <> ?", p.Chain, p.PayAddress, p.AmountExpected, p.ID).
		Where("status = ? OR (status = ? AND tx_id = '' AND expires_at > ?)", StatusPending, StatusExpired, now.Add(-s.lateWindow)).
		Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("models: amount in use: %w", err)
	}
	return n > 0, nil
}

// recreditTransfer credits a reversed transfer again, once, through the
// same path as a new credit (creditPayment), with an activity entry. When
// its payment can no longer take money (confirmed by other funds, or ended
// past the late window) the credit is detached and listed as unmatched for
// the merchant. position holds the chain's own columns to refresh on the
// transfer (its new block position), set in the same conditional update.
func (s *Store) recreditTransfer(ctx context.Context, t Transfer, c Credit, position map[string]any, b backing, now time.Time) (again, confirmed bool, err error) {
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		var p Payment
		if err := tx.Where("id = ?", *t.PaymentID).Take(&p).Error; err != nil {
			return fmt.Errorf("models: recredited payment: %w", err)
		}
		up := map[string]any{"reversed_at": nil, "missing_since": nil}
		for k, v := range position {
			up[k] = v
		}
		open := p.Status == StatusPending || p.Status == StatusUnderpaid || p.Status == StatusConfirming ||
			(p.Status == StatusExpired && p.ExpiresAt.After(now.Add(-s.lateWindow)))
		if !open {
			up["payment_id"] = nil
		}
		res := tx.Model(&Transfer{}).Where("id = ? AND payment_id = ? AND reversed_at IS NOT NULL", t.ID, p.ID).Updates(up)
		if res.Error != nil {
			return fmt.Errorf("models: recredit: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return errConcurrentChange
		}
		if !open {
			return nil
		}
		again = true
		var err error
		if confirmed, err = s.creditPayment(tx, &p, &t, c, b, now); err != nil {
			return err
		}
		return addActivity(tx, &p, ActivityRecredited, t.TxID, t.Amount, "transaction accepted again", now)
	})
	if err != nil {
		again, confirmed = false, false
	}
	return again, confirmed, err
}

// creditTally counts what recording a cycle's observed credits did; each
// chain's watcher result reports it under its own field names.
type creditTally struct{ recorded, matched, confirmed int }

// add counts one recorded credit's outcome, or nothing when it lost a race
// to another watcher (errConcurrentChange: rolled back, seen again next
// cycle). Any other error is returned for the cycle to fail.
func (t *creditTally) add(created, matched, confirmed bool, err error) error {
	if errors.Is(err, errConcurrentChange) {
		return nil
	}
	if err != nil {
		return err
	}
	if created {
		t.recorded++
	}
	if matched {
		t.matched++
	}
	if confirmed {
		t.confirmed++
	}
	return nil
}
