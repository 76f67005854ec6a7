package models

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned by store lookups when no row matches, including rows
// that exist but belong to another merchant (tenant scoping never reveals them).
var ErrNotFound = errors.New("models: not found")

// ErrConflict is returned when a write would break a uniqueness rule the
// caller can act on (for example a duplicate email).
var ErrConflict = errors.New("models: conflict")

// ErrInvalidCredentials is returned by Authenticate for an unknown email or a
// wrong password; callers must not tell the two apart.
var ErrInvalidCredentials = errors.New("models: invalid credentials")

// ErrInvalidState is returned when a state transition is attempted from a
// status that does not allow it (the conditional update changed no row).
var ErrInvalidState = errors.New("models: invalid state transition")

// ErrUnavailable is returned when a dependency the domain needs (a live price,
// for example) cannot be used right now.
var ErrUnavailable = errors.New("models: unavailable")

// Reason says why the domain refused something, independently of any API
// surface: each dialect (handlers/render) maps a Reason to its own status and
// message in one table. A Reason is an error, so errors.Is(err, ErrLinkExpired)
// matches any StateError or ValidationError carrying it.
type Reason string

func (r Reason) Error() string { return "models: " + string(r) }

// The reasons the domain gives. Their string values are stable identifiers,
// never shown to users.
const (
	// ErrRefused is a StateError with no more specific reason.
	ErrRefused Reason = "refused"
	// ErrInvalid is an input that breaks a field rule (ValidationError).
	ErrInvalid Reason = "invalid"
	// ErrBelowMinimum is a session whose amount is under the payable minimum.
	ErrBelowMinimum Reason = "below_minimum"
	// ErrLinkNotActive is a draft link: it takes no payments yet.
	ErrLinkNotActive Reason = "link_not_active"
	// ErrLinkClosed is a link the merchant deactivated.
	ErrLinkClosed Reason = "link_closed"
	// ErrLinkExpired is a link past its expiry date.
	ErrLinkExpired Reason = "link_expired"
	// ErrNoPayoutAddress is a merchant (or link) with nowhere to be paid.
	ErrNoPayoutAddress Reason = "no_payout_address"
	// ErrCurrencyMismatch is a link whose currency the chosen asset cannot pay.
	ErrCurrencyMismatch Reason = "currency_mismatch"
	// ErrChainDisabled is a link on a network this server does not watch.
	ErrChainDisabled Reason = "chain_disabled"
	// ErrKeyUnusable is a merchant kpub that cannot derive addresses.
	ErrKeyUnusable Reason = "key_unusable"
	// ErrNotWalletPayment is a wallet report for a session not paid by wallet.
	ErrNotWalletPayment Reason = "not_wallet_payment"
	// ErrPaymentClosed is a session that no longer takes payments.
	ErrPaymentClosed Reason = "payment_closed"
	// ErrWebhookInactive is an action that needs an active webhook endpoint.
	ErrWebhookInactive Reason = "webhook_inactive"
	// ErrRateLimited is a refused hit on a rate-limit budget.
	ErrRateLimited Reason = "rate_limited"
	// ErrDuplicate is a write that would break a uniqueness rule (ConflictError).
	ErrDuplicate Reason = "duplicate"
	// ErrAssignRefused is a credit assignment the domain refuses (AssignError).
	ErrAssignRefused Reason = "assign_refused"
	// ErrRequired is a required field that is missing or blank.
	ErrRequired Reason = "required"
	// ErrWrongType is a field of the wrong JSON type (found by the edge that
	// decodes the request; the domain takes typed values).
	ErrWrongType Reason = "wrong_type"
	// ErrTooLong is a text field over its length limit.
	ErrTooLong Reason = "too_long"
)

// Reasons lists every Reason, for the dialect tables' completeness tests.
var Reasons = []Reason{ErrRefused, ErrInvalid, ErrBelowMinimum, ErrLinkNotActive, ErrLinkClosed, ErrLinkExpired,
	ErrNoPayoutAddress, ErrCurrencyMismatch, ErrChainDisabled, ErrKeyUnusable, ErrNotWalletPayment,
	ErrPaymentClosed, ErrWebhookInactive, ErrRateLimited, ErrDuplicate, ErrAssignRefused,
	ErrRequired, ErrWrongType, ErrTooLong}

// ValidationError reports input that breaks a domain rule. Field names the
// input field (JSON name, neutral across dialects), Reason why (ErrInvalid
// unless more specific) and Message is the KasPay wording, safe to show to
// the user as is.
type ValidationError struct {
	Field   string
	Reason  Reason
	Message string
}

// ReasonOf is the error's reason, ErrInvalid when none was set.
func (e *ValidationError) ReasonOf() Reason {
	if e.Reason == "" {
		return ErrInvalid
	}
	return e.Reason
}

// Is matches the error's Reason.
func (e *ValidationError) Is(target error) bool {
	r, ok := target.(Reason)
	return ok && r == e.ReasonOf()
}

func (e *ValidationError) Error() string { return e.Message }

// Invalid builds a ValidationError for field with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: ErrInvalid, Message: fmt.Sprintf(format, args...)}
}

// InvalidAs is Invalid with a more specific reason.
func InvalidAs(field string, r Reason, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: r, Message: fmt.Sprintf(format, args...)}
}

// ConflictError is an ErrConflict with a user-facing message.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Is matches ErrDuplicate, the reason of every ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrDuplicate }

// NotFoundError is an ErrNotFound naming what was not found, so the API can
// say "Payment link not found" rather than a generic message.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// Unwrap lets errors.Is(err, ErrNotFound) match.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// StateError is an ErrInvalidState with a Reason (which each dialect maps to
// its status) and a user-facing message (the KasPay wording).
type StateError struct {
	Reason  Reason
	Message string
}

func (e *StateError) Error() string { return e.Message }

// ReasonOf is the error's reason, ErrRefused when none was set.
func (e *StateError) ReasonOf() Reason {
	if e.Reason == "" {
		return ErrRefused
	}
	return e.Reason
}

// Unwrap lets errors.Is(err, ErrInvalidState) match.
func (e *StateError) Unwrap() error { return ErrInvalidState }

// Is matches the error's Reason, so errors.Is(err, ErrLinkExpired) holds.
func (e *StateError) Is(target error) bool {
	r, ok := target.(Reason)
	return ok && r == e.ReasonOf()
}

// UnavailableError is an ErrUnavailable with a user-facing message.
type UnavailableError struct{ Message string }

func (e *UnavailableError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrUnavailable) match.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }
