package evm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"till/models/amount"
)

// USDC amounts are integers of micro-USDC (10^-6 USDC, the token's base
// unit) everywhere inside Till; these functions are the exact edges.
const (
	// USDCDecimals is the number of decimals of USDC on every chain.
	USDCDecimals = 6
	// MicroPerUSDC is the number of micro-USDC in one USDC.
	MicroPerUSDC = 1_000_000
	// MaxUnits bounds any USDC amount Till converts to int64: 2^62
	// micro-USDC (about 4.6 trillion USDC, far above the supply). A
	// Transfer above it is recorded as unmatched, never converted.
	MaxUnits = 1 << 62
)

// ParseUSDC reads decimal USDC text ("12.34", "0.000001", "100", "1e2")
// into micro-USDC. Exponent form is read exactly (JavaScript prints some
// numbers that way), a trailing zero past 6 decimals is exact ("1.0000000"),
// and surrounding spaces are ignored. It refuses more than 6 significant
// decimals, negatives, anything that is not a number and values above
// MaxUnits. Zero is accepted (an open-amount link's price); callers that
// need a minimum check it. Errors wrap ErrInvalidAmount.
func ParseUSDC(s string) (int64, error) {
	v, err := amount.Parse(s, USDCDecimals, MaxUnits)
	if err == nil {
		return v, nil
	}
	var reason string
	switch {
	case errors.Is(err, amount.ErrEmpty):
		reason = "an amount is required"
	case errors.Is(err, amount.ErrNegative):
		reason = "must not be negative"
	case errors.Is(err, amount.ErrPrecision):
		reason = "USDC has at most 6 decimal places"
	case errors.Is(err, amount.ErrRange):
		reason = "too large (at most " + FormatUSDC(MaxUnits) + " USDC)"
	default:
		reason = fmt.Sprintf("%.40q is not a decimal number", strings.TrimSpace(s))
	}
	return 0, &evmError{msg: ErrInvalidAmount.Error() + ": " + reason, kinds: []error{ErrInvalidAmount, err}}
}

// ParseUSDCJSON reads a JSON value holding a USDC amount: a number read
// from its text (100.5 is exactly 100.5; never through float64) or a
// string of decimal text ("100.5"). null, booleans, arrays and objects are
// refused. Errors wrap ErrInvalidAmount.
func ParseUSDCJSON(raw []byte) (int64, error) {
	raw = bytes.Trim(raw, " \t\r\n") // JSON's whitespace only: "0\f" is not JSON
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, &evmError{msg: ErrInvalidAmount.Error() + ": not a JSON string", kinds: []error{ErrInvalidAmount}}
		}
		return ParseUSDC(s)
	}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, &evmError{msg: ErrInvalidAmount.Error() + ": must be a JSON number or a string of decimal text", kinds: []error{ErrInvalidAmount}}
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, &evmError{msg: ErrInvalidAmount.Error() + ": not a JSON number", kinds: []error{ErrInvalidAmount}}
	}
	return ParseUSDC(n.String())
}

// FormatUSDC prints micro-USDC as exact decimal USDC with trailing zeros
// trimmed ("12.34", "1", "0.000001"); ParseUSDC reads it back.
func FormatUSDC(units int64) string { return amount.Format(units, USDCDecimals, 0) }

// FormatUSDCFixed prints micro-USDC with all 6 decimals ("12.340000").
func FormatUSDCFixed(units int64) string { return amount.Format(units, USDCDecimals, USDCDecimals) }

// UnitsFromWord converts the 32-byte big-endian uint256 data of an ERC-20
// Transfer log into micro-USDC. It reports false for a value above
// MaxUnits (or data that is not 32 bytes): such a transfer is recorded as
// unmatched, never converted.
func UnitsFromWord(data []byte) (int64, bool) {
	if len(data) != 32 {
		return 0, false
	}
	v := new(big.Int).SetBytes(data)
	if !v.IsInt64() || v.Int64() > MaxUnits {
		return 0, false
	}
	return v.Int64(), true
}
