package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Data retention. The webhook outbox (events, deliveries, attempts) grows
// with every state change; Prune removes what is older than a cutoff and
// no longer needed, a small batch per call, each step in its own short
// transaction so it never holds locks for long (workers.Retention calls it
// until a call finds nothing more). Payments, transfers, links and payment
// activities are never pruned: they are the merchant's records.
//
// What a call does, oldest rows only (before the cutoff):
//  1. deletes finished deliveries (delivered or failed) last touched
//     before the cutoff whose event's payment is final (confirmed or
//     expired) or who have no payment (webhook.test), with their attempts
//     and, when it was their last delivery, their event;
//  2. once step 1 has found less than a batch (the backlog is gone), blanks
//     the bodies (error text, response snippet) of the remaining old
//     attempts of finished deliveries (those of open payments), keeping
//     each attempt's time, status code and latency;
//  3. then deletes events created before the cutoff that have no delivery
//     (never had one, or lost the last one meanwhile) and whose payment is
//     final or null.
//
// Steps 2 and 3 wait for step 1 because their scans would otherwise walk,
// on every call, the old rows step 1 is about to delete (blanking bodies
// about to go, skipping events that still have deliveries): the work would
// grow with the square of the backlog. A pending delivery (waiting for a
// retry) keeps its event and its attempts; an open payment keeps its
// events and deliveries.

// PruneResult counts what one Prune call changed.
type PruneResult struct {
	// AttemptsBlanked is the attempts whose bodies were blanked (step 1).
	AttemptsBlanked int64
	// Deliveries and Attempts are the deliveries deleted and their
	// attempts (step 2).
	Deliveries int64
	Attempts   int64
	// Events is the events deleted (step 3).
	Events int64
	// More is true when a step filled its batch: another call may find
	// more to prune.
	More bool
}

// Rows is the number of rows the call changed or deleted.
func (r PruneResult) Rows() int64 { return r.AttemptsBlanked + r.Deliveries + r.Attempts + r.Events }

// Add sums two results (a worker's cycle totals its calls).
func (r PruneResult) Add(o PruneResult) PruneResult {
	return PruneResult{
		AttemptsBlanked: r.AttemptsBlanked + o.AttemptsBlanked, Deliveries: r.Deliveries + o.Deliveries,
		Attempts: r.Attempts + o.Attempts, Events: r.Events + o.Events, More: o.More,
	}
}

// DefaultPruneBatch is the batch Prune uses when given none.
const DefaultPruneBatch = 1000

// finalPayment is the SQL condition "the event e has no payment, or its
// payment p is final" (see PaymentStatus.Final); it needs the
// LEFT JOIN payments p ON p.id = e.payment_id.
const finalPayment = "(e.payment_id IS NULL OR p.status IN ('" + string(StatusConfirmed) + "', '" + string(StatusExpired) + "'))"

// Prune removes one batch (at most batch deliveries, and as many attempt
// bodies or events) of outbox rows older than before that nothing needs any
// more (see above). Each step is its own transaction; an error stops the
// call with the counts so far.
func (s *Store) Prune(ctx context.Context, before time.Time, batch int) (PruneResult, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	before = before.UTC()
	var r PruneResult
	var err error
	if r.Deliveries, r.Attempts, r.Events, err = s.pruneDeliveries(ctx, before, batch); err != nil {
		return r, err
	}
	if r.Deliveries == int64(batch) {
		r.More = true
		return r, nil
	}
	if r.AttemptsBlanked, err = s.blankAttemptBodies(ctx, before, batch); err != nil {
		return r, err
	}
	events, err := s.pruneEvents(ctx, before, batch)
	r.Events += events
	if err != nil {
		return r, err
	}
	r.More = r.AttemptsBlanked == int64(batch) || events == int64(batch)
	return r, nil
}

// blankAttemptBodies is step 2. The partial index webhook_attempts_body_idx
// holds only attempts that still have a body, so blanked ones leave it.
// Statuses are literals so the planners can use the partial indexes.
func (s *Store) blankAttemptBodies(ctx context.Context, before time.Time, batch int) (int64, error) {
	res := s.db.W(ctx).Exec(`UPDATE webhook_attempts SET error = '', response_snippet = ''
WHERE id IN (SELECT a.id FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
	WHERE a.attempted_at < ? AND (a.response_snippet <> '' OR a.error <> '') AND d.status <> 'pending' LIMIT ?)`, before, batch)
	if res.Error != nil {
		return 0, fmt.Errorf("models: prune attempt bodies: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// pruneDeliveries is step 1: it picks a batch of prunable deliveries (on
// Postgres locking them, so a concurrent redelivery waits and sees them
// gone) and deletes their attempts, them, and the events they leave with
// no delivery (old and of a final payment, as the deliveries' own
// condition says).
func (s *Store) pruneDeliveries(ctx context.Context, before time.Time, batch int) (deliveries, attempts, events int64, err error) {
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		q := `SELECT d.id, d.event_id FROM webhook_deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN payments p ON p.id = e.payment_id
WHERE d.status <> 'pending' AND d.updated_at < ? AND ` + finalPayment + ` LIMIT ?`
		if s.db.Dialect == Postgres {
			q += " FOR UPDATE OF d SKIP LOCKED"
		}
		var rows []struct{ ID, EventID string }
		if err := tx.Raw(q, before, batch).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids, evIDs := make([]string, len(rows)), make([]string, 0, len(rows))
		seen := make(map[string]bool, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
			if !seen[r.EventID] {
				seen[r.EventID] = true
				evIDs = append(evIDs, r.EventID)
			}
		}
		res := tx.Exec("DELETE FROM webhook_attempts WHERE delivery_id IN ?", ids)
		if res.Error != nil {
			return res.Error
		}
		attempts = res.RowsAffected
		if res = tx.Exec("DELETE FROM webhook_deliveries WHERE id IN ?", ids); res.Error != nil {
			return res.Error
		}
		deliveries = res.RowsAffected
		res = tx.Exec(`DELETE FROM events WHERE id IN ? AND created_at < ?
	AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)`, evIDs, before)
		events = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("models: prune deliveries: %w", err)
	}
	return deliveries, attempts, events, nil
}

// pruneEvents is step 3. An event with a delivery left (pending, recent,
// or of an open payment) stays.
func (s *Store) pruneEvents(ctx context.Context, before time.Time, batch int) (int64, error) {
	res := s.db.W(ctx).Exec(`DELETE FROM events WHERE id IN (SELECT e.id FROM events e LEFT JOIN payments p ON p.id = e.payment_id
	WHERE e.created_at < ? AND `+finalPayment+`
	AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) LIMIT ?)`, before, batch)
	if res.Error != nil {
		return 0, fmt.Errorf("models: prune events: %w", res.Error)
	}
	return res.RowsAffected, nil
}
