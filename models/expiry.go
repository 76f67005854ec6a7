package models

import (
	"context"
	"errors"
	"fmt"

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
// A session only expires once its chain has been observed after that time:
// during an outage Till cannot know whether the customer paid, so sessions
// stay as they are until the watcher has looked again.
func (s *Store) ExpireDue(ctx context.Context, limit int) (int, error) {
	now := s.clock()
	st, err := s.ChainState(ctx, chainKaspa)
	if errors.Is(err, ErrNotFound) {
		return 0, nil // never observed: nothing can be known yet
	}
	if err != nil {
		return 0, err
	}
	cutoff := now
	if st.ObservedAt.Before(cutoff) {
		cutoff = st.ObservedAt
	}
	var due []Payment
	if err := s.db.R(ctx).Where("chain = ?", chainKaspa).
		Where("(status = ? AND expires_at <= ?) OR (status = ? AND expires_at <= ?)",
			StatusPending, cutoff, StatusUnderpaid, cutoff.Add(-s.lateWindow)).
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
			return s.emitPaymentEvent(tx, p, EventPaymentExpired)
		})
		if err != nil {
			return n, fmt.Errorf("models: expire %s: %w", p.ID, err)
		}
	}
	return n, nil
}
