package models

import (
	"errors"
	"fmt"

	"github.com/shopspring/decimal"

	"till/models/amount"
)

// Currency is what a link is priced in. Amounts are always integers in the
// currency's base unit: sompi for KAS (10^-8), cents for USD, 10^-6 for USDC.
type Currency string

// Supported currencies.
const (
	KAS  Currency = "KAS"
	USD  Currency = "USD"
	USDC Currency = "USDC"
)

// Decimals is the number of base-unit digits after the decimal point.
func (c Currency) Decimals() int32 {
	switch c {
	case KAS:
		return 8
	case USD:
		return 2
	case USDC:
		return 6
	}
	return 0
}

// Valid reports whether c is a known currency.
func (c Currency) Valid() bool { return c == KAS || c == USD || c == USDC }

// SompiPerKAS is the number of sompi in one KAS.
const SompiPerKAS = 100_000_000

// MinPayableSompi is the smallest KAS amount Till will ask a customer to pay:
// standard wallets refuse smaller outputs under KIP-9 storage mass rules
// (research/kaspa.md §4), so a smaller invoice could never be paid.
const MinPayableSompi = 20_000_000 // 0.2 KAS

// ParseAmount parses a decimal amount (a JSON number or string of digits,
// exponent form read exactly: "1e2" is 100) into base units of c, refusing
// more fractional digits than c has, negatives, zero and values over max
// base units. The parsing itself is amount.Parse, shared with USDC.
func ParseAmount(s string, c Currency, max int64) (int64, error) {
	v, err := amount.Parse(s, c.Decimals(), max)
	switch {
	case errors.Is(err, amount.ErrEmpty):
		return 0, fmt.Errorf("amount is required")
	case errors.Is(err, amount.ErrSyntax):
		return 0, fmt.Errorf("amount must be a number")
	case errors.Is(err, amount.ErrNegative), err == nil && v == 0:
		return 0, fmt.Errorf("amount must be greater than 0")
	case errors.Is(err, amount.ErrPrecision):
		return 0, fmt.Errorf("amount must have at most %d decimal places for %s", c.Decimals(), c)
	case errors.Is(err, amount.ErrRange):
		return 0, fmt.Errorf("amount is too large (at most %s %s)", FormatUnits(max, c.Decimals(), 0), c)
	case err != nil:
		return 0, err
	}
	return v, nil
}

// FormatUnits prints base units with exactly places decimals (places may
// exceed decimals: 1999 cents with places 8 → "19.99000000"); places 0 trims
// trailing zeros instead.
func FormatUnits(v int64, decimals, places int32) string { return amount.Format(v, decimals, places) }

// FormatAmount8 prints base units of c the way the KasPay API prints every
// amount: a string with 8 decimals, e.g. "100.00000000".
func FormatAmount8(v int64, c Currency) string { return FormatUnits(v, c.Decimals(), 8) }

// ConvertUSDToSompi converts cents to sompi at rate (USD per KAS, a decimal
// string), rounding up so the merchant never receives less than the price.
func ConvertUSDToSompi(cents int64, rate string) (int64, error) {
	r, err := decimal.NewFromString(rate)
	if err != nil || !r.IsPositive() {
		return 0, fmt.Errorf("models: bad rate %q", rate)
	}
	// sompi = cents/100 USD ÷ rate USD/KAS × 10^8 sompi/KAS
	sompi := decimal.NewFromInt(cents).Shift(6).DivRound(r, 12).Ceil()
	if !sompi.IsPositive() || sompi.GreaterThan(decimal.NewFromInt(maxSompi)) {
		return 0, fmt.Errorf("models: converted amount out of range")
	}
	return sompi.IntPart(), nil
}

// maxSompi bounds any KAS amount Till handles (10^10 KAS, far above supply).
const maxSompi = 1_000_000_000_000_000_000

// SompiToUSDCents values sompi at rate (USD per KAS), rounded to the cent.
func SompiToUSDCents(sompi int64, rate string) (int64, error) {
	r, err := decimal.NewFromString(rate)
	if err != nil || !r.IsPositive() {
		return 0, fmt.Errorf("models: bad rate %q", rate)
	}
	return decimal.New(sompi, -6).Mul(r).Round(0).IntPart(), nil
}
