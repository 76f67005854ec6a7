package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Event types. Every payment state change that a merchant's systems care
// about writes one event in the same transaction as the change.
const (
	EventPaymentConfirmed = "payment.confirmed"
	EventPaymentExpired   = "payment.expired"
)

// Event is an outbox row: what happened, with a snapshot of the payment as it
// was at that moment. Webhook deliveries are created from it in the same
// transaction, so a committed state change always has its notifications.
type Event struct {
	ID         string
	MerchantID string
	Type       string
	// Dialect is the API surface whose event this is (DialectKasPay, …):
	// its deliveries go to that dialect's endpoints only.
	Dialect   string
	PaymentID *string
	// Data is the dialect's payment snapshot in canonical JSON (see
	// CanonicalJSON).
	Data      string
	CreatedAt time.Time
}

// TableName pins the table name.
func (Event) TableName() string { return "events" }

// ISOTime formats t the way every Till API does: UTC, milliseconds, Z.
func ISOTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ISOTime(*t)
	return &s
}

// Payment transitions: what happened to a payment, before any dialect
// names it. Each projection maps a transition to zero or one event of its
// dialect, so one state change writes the events of every dialect that has
// a name for it, in the same database transaction.
type Transition string

// The payment transitions the domain emits.
const (
	// TransitionTransferSeen: a transfer to the payment was credited for
	// the first time, before any confirmation.
	TransitionTransferSeen Transition = "transfer_seen"
	// TransitionConfirmed: the payment is confirmed (paid in full and
	// deep enough).
	TransitionConfirmed Transition = "confirmed"
	// TransitionExpired: the session expired unpaid.
	TransitionExpired Transition = "expired"
)

// Projection turns a payment transition into an event of one dialect:
// its type and snapshot, or ok false when the dialect has no name for it.
type Projection struct {
	Dialect string
	Project func(p *Payment, t Transition) (typ string, data any, ok bool)
}

// Projections is the table every transition goes through, one entry per
// dialect.
type Projections []Projection

// DefaultProjections is the table a Store uses: only KasPay's is
// registered; KiraPay's comes with its surface.
func DefaultProjections() Projections {
	return Projections{{Dialect: DialectKasPay, Project: KasPayProjection}}
}

// KasPayProjection names confirmed and expired payments (payment.confirmed,
// payment.expired, with the KasPay snapshot); a transfer first seen is no
// KasPay event, so KasPay webhooks are what they were.
func KasPayProjection(p *Payment, t Transition) (string, any, bool) {
	switch t {
	case TransitionConfirmed:
		return EventPaymentConfirmed, p.Snapshot(), true
	case TransitionExpired:
		return EventPaymentExpired, p.Snapshot(), true
	}
	return "", nil, false
}

// Project runs transition t of p through the table: the events it writes,
// one per dialect that names it, in table order (ID, MerchantID, PaymentID
// and CreatedAt are left to the caller).
func (ps Projections) Project(p *Payment, t Transition) ([]Event, error) {
	var evs []Event
	for _, pr := range ps {
		typ, snap, ok := pr.Project(p, t)
		if !ok {
			continue
		}
		data, err := CanonicalJSON(snap)
		if err != nil {
			return nil, fmt.Errorf("models: event payload: %w", err)
		}
		evs = append(evs, Event{Type: typ, Dialect: pr.Dialect, Data: string(data)})
	}
	return evs, nil
}

// emitTransition records, inside tx, the events of transition t of p
// (already in its new state) and queues the webhook deliveries they cause.
func (s *Store) emitTransition(tx *gorm.DB, p *Payment, t Transition) error {
	table := s.projections
	if table == nil {
		table = DefaultProjections()
	}
	evs, err := table.Project(p, t)
	if err != nil {
		return err
	}
	now := s.clock()
	for i := range evs {
		ev := &evs[i]
		pid := p.ID
		ev.ID, ev.MerchantID, ev.PaymentID, ev.CreatedAt = uuid.NewString(), p.MerchantID, &pid, now
		if err := tx.Create(ev).Error; err != nil {
			return fmt.Errorf("models: insert event: %w", err)
		}
		if err := s.enqueueDeliveries(tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// EventsForPayment lists a payment's events, oldest first.
func (s *Store) EventsForPayment(ctx context.Context, paymentID string) ([]Event, error) {
	var evs []Event
	if err := s.db.R(ctx).Where("payment_id = ?", paymentID).Order("created_at, id").Find(&evs).Error; err != nil {
		return nil, fmt.Errorf("models: events: %w", err)
	}
	return evs, nil
}
