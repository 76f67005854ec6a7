package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"till/models/evm"
)

// VisitorPaymentWhere selects a visitor's sessions on a link. Its last term,
// a non-empty visitor, is the predicate of the partial payments_visitor_idx
// (migration 0018): without it no planner may use that index.
const VisitorPaymentWhere = "link_id = ? AND visitor = ? AND visitor <> ''"

// VisitorPayment returns the newest session a checkout visitor opened on a
// link, so reloading the checkout page resumes it instead of opening a new
// one. visitor is the hash the checkout keeps in its cookie.
func (s *Store) VisitorPayment(ctx context.Context, linkID, visitor string) (*Payment, error) {
	if visitor == "" {
		return nil, &NotFoundError{What: "Payment"}
	}
	var p Payment
	err := s.db.R(ctx).Where(VisitorPaymentWhere, linkID, visitor).Order("created_at DESC").Take(&p).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, &NotFoundError{What: "Payment"}
	}
	if err != nil {
		return nil, fmt.Errorf("models: visitor payment: %w", err)
	}
	return &p, nil
}

// StartCheckout is the checkout's one domain call to start paying a link:
// it resumes the visitor's open session on the link (so a double click or a
// resubmitted form does not open, and with per-payment addresses burn,
// another one) or opens one with in. resumed reports which. A closed link is
// refused (ErrLinkNotActive, ErrLinkClosed, ErrLinkExpired) before anything
// is resumed.
func (s *Store) StartCheckout(ctx context.Context, in CreatePaymentInput) (p *Payment, resumed bool, err error) {
	link, err := s.LinkBySlug(ctx, strings.TrimSpace(in.LinkSlug))
	if err != nil {
		return nil, false, err
	}
	if err := s.checkLinkOpen(link, s.clock()); err != nil {
		return nil, false, err
	}
	if in.Visitor != "" {
		p, err := s.VisitorPayment(ctx, link.ID, in.Visitor)
		if err == nil && p.OpenForCheckout(s.clock()) {
			return p, true, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, false, err
		}
	}
	p, err = s.CreatePayment(ctx, in)
	return p, false, err
}

// OpenForCheckout reports whether the session still takes (or is taking)
// payment at now: pending and unexpired, confirming, or underpaid.
func (p *Payment) OpenForCheckout(now time.Time) bool {
	switch p.Status {
	case StatusPending:
		return now.Before(p.ExpiresAt)
	case StatusConfirming, StatusUnderpaid:
		return true
	}
	return false
}

// CheckoutView is what the public checkout shows about a session: the
// payment, its link and the merchant's public name.
type CheckoutView struct {
	Payment      *Payment
	Link         *PaymentLink
	MerchantName string
	// StrayCredit: a credit reached the session's shared address after it
	// opened and matched nothing (see StrayCredit).
	StrayCredit bool
	// EVM describes the network and token of a USDC session (nil for Kaspa).
	EVM *EVMCheckout
}

// EVMCheckout is what a USDC checkout shows about where to pay: the
// network (name and chain ID), the USDC contract, the receiver, the
// EIP-681 URI of the exact amount and explorer links.
type EVMCheckout struct {
	Network  string
	ChainID  uint64
	Token    evm.Address
	Receiver evm.Address
	// URI is evm.PaymentURI of the exact amount (what the QR encodes).
	URI string
	// TokenURL links the USDC contract, TxURL the paying transaction and
	// SubmittedTxURL the one the customer's wallet reported ("" when the
	// chain has no explorer or there is no such transaction).
	TokenURL, TxURL, SubmittedTxURL string
}

// evmCheckout fills EVMCheckout for a USDC session: chain ID and token from
// the enabled chain (else the built-in table and the session's own token),
// name and explorer from the built-in table when the chain IDs agree (a
// local chain shows its configured name and has no explorer).
func (s *Store) evmCheckout(p *Payment) (*EVMCheckout, error) {
	v := &EVMCheckout{Network: p.Chain}
	token := p.TokenAddress
	b, builtin := evm.Builtin(p.Chain)
	if ch, ok := s.evm[p.Chain]; ok {
		v.ChainID = uint64(ch.ChainID)
		if token == "" {
			token = ch.USDC
		}
	} else if builtin {
		v.ChainID = b.ChainID
	}
	if builtin && b.ChainID == v.ChainID {
		v.Network = b.DisplayName
	} else {
		b = evm.Chain{}
	}
	var err error
	if v.Token, err = evm.ParseAddress(token, evm.Format); err != nil {
		return nil, fmt.Errorf("models: checkout token of %s: %w", p.ID, err)
	}
	if v.Receiver, err = evm.ParseAddress(p.PayAddress, evm.Format); err != nil {
		return nil, fmt.Errorf("models: checkout receiver of %s: %w", p.ID, err)
	}
	v.URI = evm.PaymentURI(v.Token, v.ChainID, v.Receiver, p.AmountExpected)
	b.USDC = v.Token
	v.TokenURL = b.TokenURL()
	txURL := func(h string) string {
		if u := ExplorerTxURL(p.Chain, "", h); u != "" {
			return u
		}
		if h == "" {
			return ""
		}
		return b.TxURL(h)
	}
	v.TxURL, v.SubmittedTxURL = txURL(p.TxID), txURL(p.SubmittedTxHash)
	return v, nil
}

