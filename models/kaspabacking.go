package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A credit counts towards its payment only while the chain backs it. Each
// cycle, a credit of a payment that is not confirmed yet is backed when its
// output is in the UTXO answer (depth on the DAA scale) or, once spent, when
// GET /transactions/{id} says its transaction is accepted (depth on the
// blue-score scale, from the accepting block's blue score stored on the
// transfer). A credit that is neither is unverified: its payment does not
// confirm. When the indexer says the transaction is not accepted, or does not
// know it, for longer than the reversal grace since the credit went missing,
// the credit is reversed: kept with reversed_at, taken off the payment, which
// goes back (conditional update, activity entry, no webhook event). If the
// chain accepts it again it is credited again, once.

// DefaultReversalGrace is how long a credit may be missing from the UTXO
// answer while the indexer calls its transaction rejected or unknown before
// Till reverses it. The indexer can lag behind the node by several seconds
// and briefly disagree during a reorg; meanwhile the payment neither
// confirms nor goes back.
const DefaultReversalGrace = 60 * time.Second

// chainBacking indexes one observation: which outpoints the UTXO answer
// holds (with their block DAA score) and which transactions are known to be
// accepted (with their accepting blue score).
type chainBacking struct {
	virtualDaa, sinkBlue uint64
	utxo                 map[string]uint64
	accepted             map[string]uint64
}

func newChainBacking(obs KaspaObservation) *chainBacking {
	b := &chainBacking{virtualDaa: obs.VirtualDaaScore, sinkBlue: obs.SinkBlueScore,
		utxo: map[string]uint64{}, accepted: map[string]uint64{}}
	for _, c := range obs.Credits {
		switch {
		case c.BlockDaaScore > 0:
			b.utxo[outpoint(c.TxID, c.Index)] = c.BlockDaaScore
		case c.AcceptingBlueScore > 0:
			b.accepted[c.TxID] = c.AcceptingBlueScore // history lists accepted transactions only
		}
	}
	for id, l := range obs.Lookups {
		if l.Found && l.Accepted && l.AcceptingBlueScore > 0 {
			b.accepted[id] = l.AcceptingBlueScore
		}
	}
	return b
}

// creditDepth is one credit's depth this cycle, and whether the chain backs
// it at all. The DAA and blue-score scales are never mixed in one number.
func (b *chainBacking) creditDepth(t Transfer) (int64, bool) {
	if b == nil {
		return 0, false
	}
	if daa, ok := b.utxo[outpoint(t.TxID, uint32(t.OutputIndex))]; ok {
		if b.virtualDaa < daa {
			return 0, true
		}
		return int64(b.virtualDaa - daa), true
	}
	if blue, ok := b.accepted[t.TxID]; ok && b.sinkBlue > 0 {
		if b.sinkBlue < blue {
			return 0, true
		}
		return int64(b.sinkBlue - blue), true
	}
	return 0, false
}

// depth is a payment's depth from its active credits: its newest credit's,
// and only when every credit is backed.
func (b *chainBacking) depth(credits []Transfer) (int64, bool) {
	if len(credits) == 0 {
		return 0, false
	}
	depth := int64(-1)
	for _, t := range credits {
		d, ok := b.creditDepth(t)
		if !ok {
			return 0, false
		}
		if depth < 0 || d < depth {
			depth = d
		}
	}
	return depth, true
}

// unconfirmedStatuses are the statuses of payments whose credits are
// checked against the chain every cycle.
var unconfirmedStatuses = []PaymentStatus{StatusConfirming, StatusUnderpaid}

// unconfirmedStatusSQL names them as literals for the joins below, which
// every watcher cycle runs: see openStatusSQL.
var unconfirmedStatusSQL = statusIn("payments.status", unconfirmedStatuses...)

// CreditCheck is a transfer the watcher should verify when its output is
// missing from the UTXO answer.
type CreditCheck struct {
	Transfer
	// Reversed is true for a reversed credit that may be accepted again.
	Reversed bool
}

// KaspaCreditsToCheck lists, at most limit each, the active credits of
// payments that are not confirmed yet (oldest first) and the reversed
// credits of payments that could still take them back. The watcher looks up
// those missing from its UTXO answer, a bounded number per cycle.
func (s *Store) KaspaCreditsToCheck(ctx context.Context, limit int) ([]CreditCheck, error) {
	var active, reversed []Transfer
	err := s.db.R(ctx).Model(&Transfer{}).Select("transfers.*").
		Joins("JOIN payments ON payments.id = transfers.payment_id").
		Where("transfers.chain = ? AND transfers.reversed_at IS NULL AND "+unconfirmedStatusSQL, chainKaspa).
		Order("transfers.seen_at, transfers.id").Limit(limit).Find(&active).Error
	if err != nil {
		return nil, fmt.Errorf("models: credits to check: %w", err)
	}
	// Driven from the few reversed transfers (transfers_reversed_idx): as
	// a join, the payments side's OR made SQLite read every open session.
	err = s.db.R(ctx).Model(&Transfer{}).
		Where("transfers.chain = ? AND transfers.reversed_at IS NOT NULL AND transfers.payment_id IS NOT NULL", chainKaspa).
		Where(`EXISTS (SELECT 1 FROM payments WHERE payments.id = transfers.payment_id
	AND (`+statusIn("payments.status", openStatuses...)+` OR (`+statusIn("payments.status", StatusExpired)+` AND payments.expires_at > ?)))`, s.clock().Add(-s.lateWindow)).
		Order("transfers.reversed_at DESC, transfers.id").Limit(limit).Find(&reversed).Error
	if err != nil {
		return nil, fmt.Errorf("models: credits to check: %w", err)
	}
	out := make([]CreditCheck, 0, len(active)+len(reversed))
	for _, t := range active {
		out = append(out, CreditCheck{Transfer: t})
	}
	for _, t := range reversed {
		out = append(out, CreditCheck{Transfer: t, Reversed: true})
	}
	return out, nil
}

