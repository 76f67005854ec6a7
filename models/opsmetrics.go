package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// What an operator's metrics scrape reads from the database: two cheap
// queries over indexed columns, whatever the number of merchants.

// OpenSessionCount is how many payment sessions of one chain are open
// (pending, confirming or underpaid) in one status.
type OpenSessionCount struct {
	Chain  string
	Status PaymentStatus
	Count  int64
}

// OpenSessionCounts counts open sessions by chain and status, across all
// merchants (one grouped query on payments_chain_open_idx, the statuses as
// literals so a generic plan keeps the index: see openStatusSQL).
func (s *Store) OpenSessionCounts(ctx context.Context) ([]OpenSessionCount, error) {
	var out []OpenSessionCount
	err := s.db.R(ctx).Model(&Payment{}).Select("chain, status, COUNT(*) AS count").
		Where(openStatusSQL).Group("chain, status").Order("chain, status").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: open session counts: %w", err)
	}
	return out, nil
}

// WebhookQueue is the state of the webhook outbox: Pending deliveries to
// active endpoints, and the due time of the one waiting longest (zero when
// none is due).
type WebhookQueue struct {
	Pending   int64
	OldestDue time.Time
}

// WebhookQueueState reads the outbox's depth and its oldest due delivery
// (webhook_deliveries_due_idx), counting only deliveries the dispatcher
// would claim: those of active endpoints.
func (s *Store) WebhookQueueState(ctx context.Context) (WebhookQueue, error) {
	var q WebhookQueue
	base := s.db.R(ctx).Table("webhook_deliveries AS d").Joins("JOIN webhook_endpoints e ON e.id = d.endpoint_id").
		Where("d.status = ? AND e.is_active = ?", DeliveryPending, true)
	if err := base.Session(&gorm.Session{}).Count(&q.Pending).Error; err != nil {
		return q, fmt.Errorf("models: webhook queue depth: %w", err)
	}
	var due []time.Time
	if err := base.Session(&gorm.Session{}).Where("d.next_attempt_at <= ?", s.clock()).Order("d.next_attempt_at").Limit(1).
		Pluck("d.next_attempt_at", &due).Error; err != nil {
		return q, fmt.Errorf("models: webhook queue oldest: %w", err)
	}
	if len(due) > 0 {
		q.OldestDue = due[0]
	}
	return q, nil
}

// Pools returns the connection pools by role ("write", and "read" when
// reads have their own pool, as on SQLite), for pool metrics.
func (db *DB) Pools() map[string]*sql.DB {
	out := map[string]*sql.DB{}
	if s, err := db.write.DB(); err == nil {
		out["write"] = s
	}
	if db.read != nil && db.read != db.write {
		if s, err := db.read.DB(); err == nil {
			out["read"] = s
		}
	}
	return out
}