// PaymentURI is the wallet URI a session's QR code encodes: Kaspa's
// kaspa:ADDR?amount=… or, for USDC, the EIP-681 transfer of the exact
// amount on the session's chain.
func (s *Store) PaymentURI(p *Payment) (string, error) {
	if p.AssetOf() != USDC {
		return p.PaymentURI(), nil
	}
	v, err := s.evmCheckout(p)
	if err != nil {
		return "", err
	}
	return v.URI, nil
}

// Checkout loads a session with its link and merchant name for the public
// checkout and receipt pages and the checkout's status poll. Each part is a
// cached read (the session with its stray-credit flag, the link, the
// merchant's name; see Changes), so a poll costs no query while nothing
// changed; the view is the caller's own copy.
func (s *Store) Checkout(ctx context.Context, paymentID string) (*CheckoutView, error) {
	st, err := s.checkoutState(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	p := st.payment.clone()
	v := &CheckoutView{Payment: p, StrayCredit: st.stray}
	if p.LinkID != nil {
		l, err := s.caches.links.get(*p.LinkID, func() (PaymentLink, error) {
			var l PaymentLink
			return l, s.db.R(ctx).Where("id = ?", *p.LinkID).Take(&l).Error
		})
		if err == nil {
			v.Link = l.clone()
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("models: checkout link: %w", err)
		}
	}
	v.MerchantName, err = s.caches.merchantNames.get(p.MerchantID, func() (string, error) {
		var m Merchant
		err := s.db.R(ctx).Select("name").Where("id = ?", p.MerchantID).Take(&m).Error
		return m.Name, err
	})
	if err != nil {
		return nil, fmt.Errorf("models: checkout merchant: %w", err)
	}
	if p.AssetOf() == USDC {
		if v.EVM, err = s.evmCheckout(p); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// checkoutState is what the checkout's status depends on in the payments
// group: the session and whether a stray credit reached its address.
type checkoutState struct {
	payment Payment
	stray   bool
}

// checkoutState reads the session once (not through the payment cache, so
// the TTL bounds the pair) and
// its stray-credit flag, cached together: both change only with writes
// to payments or transfers.
func (s *Store) checkoutState(ctx context.Context, paymentID string) (checkoutState, error) {
	if _, err := uuid.Parse(paymentID); err != nil {
		return checkoutState{}, &NotFoundError{What: "Payment"}
	}
	return s.caches.checkouts.get(paymentID, func() (checkoutState, error) {
		p, err := s.loadPayment(ctx, paymentID)
		if err != nil {
			return checkoutState{}, err
		}
		stray, err := s.StrayCredit(ctx, &p)
		if err != nil {
			return checkoutState{}, err
		}
		return checkoutState{payment: p, stray: stray}, nil
	})
}

// StrayCredit reports whether a credit to a shared-address session's
// address arrived after the session opened (and before its late window
// ended) and matched nothing, while the session is still awaiting payment or
// has expired: its customer may have sent a different amount, which exact
// matching cannot attribute. Only the fact is returned; the credit may be
// another customer's, so its transaction and amount never reach the page.
func (s *Store) StrayCredit(ctx context.Context, p *Payment) (bool, error) {
	if p.DerivationIndex != nil || (p.Status != StatusPending && p.Status != StatusExpired) {
		return false, nil
	}
	var n int64
	// merchant_id and seen_at lead the transfers_merchant_idx index; an
	// unmatched credit has the merchant when only it uses the address.
	err := s.db.R(ctx).Model(&Transfer{}).
		Where("merchant_id = ? AND seen_at >= ? AND seen_at <= ?", p.MerchantID, p.CreatedAt, p.ExpiresAt.Add(s.lateWindow)).
		Where("chain = ? AND address = ? AND payment_id IS NULL AND reversed_at IS NULL AND orphaned_at IS NULL", p.Chain, p.PayAddress).
		Limit(1).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("models: stray credit: %w", err)
	}
	return n > 0, nil
}

// CheckLinkOpen reports why a link cannot take payments now (nil when it can):
// drafts and inactive links are not found for customers, expired ones are gone.
func (s *Store) CheckLinkOpen(l *PaymentLink) error { return s.checkLinkOpen(l, s.clock()) }
