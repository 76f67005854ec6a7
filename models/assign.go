package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Manual assignment of unmatched credits. Matching on a shared address stays
// exact (a near amount could be another customer's), so a wrong amount ends
// up unmatched; the merchant, who can ask the customer, then assigns it by
// hand to the session it belongs to. The assignment goes through the same
// credit path as an automatic match (creditPayment): the same conditional
// updates, the same statuses and events.

// RecentExpiryWindow is how long after it expired a session can still be
// given an unmatched credit by hand. Older sessions are settled; a credit
// for them is a matter between merchant and customer outside Till.
const RecentExpiryWindow = 7 * 24 * time.Hour

// maxAssignCandidates bounds the sessions offered per unmatched credit.
const maxAssignCandidates = 20

// AssignReason says why a credit could not be assigned.
type AssignReason string

// Reasons of AssignError.
const (
	AssignAlreadyAssigned AssignReason = "already_assigned"
	AssignReversed        AssignReason = "reversed"
	AssignOtherAddress    AssignReason = "other_address"
	AssignNotEligible     AssignReason = "not_eligible"
)

// AssignError refuses an assignment; Message is safe to show the merchant.
// It maps to 409 like any StateError, and errors.Is matches on Reason, so
// errors.Is(err, ErrSessionNotEligible) holds whatever the detail.
type AssignError struct {
	Reason  AssignReason
	Message string
}

func (e *AssignError) Error() string { return e.Message }

// Unwrap makes it a StateError with reason ErrAssignRefused (409 in KasPay).
func (e *AssignError) Unwrap() error {
	return &StateError{Reason: ErrAssignRefused, Message: e.Message}
}

// Is matches another AssignError with the same reason.
func (e *AssignError) Is(target error) bool {
	t, ok := target.(*AssignError)
	return ok && t.Reason == e.Reason
}

// The refusals of AssignCredit. A credit or payment of another merchant is a
// NotFoundError, indistinguishable from a missing one.
var (
	ErrCreditAssigned     = &AssignError{AssignAlreadyAssigned, "This credit has already been assigned to a payment."}
	ErrCreditReversed     = &AssignError{AssignReversed, "This credit was reversed by the network and no longer counts, so it cannot be assigned."}
	ErrCreditOtherAddress = &AssignError{AssignOtherAddress, "This credit paid a different address than the payment's, so it cannot pay it."}
	ErrSessionNotEligible = &AssignError{AssignNotEligible, "This payment cannot take the credit."}
)

func notEligible(why string) error {
	return &AssignError{AssignNotEligible, "This payment cannot take the credit: " + why + "."}
}

// Overpaid is how much more than expected the payment received, in sompi
// (0 when it received the amount or less).
func (p *Payment) Overpaid() int64 {
	if d := p.AmountReceived - p.AmountExpected; d > 0 {
		return d
	}
	return 0
}

