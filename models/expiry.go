package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// ExpireDue marks pending sessions whose time is up as expired, each with a
// conditional update and its payment.expired event in one transaction, and
// returns how many it expired. limit bounds one call's work.
//
// A session only expires once its chain has been observed after its
// deadline: during an outage Till cannot know whether the customer paid, so
// sessions stay pending until the watcher has looked again.
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
	if err := s.db.R(ctx).Where("chain = ? AND status = ? AND expires_at <= ?", chainKaspa, StatusPending, cutoff).
		Order("expires_at").Limit(limit).Find(&due).Error; err != nil {
		return 0, fmt.Errorf("models: due payments: %w", err)
	}
	n := 0
	for i := range due {
		p := &due[i]
		err := s.db.Tx(ctx, func(tx *gorm.DB) error {
			res := tx.Model(&Payment{}).Where("id = ? AND status = ?", p.ID, StatusPending).
				Updates(map[string]any{"status": StatusExpired, "expired_at": now, "updated_at": now})
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return nil // paid or expired meanwhile
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
