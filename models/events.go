package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	Data string
	// Subject is what the event is about when it must be sent once per
	// payment and subject (KiraPay's transaction.created: the transaction
	// hash); nil otherwise.
	Subject   *string
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

// Transition is what happened to a payment, before any dialect names it.
// Each projection maps a transition to zero or one event of its dialect, so
// one state change writes the events of every dialect that has a name for
// it, in the same database transaction.
type Transition string

// The payment transitions the domain emits.
const (
	// TransitionTransferSeen: a transfer to the payment was credited (every
	// credit, before any confirmation; a payment can get several).
	TransitionTransferSeen Transition = "transfer_seen"
	// TransitionConfirmed: the payment is confirmed (paid in full and
	// deep enough).
	TransitionConfirmed Transition = "confirmed"
	// TransitionExpired: the session expired unpaid.
	TransitionExpired Transition = "expired"
	// TransitionTxSubmitted: the customer's wallet reported the hash of
	// its transaction (SubmitWalletTx).
	TransitionTxSubmitted Transition = "tx_submitted"
	// TransitionTxReverted: the reported transaction failed on chain
	// (MarkSubmittedTxFailed); the session stays open.
	TransitionTxReverted Transition = "tx_reverted"
)

// ProjectCtx is what a projection that reads the database gets besides the
// payment: the transaction of the state change (it sees the events written
// earlier in the same change) and the events' creation time.
type ProjectCtx struct {
	Tx  *gorm.DB
	Now time.Time
}

// Projected is one event a database-reading projection yields.
type Projected struct {
	Type string
	Data any
	// ID is the event's id ("": a UUID).
	ID string
	// Subject, when set, makes the event unique per payment and subject
	// (a partial unique index): a second one is not written, nor
	// delivered.
	Subject string
}

// Projection turns a payment transition into an event of one dialect:
// its type and snapshot, or ok false when the dialect has no name for it.
// A projection that needs the database (earlier events, the merchant's
// name) sets ProjectTx instead of Project.
type Projection struct {
	Dialect   string
	Project   func(p *Payment, t Transition) (typ string, data any, ok bool)
	ProjectTx func(pc ProjectCtx, p *Payment, t Transition) (*Projected, error)
}

// Projections is the table every transition goes through, one entry per
// dialect.
type Projections []Projection

// DefaultProjections is the table a Store uses: KasPay's and KiraPay's.
func DefaultProjections() Projections {
	return Projections{
		{Dialect: DialectKasPay, Project: KasPayProjection},
		{Dialect: DialectKiraPay, ProjectTx: KiraPayProjection},
	}
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

// Project runs transition t of p through the projections that need no
// database: the events they write, one per dialect that names it, in table
// order (ID, MerchantID, PaymentID and CreatedAt are left to the caller).
// Database-reading projections run only inside a state change.
func (ps Projections) Project(p *Payment, t Transition) ([]Event, error) {
	return ps.project(ProjectCtx{}, p, t)
}

// project runs every projection of the table; those with ProjectTx only
// when pc has a transaction.
func (ps Projections) project(pc ProjectCtx, p *Payment, t Transition) ([]Event, error) {
	var evs []Event
	for _, pr := range ps {
		var out Projected
		switch {
		case pr.Project != nil:
			typ, snap, ok := pr.Project(p, t)
			if !ok {
				continue
			}
			out = Projected{Type: typ, Data: snap}
		case pr.ProjectTx != nil && pc.Tx != nil:
			got, err := pr.ProjectTx(pc, p, t)
			if err != nil {
				return nil, err
			}
			if got == nil {
				continue
			}
			out = *got
		default:
			continue
		}
		data, err := CanonicalJSON(out.Data)
		if err != nil {
			return nil, fmt.Errorf("models: event payload: %w", err)
		}
		evs = append(evs, Event{ID: out.ID, Type: out.Type, Dialect: pr.Dialect, Subject: optString(out.Subject), Data: string(data)})
	}
	return evs, nil
}

// emitTransition records, inside tx, the events of transition t of p
// (already in its new state) and queues the webhook deliveries they cause.
// An event with a subject the payment already has an event for is skipped
// (ON CONFLICT DO NOTHING on the partial unique index), deliveries too.
// The events are dated at the state change, p.UpdatedAt, so every event of
// one change (a transfer seen and confirmed at once) has the same
// created_at.
func (s *Store) emitTransition(tx *gorm.DB, p *Payment, t Transition) error {
	table := s.projections
	if table == nil {
		table = DefaultProjections()
	}
	now := p.UpdatedAt
	if now.IsZero() {
		now = s.clock()
	}
	evs, err := table.project(ProjectCtx{Tx: tx, Now: now}, p, t)
	if err != nil {
		return err
	}
	for i := range evs {
		ev := &evs[i]
		pid := p.ID
		if ev.ID == "" {
			ev.ID = uuid.NewString()
		}
		ev.MerchantID, ev.PaymentID, ev.CreatedAt = p.MerchantID, &pid, now
		if ev.Subject == nil {
			if err := tx.Create(ev).Error; err != nil {
				return fmt.Errorf("models: insert event: %w", err)
			}
		} else {
			ins := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(ev)
			if ins.Error != nil {
				return fmt.Errorf("models: insert event: %w", ins.Error)
			}
			if ins.RowsAffected == 0 {
				continue // already sent for this subject
			}
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