// AssignCredit credits the merchant's unmatched transfer to the merchant's
// payment, as an automatic match would: the payment becomes underpaid,
// confirming or (deep enough) confirmed with payment.confirmed, any excess
// stays recorded in amount_received, and the payment's activity log says the
// merchant did it. The transfer is claimed with a conditional update on
// payment_id IS NULL, so of two concurrent assignments of one credit exactly
// one succeeds and the other gets ErrCreditAssigned.
func (s *Store) AssignCredit(ctx context.Context, merchantID, transferID, paymentID string) (*Payment, error) {
	if _, err := uuid.Parse(transferID); err != nil {
		return nil, &NotFoundError{What: "Credit"}
	}
	if _, err := uuid.Parse(paymentID); err != nil {
		return nil, &NotFoundError{What: "Payment"}
	}
	// The credit's chain (Kaspa when the credit is not found: the lookup
	// below then answers 404 as for any missing credit).
	chain := chainKaspa
	var chains []string
	if err := s.db.R(ctx).Model(&Transfer{}).Scopes(ownedBy(merchantID)).Where("id = ?", transferID).
		Limit(1).Pluck("chain", &chains).Error; err != nil {
		return nil, fmt.Errorf("models: credit chain: %w", err)
	}
	if len(chains) == 1 {
		chain = chains[0]
	}
	st, err := s.ChainState(ctx, chain)
	if errors.Is(err, ErrNotFound) {
		what := "The Kaspa network"
		if !IsKaspa(chain) {
			what = "The " + chain + " network"
		}
		return nil, &UnavailableError{Message: what + " has not been observed yet; try again in a moment"}
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var out *Payment
	err = s.db.Tx(ctx, func(tx *gorm.DB) error {
		t, err := findOwned[Transfer](ctx, tx, merchantID, transferID, "Credit")
		if err != nil {
			return err
		}
		if t.PaymentID != nil {
			return ErrCreditAssigned
		}
		if reversed, err := transferReversed(tx, t.ID); err != nil {
			return err
		} else if reversed {
			return ErrCreditReversed
		}
		if coinbase, err := transferCoinbase(tx, t.ID); err != nil {
			return err
		} else if coinbase {
			return notEligible("the credit is a mining reward (coinbase output), not a customer payment")
		}
		p, err := findOwned[Payment](ctx, tx, merchantID, paymentID, "Payment")
		if err != nil {
			return err
		}
		if err := s.canTake(p, t, now); err != nil {
			return err
		}
		// Claim the credit first: a concurrent assignment of the same
		// credit waits on this row, then finds it taken.
		res := tx.Model(&Transfer{}).Scopes(ownedBy(merchantID)).
			Where("id = ? AND payment_id IS NULL AND reversed_at IS NULL AND orphaned_at IS NULL", t.ID).
			Update("payment_id", p.ID)
		if res.Error != nil {
			return fmt.Errorf("models: claim credit: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			if reversed, err := transferReversed(tx, t.ID); err == nil && reversed {
				return ErrCreditReversed
			}
			return ErrCreditAssigned
		}
		c, b := s.storedCredit(t, st, now)
		if _, err := s.creditPayment(tx, p, t, c, b, now); err != nil {
			if errors.Is(err, errConcurrentChange) {
				return &ConflictError{Message: "The payment changed while the credit was being assigned; try again."}
			}
			return err
		}
		if err := addActivity(tx, p, ActivityAssigned, t.TxID, t.Amount, "", now); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// transferReversed reports whether the chain took the credit back.
func transferReversed(tx *gorm.DB, id string) (bool, error) {
	var n int64
	if err := tx.Model(&Transfer{}).Where("id = ? AND reversed_at IS NOT NULL", id).Count(&n).Error; err != nil {
		return false, fmt.Errorf("models: credit reversed: %w", err)
	}
	return n > 0, nil
}

// transferCoinbase reports whether the credit is a coinbase output, which
// is never a customer payment (on any path).
func transferCoinbase(tx *gorm.DB, id string) (bool, error) {
	var n int64
	if err := tx.Model(&Transfer{}).Where("id = ? AND coinbase = ?", id, true).Count(&n).Error; err != nil {
		return false, fmt.Errorf("models: credit coinbase: %w", err)
	}
	return n > 0, nil
}

// canTake checks that payment p may be given credit t by hand: same chain
// and address, not confirmed, open or expired within RecentExpiryWindow, and
// opened before the credit's block (as for an automatic match: a credit
// older than the session cannot be its payment).
func (s *Store) canTake(p *Payment, t *Transfer, now time.Time) error {
	if p.Chain != t.Chain || p.PayAddress != t.Address {
		return ErrCreditOtherAddress
	}
	switch p.Status {
	case StatusConfirmed:
		return notEligible("it is already confirmed")
	case StatusExpired:
		ended := p.ExpiresAt
		if p.ExpiredAt != nil {
			ended = *p.ExpiredAt
		}
		if !ended.After(now.Add(-RecentExpiryWindow)) {
			return notEligible("it expired more than 7 days ago")
		}
	}
	var before bool
	switch {
	case !IsKaspa(t.Chain) && t.BlockNumber != nil:
		// EVM: the start rule of matching, start_block < block number.
		before = *t.BlockNumber <= p.StartBlock
	case t.BlockDaaScore != nil && p.StartDaaScore > 0:
		before = *t.BlockDaaScore < p.StartDaaScore
	case t.BlockTime != nil:
		before = t.BlockTime.Add(10 * time.Second).Before(p.CreatedAt) // clock skew slack, as in matching
	default:
		before = t.SeenAt.Before(p.CreatedAt)
	}
	if before {
		return notEligible("the credit was sent before this payment session opened")
	}
	return nil
}

// assignCandidates returns, per unmatched credit id, the merchant's sessions
// it could be assigned to (see canTake), closest amount first.
func (s *Store) assignCandidates(ctx context.Context, merchantID string, ts []Transfer) (map[string][]Payment, error) {
	out := map[string][]Payment{}
	if len(ts) == 0 {
		return out, nil
	}
	now := s.clock()
	// Credits the chain took back cannot be assigned: offer nothing.
	ids := make([]string, len(ts))
	for i := range ts {
		ids[i] = ts[i].ID
	}
	var reversed []string
	if err := s.db.R(ctx).Model(&Transfer{}).Where("id IN ? AND (reversed_at IS NOT NULL OR coinbase = ?)", ids, true).
		Pluck("id", &reversed).Error; err != nil {
		return nil, fmt.Errorf("models: reversed credits: %w", err)
	}
	byAddr := map[string][]Payment{}
	for i := range ts {
		t := &ts[i]
		if slices.Contains(reversed, t.ID) {
			continue
		}
		key := t.Chain + " " + t.Address
		ps, ok := byAddr[key]
		if !ok {
			var err error
			ps, err = s.addressCandidates(ctx, merchantID, t.Chain, t.Address, now)
			if err != nil {
				return nil, err
			}
			byAddr[key] = ps
		}
		var fit []Payment
		for j := range ps {
			if s.canTake(&ps[j], t, now) == nil {
				fit = append(fit, ps[j])
			}
		}
		sort.SliceStable(fit, func(a, b int) bool {
			return absDiff(fit[a].AmountExpected, t.Amount) < absDiff(fit[b].AmountExpected, t.Amount)
		})
		if len(fit) > maxAssignCandidates {
			fit = fit[:maxAssignCandidates]
		}
		out[t.ID] = fit
	}
	return out, nil
}

// maxAddressCandidates bounds the sessions read per address for
// assignCandidates (newest first).
const maxAddressCandidates = 200

// addressCandidates reads the merchant's sessions on chain and addr that a
// credit could still be assigned to (open, or expired inside the recent
// window and the late window), newest first, at most maxAddressCandidates.
// One read per status, each by address, chain and a literal status on
// payments_watched_address_idx, merged: one read with an OR of statuses
// went through payments_merchant_created_idx, the merchant's sessions
// newest first until enough matched (on a busy shared address its whole
// history), and with a list of statuses Postgres filtered the address's
// rows by status rather than searching the index for each
// (TestAddressPlans). SQLite, which has no statistics, still took the
// merchant index for the open statuses (it spares the sort), so there the
// index is named, as for the session inserts.
func (s *Store) addressCandidates(ctx context.Context, merchantID, chain, addr string, now time.Time) ([]Payment, error) {
	from := "payments"
	if s.db.Dialect == SQLite {
		from = "payments INDEXED BY payments_watched_address_idx"
	}
	var out []Payment
	for _, st := range append(slices.Clone(openStatuses), StatusExpired) {
		ps, err := listOwned[Payment](ctx, s.db.read, merchantID, func(db *gorm.DB) *gorm.DB {
			db = db.Table(from).Where("chain = ? AND pay_address = ? AND "+statusIn("status", st), chain, addr)
			if st == StatusExpired {
				db = db.Where("expires_at > ?", now.Add(-RecentExpiryWindow-s.lateWindow))
			}
			return db.Order("created_at DESC").Limit(maxAddressCandidates)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].CreatedAt.After(out[b].CreatedAt) })
	return out[:min(len(out), maxAddressCandidates)], nil
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}
