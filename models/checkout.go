package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// VisitorPayment returns the newest session a checkout visitor opened on a
// link, so reloading the checkout page resumes it instead of opening a new
// one. visitor is the hash the checkout keeps in its cookie.
func (s *Store) VisitorPayment(ctx context.Context, linkID, visitor string) (*Payment, error) {
	if visitor == "" {
		return nil, &NotFoundError{What: "Payment"}
	}
	var p Payment
	err := s.db.R(ctx).Where("link_id = ? AND visitor = ?", linkID, visitor).Order("created_at DESC").Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: "Payment"}
	}
	if err != nil {
		return nil, fmt.Errorf("models: visitor payment: %w", err)
	}
	return &p, nil
}

// CheckoutView is what the public checkout shows about a session: the
// payment, its link and the merchant's public name.
type CheckoutView struct {
	Payment      *Payment
	Link         *PaymentLink
	MerchantName string
}

// Checkout loads a session with its link and merchant name for the public
// checkout and receipt pages.
func (s *Store) Checkout(ctx context.Context, paymentID string) (*CheckoutView, error) {
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	v := &CheckoutView{Payment: p}
	if p.LinkID != nil {
		var l PaymentLink
		if err := s.db.R(ctx).Where("id = ?", *p.LinkID).Take(&l).Error; err == nil {
			v.Link = &l
		}
	}
	var m Merchant
	if err := s.db.R(ctx).Select("name").Where("id = ?", p.MerchantID).Take(&m).Error; err != nil {
		return nil, fmt.Errorf("models: checkout merchant: %w", err)
	}
	v.MerchantName = m.Name
	return v, nil
}

// MerchantName returns a merchant's public name (checkout pages).
func (s *Store) MerchantName(ctx context.Context, merchantID string) (string, error) {
	var m Merchant
	if err := s.db.R(ctx).Select("name").Where("id = ?", merchantID).Take(&m).Error; err != nil {
		return "", fmt.Errorf("models: merchant name: %w", err)
	}
	return m.Name, nil
}

// CheckLinkOpen reports why a link cannot take payments now (nil when it can):
// drafts and inactive links are not found for customers, expired ones are gone.
func (s *Store) CheckLinkOpen(l *PaymentLink) error { return s.checkLinkOpen(l, s.clock()) }