// verifyCredits applies this cycle's backing to the credits of unconfirmed
// payments: a backed credit clears its missing mark and records its
// accepting blue score; a missing one is marked, and reversed once the
// indexer has called it rejected or unknown for the whole grace period.
// Reversed credits the lookups found accepted are credited again.
func (s *Store) verifyCredits(ctx context.Context, obs KaspaObservation, now time.Time, res *KaspaApplyResult) error {
	var ts []Transfer
	err := s.db.R(ctx).Model(&Transfer{}).Select("transfers.*").
		Joins("JOIN payments ON payments.id = transfers.payment_id").
		Where("transfers.chain = ? AND transfers.reversed_at IS NULL AND "+unconfirmedStatusSQL, chainKaspa).
		Find(&ts).Error
	if err != nil {
		return fmt.Errorf("models: unconfirmed credits: %w", err)
	}
	for _, t := range ts {
		if obs.Polled != nil && !obs.Polled[t.Address] {
			continue // not looked for this cycle: neither backed nor missing
		}
		if _, ok := obs.backing.creditDepth(t); ok {
			up := map[string]any{}
			if t.MissingSince != nil {
				up["missing_since"] = nil
			}
			if blue, ok := obs.backing.accepted[t.TxID]; ok && (t.AcceptingBlueScore == nil || *t.AcceptingBlueScore != int64(blue)) {
				up["accepting_blue_score"] = int64(blue)
			}
			if len(up) > 0 {
				if err := s.db.W(ctx).Model(&Transfer{}).Where("id = ? AND reversed_at IS NULL", t.ID).Updates(up).Error; err != nil {
					return fmt.Errorf("models: credit backed: %w", err)
				}
			}
			continue
		}
		if t.MissingSince == nil {
			if err := s.db.W(ctx).Model(&Transfer{}).Where("id = ? AND reversed_at IS NULL AND missing_since IS NULL", t.ID).
				Update("missing_since", now).Error; err != nil {
				return fmt.Errorf("models: credit missing: %w", err)
			}
			t.MissingSince = &now
		}
		l, looked := obs.Lookups[t.TxID]
		if !looked || (l.Found && l.Accepted) || now.Sub(*t.MissingSince) < s.reversalGrace {
			continue // unverified, or still inside the grace period: wait
		}
		why := "transaction not accepted (lost a double spend)"
		if !l.Found {
			why = "transaction unknown to the chain after the grace period"
		}
		ok, err := s.reverseCredit(ctx, t, why, now)
		if errors.Is(err, errConcurrentChange) {
			continue
		}
		if err != nil {
			return err
		}
		if ok {
			res.Reversed++
		}
	}
	// Reversed credits whose transaction the indexer now calls accepted
	// (spent meanwhile, or not yet back in the UTXO answer).
	var ids []string
	for id, l := range obs.Lookups {
		if l.Found && l.Accepted && l.AcceptingBlueScore > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var back []Transfer
	if err := s.db.R(ctx).Where("chain = ? AND tx_id IN ? AND reversed_at IS NOT NULL AND payment_id IS NOT NULL", chainKaspa, ids).
		Order("seen_at, id").Find(&back).Error; err != nil {
		return fmt.Errorf("models: reversed credits: %w", err)
	}
	for _, t := range back {
		c := KaspaCredit{TxID: t.TxID, Index: uint32(t.OutputIndex), Address: t.Address, Amount: t.Amount,
			BlockTime: t.BlockTime, AcceptingBlueScore: obs.Lookups[t.TxID].AcceptingBlueScore}
		if daa, ok := obs.backing.utxo[outpoint(t.TxID, uint32(t.OutputIndex))]; ok {
			c.BlockDaaScore = daa
		}
		if err := s.recredit(ctx, t, c, obs, now, res); err != nil {
			return err
		}
	}
	return nil
}

// recredit credits a reversed transfer again (recreditTransfer) and counts
// the outcome in res; losing a race to another watcher is not an error, the
// next cycle sees the new state.
func (s *Store) recredit(ctx context.Context, t Transfer, c KaspaCredit, obs KaspaObservation, now time.Time, res *KaspaApplyResult) error {
	again, confirmed, err := s.recreditTransfer(ctx, t, s.kaspaCredit(c, obs, now), kaspaPosition(c), obs.backing, now)
	if errors.Is(err, errConcurrentChange) {
		return nil
	}
	if err != nil {
		return err
	}
	if again {
		res.Recredited++
	}
	if confirmed {
		res.Confirmed++
	}
	return nil
}
