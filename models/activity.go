package models

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Activity kinds: what happened to a payment that sends no webhook event but
// that the merchant must be able to see on its timeline.
const (
	// ActivityReversed: a credit Till had counted was rejected or vanished
	// from the chain, and the payment went back.
	ActivityReversed = "reversed"
	// ActivityRecredited: a reversed credit was accepted again and counted
	// once more.
	ActivityRecredited = "recredited"
	// ActivityAssigned: the merchant assigned an unmatched credit to the
	// payment by hand.
	ActivityAssigned = "assigned"
)

// PaymentActivity is one entry of a payment's activity log.
type PaymentActivity struct {
	ID         string
	PaymentID  string
	MerchantID string
	Kind       string
	TxID       string
	Amount     int64 // base units of the payment's asset
	Detail     string
	CreatedAt  time.Time
}

// TableName pins the table name.
func (PaymentActivity) TableName() string { return "payment_activities" }

// addActivity records an activity entry for p inside tx, so it commits or
// rolls back with the change it describes.
func addActivity(tx *gorm.DB, p *Payment, kind, txID string, amount int64, detail string, now time.Time) error {
	a := &PaymentActivity{ID: uuid.NewString(), PaymentID: p.ID, MerchantID: p.MerchantID, Kind: kind,
		TxID: txID, Amount: amount, Detail: detail, CreatedAt: now}
	if err := tx.Create(a).Error; err != nil {
		return fmt.Errorf("models: payment activity: %w", err)
	}
	return nil
}

// PaymentActivities returns a payment's activity log, oldest first. The
// caller has checked that the payment is the merchant's.
func (s *Store) PaymentActivities(ctx context.Context, paymentID string) ([]PaymentActivity, error) {
	var as []PaymentActivity
	if err := s.db.R(ctx).Where("payment_id = ?", paymentID).Order("created_at, id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("models: payment activities: %w", err)
	}
	return as, nil
}
