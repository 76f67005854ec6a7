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

// ValidationError reports input that breaks a domain rule. Field names the
// input field (JSON name) and Message is safe to show to the user as is.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Message }

// Invalid builds a ValidationError for field with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError is an ErrConflict with a user-facing message.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// NotFoundError is an ErrNotFound naming what was not found, so the API can
// say "Payment link not found" rather than a generic message.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " not found" }

// Unwrap lets errors.Is(err, ErrNotFound) match.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// StateError is an ErrInvalidState with a user-facing message and the HTTP
// class it maps to (Gone for expired things, Conflict otherwise).
type StateError struct {
	Message string
	// Gone marks something that has expired: the checkout page explains it
	// as such, and the status is 410 unless Status says otherwise.
	Gone bool
	// Status overrides the HTTP status when set (e.g. 400 for a link that
	// takes no payments, as KasPay answers).
	Status int
}

func (e *StateError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrInvalidState) match.
func (e *StateError) Unwrap() error { return ErrInvalidState }

// UnavailableError is an ErrUnavailable with a user-facing message.
type UnavailableError struct{ Message string }

func (e *UnavailableError) Error() string { return e.Message }

// Unwrap lets errors.Is(err, ErrUnavailable) match.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }
