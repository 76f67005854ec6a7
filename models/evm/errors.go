package evm

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps at least one
// of them, so callers branch with errors.Is and show err.Error() (a
// specific reason a merchant can act on).
var (
	// ErrInvalidAddress marks any string that is not a usable EVM address
	// (prefix, length, characters, zero address, checksum).
	ErrInvalidAddress = errors.New("invalid EVM address")

	// ErrChecksum marks a mixed-case address whose case does not match its
	// EIP-55 checksum (a mistyped or altered address). It is always
	// wrapped together with ErrInvalidAddress.
	ErrChecksum = errors.New("EIP-55 checksum mismatch")

	// ErrZeroAddress marks 0x000…000, which nobody controls: USDC sent
	// there is burnt. It is always wrapped together with ErrInvalidAddress.
	ErrZeroAddress = errors.New("zero address")

	// ErrInvalidAmount marks a USDC amount that cannot be read exactly.
	ErrInvalidAmount = errors.New("invalid USDC amount")

	// ErrUnknownChain is returned for a chain name outside the built-in
	// table where one is required.
	ErrUnknownChain = errors.New("unknown EVM chain")
)

// evmError has its own human-readable text and matches one or more
// sentinels under errors.Is.
type evmError struct {
	msg   string
	kinds []error
}

func (e *evmError) Error() string   { return e.msg }
func (e *evmError) Unwrap() []error { return e.kinds }

// addressErrorf builds an ErrInvalidAddress error (plus extra kinds) whose
// text is "invalid EVM address: <reason>".
func addressErrorf(extra []error, format string, args ...any) error {
	return &evmError{
		msg:   ErrInvalidAddress.Error() + ": " + fmt.Sprintf(format, args...),
		kinds: append([]error{ErrInvalidAddress}, extra...),
	}
}
