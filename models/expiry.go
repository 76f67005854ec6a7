package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ExpireDue ends the sessions whose time is up, each with a conditional
// update and its payment.expired event in one transaction, and returns how
// many it expired. limit bounds one call's work.
//
// Two kinds of session are due, on one code path:
//   - pending sessions at their deadline;
//   - underpaid sessions at their deadline plus the late window: until then
//     a top-up can still complete them (flagged late). They end as expired
//     with the partial amount kept in amount_received, which the event's
//     amountReceived carries, and their address leaves the watch list.
//
// A session only expires once *its* chain has been observed after that
// time: during an outage of a chain Till cannot know whether the customer
// paid, so that chain's sessions stay as they are until its watcher has
// looked again, while other chains' sessions expire as usual. The clock of a
// chain is chainClock's: Kaspa's last observation time, an EVM chain's last
// fully scanned block's timestamp (never the wall clock).
func (s *Store) ExpireDue(ctx context.Context, limit int) (int, error) {
	now := s.clock()
	var states []ChainState
	if err := s.db.R(ctx).Order("chain").Find(&states).Error; err != nil {
		return 0, fmt.Errorf("models: chain states: %w", err)
	}
	total := 0
	for i := range states {
		if total >= limit {
			break
		}
		cutoff, ok := chainClock(&states[i], now)
		if !ok {
			continue // never scanned: nothing can be known yet
		}
		n, err := s.expireChainDue(ctx, states[i].Chain, cutoff, now, limit-total)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// chainClock is how far chain st has been observed: Kaspa's observed_at, an
// EVM chain's cursor_time; never later than now. ok is false for an EVM
// chain not scanned yet.
func chainClock(st *ChainState, now time.Time) (time.Time, bool) {
	at := st.ObservedAt
	if !IsKaspa(st.Chain) {
		if st.CursorTime == nil {
			return time.Time{}, false
		}
		at = *st.CursorTime
	}
	if at.After(now) {
		at = now
	}
	return at, true
}

// expireChainDue expires chain's sessions due before cutoff, at most limit.
func (s *Store) expireChainDue(ctx context.Context, chain string, cutoff, now time.Time, limit int) (int, error) {
	var due []Payment
	if err := s.db.R(ctx).Where("chain = ?", chain).
		Where("(status = ? AND expires_at <= ?) OR (status = ? AND expires_at <= ?)",
			StatusPending, cutoff, StatusUnderpaid, cutoff.Add(-s.lateWindow)).
		// A session whose transfer was orphaned (EVM reorg) waits
		// OrphanExpiryGrace: the transaction usually comes back.
		Where("NOT EXISTS (SELECT 1 FROM transfers t WHERE t.payment_id = payments.id AND t.orphaned_at > ?)", now.Add(-OrphanExpiryGrace)).
		Order("expires_at").Limit(limit).Find(&due).Error; err != nil {
		return 0, fmt.Errorf("models: due payments: %w", err)
	}
	n := 0
	for i := range due {
		p := &due[i]
		err := s.db.Tx(ctx, func(tx *gorm.DB) error {
			// The amount is part of the condition: a top-up that landed
			// meanwhile wins, and the next run sees the session as it is now.
			res := tx.Model(&Payment{}).Where("id = ? AND status = ? AND amount_received = ?", p.ID, p.Status, p.AmountReceived).
				Updates(map[string]any{"status": StatusExpired, "expired_at": now, "updated_at": now})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return nil // paid, topped up or expired meanwhile
			}
			p.Status, p.ExpiredAt, p.UpdatedAt = StatusExpired, &now, now
			n++
			return s.emitTransition(tx, p, TransitionExpired)
		})
		if err != nil {
			return n, fmt.Errorf("models: expire %s: %w", p.ID, err)
		}
	}
	return n, nil
}
