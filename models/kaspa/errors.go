package kaspa

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps at least one
// of them, so callers branch with errors.Is and show err.Error() (which
// carries a specific, human-readable reason) to the merchant.
var (
	// ErrInvalidAddress marks any address that fails to decode or
	// validate (charset, checksum, prefix, version, length, padding).
	ErrInvalidAddress = errors.New("invalid kaspa address")

	// ErrWrongNetwork marks an address or extended key that is valid but
	// belongs to a different network than the one configured. It is
	// always wrapped together with ErrInvalidAddress or
	// ErrInvalidExtendedKey.
	ErrWrongNetwork = errors.New("wrong network")

	// ErrUnknownNetwork is returned for a network name other than
	// "mainnet" or "testnet-10".
	ErrUnknownNetwork = errors.New("unknown kaspa network")

	// ErrNonStandardScript is returned by AddressFromScriptPublicKey for
	// scripts that are not P2PK (Schnorr), P2PK-ECDSA or P2SH.
	ErrNonStandardScript = errors.New("non-standard script public key")

	// ErrInvalidExtendedKey marks an extended public key that cannot be
	// used (bad encoding, checksum, version, network or depth).
	ErrInvalidExtendedKey = errors.New("invalid extended public key")

	// ErrPrivateKey is returned when the input is an extended private key
	// (kprv/ktrv/xprv/tprv…) or looks like a seed phrase. It is always
	// wrapped together with ErrInvalidExtendedKey. The gateway must never
	// store such input.
	ErrPrivateKey = errors.New("private key material supplied")

	// ErrInvalidIndex is returned for derivation indexes at or above 2^31,
	// which would be hardened and cannot be derived from a public key.
	ErrInvalidIndex = errors.New("invalid derivation index")

	// ErrUnusableIndex is returned in the (probability < 2^-127) case where
	// BIP32 yields no valid child for an index; callers should skip to the
	// next index, as wallets do.
	ErrUnusableIndex = errors.New("derivation index yields no valid key")
)

// kaspaError is an error with its own human-readable text that matches one
// or more sentinels under errors.Is.
type kaspaError struct {
	msg   string
	kinds []error
}

func (e *kaspaError) Error() string   { return e.msg }
func (e *kaspaError) Unwrap() []error { return e.kinds }

// invalidf builds an ErrInvalidAddress error whose text is
// "invalid kaspa address: <reason>".
func invalidf(format string, args ...any) error {
	return &kaspaError{
		msg:   ErrInvalidAddress.Error() + ": " + fmt.Sprintf(format, args...),
		kinds: []error{ErrInvalidAddress},
	}
}

// keyErrorf builds an error whose text is "invalid extended public key:
// <reason>" and which matches ErrInvalidExtendedKey plus any extra kinds.
func keyErrorf(extra []error, format string, args ...any) error {
	return &kaspaError{
		msg:   ErrInvalidExtendedKey.Error() + ": " + fmt.Sprintf(format, args...),
		kinds: append([]error{ErrInvalidExtendedKey}, extra...),
	}
}
