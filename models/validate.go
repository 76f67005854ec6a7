package models

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"till/models/kaspa"
)

// ValidationErrors collects every invalid field of one input, so pages can
// show each message next to its field while the JSON API reports the first.
type ValidationErrors []*ValidationError

func (v ValidationErrors) Error() string {
	if len(v) == 0 {
		return "invalid input"
	}
	return v[0].Message
}

// For returns the message for field, or "".
func (v ValidationErrors) For(field string) string {
	for _, e := range v {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// has reports whether v holds an error on field.
func (v ValidationErrors) has(field string) bool {
	for _, e := range v {
		if e.Field == field {
			return true
		}
	}
	return false
}

// add appends a field error when err is a validation error and reports
// whether it was one.
func (v *ValidationErrors) add(err error) {
	if err == nil {
		return
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		*v = append(*v, ve)
		return
	}
	*v = append(*v, &ValidationError{Message: err.Error()})
}

// merge returns v with edge's errors, and without v's own errors on the
// fields edge already refused: one error per field, the edge's.
func (v ValidationErrors) merge(edge ValidationErrors) ValidationErrors {
	if len(edge) == 0 {
		return v
	}
	out := append(ValidationErrors(nil), edge...)
	for _, e := range v {
		if !edge.has(e.Field) {
			out = append(out, e)
		}
	}
	return out
}

// err returns nil when nothing was collected.
func (v ValidationErrors) err() error {
	if len(v) == 0 {
		return nil
	}
	return v
}

// AsValidation returns the field errors carried by err, if any.
func AsValidation(err error) (ValidationErrors, bool) {
	var many ValidationErrors
	if errors.As(err, &many) {
		return many, true
	}
	var one *ValidationError
	if errors.As(err, &one) {
		return ValidationErrors{one}, true
	}
	return nil, false
}

// Bounds on merchant input.
const (
	MinPasswordLen   = 10
	MaxPasswordBytes = 72 // bcrypt ignores anything longer; refuse rather than truncate silently
	MaxNameLen       = 100
	MaxEmailLen      = 254
	MinPaymentExpiry = 1
	MaxPaymentExpiry = 10080 // one week, in minutes
)

// NormalizeEmail trims and lower-cases an email so lookups are case-insensitive.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func validateEmail(field, email string) error {
	if email == "" {
		return Invalid(field, "Email is required")
	}
	if len(email) > MaxEmailLen {
		return Invalid(field, "Invalid email format")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return Invalid(field, "Invalid email format")
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return Invalid(field, "Invalid email format")
	}
	return nil
}

// validateText checks a required or optional single-line text field.
func validateText(field, label, s string, required bool, max int) error {
	if s == "" {
		if required {
			return InvalidAs(field, ErrRequired, "%s is required", label)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return Invalid(field, "%s must be valid UTF-8 text", label)
	}
	if utf8.RuneCountInString(s) > max {
		return InvalidAs(field, ErrTooLong, "%s must be at most %d characters", label, max)
	}
	for _, r := range s {
		if err := checkTextRune(field, label, r, false); err != nil {
			return err
		}
	}
	return nil
}

// validateMultiline is validateText that also allows line breaks and tabs.
func validateMultiline(field, label, s string, max int) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "%s must be valid UTF-8 text", label)
	}
	if utf8.RuneCountInString(s) > max {
		return InvalidAs(field, ErrTooLong, "%s must be at most %d characters", label, max)
	}
	for _, r := range s {
		if err := checkTextRune(field, label, r, true); err != nil {
			return err
		}
	}
	return nil
}

// checkTextRune is the one character rule of text fields: no control
// characters (line breaks and tabs only where multiline allows them) and no
// Unicode bidirectional embedding, override or isolate characters
// (U+202A–U+202E, U+2066–U+2069), which make text display in another order
// than it is stored ("Trojan Source": a title or name that reads differently
// in the dashboard, the checkout or a webhook consumer's UI).
func checkTextRune(field, label string, r rune, multiline bool) error {
	switch {
	case multiline && (r == '\n' || r == '\r' || r == '\t'):
		return nil
	case unicode.IsControl(r):
		return Invalid(field, "%s must not contain control characters", label)
	case IsBidiControl(r):
		return Invalid(field, "%s must not contain bidirectional override characters", label)
	}
	return nil
}

// IsBidiControl reports whether r is a bidirectional embedding, override or
// isolate character (U+202A–U+202E, U+2066–U+2069).
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069
}

func (s *Store) validateKaspaAddress(field, addr string) error {
	if addr == "" {
		return Invalid(field, "Kaspa address is required")
	}
	if _, err := kaspa.ParseAddress(addr, s.network); err != nil {
		return Invalid(field, "Invalid Kaspa address for %s: %s", s.network, err.Error())
	}
	return nil
}

func validatePaymentExpiry(field string, v int) error {
	if v < MinPaymentExpiry || v > MaxPaymentExpiry {
		return Invalid(field, "paymentExpiry must be a whole number of minutes between %d and %d", MinPaymentExpiry, MaxPaymentExpiry)
	}
	return nil
}
