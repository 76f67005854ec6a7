// Package amount parses and prints exact decimal amounts as integers in a
// currency's base units (sompi, micro-USDC, cents). It is a leaf package so
// that models (KAS, USD) and models/evm (USDC) share one parser without an
// import cycle. No float64 is used anywhere: text goes through
// shopspring/decimal and comes out as an int64.
package amount

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Sentinel errors; every error from Parse wraps exactly one of them, so
// callers word their own message per currency.
var (
	// ErrEmpty: the text is empty or blank.
	ErrEmpty = errors.New("amount is required")
	// ErrSyntax: not a decimal number (JSON number grammar plus a leading
	// '+', a bare trailing or leading '.').
	ErrSyntax = errors.New("amount must be a number")
	// ErrNegative: the value is below zero.
	ErrNegative = errors.New("amount must not be negative")
	// ErrPrecision: the value has non-zero digits past the currency's
	// decimals (trailing zeros past them are exact and accepted).
	ErrPrecision = errors.New("amount has too many decimal places")
	// ErrRange: the value in base units is above the caller's maximum.
	ErrRange = errors.New("amount is too large")
)

// Parse reads decimal text (or the text of a JSON number, exponent
// included: "1e2" is exactly 100) into base units with the given number of
// decimals, refusing signs other than a leading '+', negatives, more
// fractional precision than decimals allows and values over max base
// units. Zero is accepted; callers that need a positive amount check it.
// Exponents are bounded by shopspring/decimal (|exp| ≤ 10,000), so no
// input makes the arithmetic below expensive.
func Parse(s string, decimals int32, max int64) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' && r != 'e' && r != 'E' {
			return 0, ErrSyntax
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, ErrSyntax
	}
	if d.Sign() < 0 {
		return 0, ErrNegative
	}
	if -d.Exponent() > decimals && !d.Equal(d.Truncate(decimals)) {
		return 0, fmt.Errorf("%w (at most %d)", ErrPrecision, decimals)
	}
	units := d.Shift(decimals)
	if units.GreaterThan(decimal.NewFromInt(max)) {
		return 0, ErrRange
	}
	return units.IntPart(), nil
}

// Format prints base units with exactly places decimals (places may exceed
// decimals: 1999 cents with places 8 → "19.99000000"); places 0 trims
// trailing zeros instead ("19.99", "1", "0.000001"). Never an exponent.
func Format(v int64, decimals, places int32) string {
	d := decimal.New(v, -decimals)
	if places == 0 {
		return d.String()
	}
	return d.StringFixed(places)
}
