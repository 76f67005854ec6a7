package evm

import (
	"encoding/hex"
	"strings"
	"sync"

	"golang.org/x/crypto/sha3"
)

// AddressLen is the length of an EVM address in bytes.
const AddressLen = 20

// Address is a 20-byte EVM account or contract address. Values returned by
// ParseAddress are never the zero address.
type Address [AddressLen]byte

// Strictness selects how ParseAddress treats letter case.
type Strictness int

const (
	// Strict is for addresses Till's own pages and settings take from a
	// merchant: a mixed-case address must pass its EIP-55 checksum, so a
	// mistyped character is caught before money is sent to it. All-lower
	// and all-upper hex carry no checksum and are accepted.
	Strict Strictness = iota
	// Format accepts any well-formed address whatever its case (the
	// KiraPay-compatible API, whose own example address fails EIP-55).
	Format
)

// ParseAddress reads "0x" followed by exactly 40 hexadecimal characters.
// It refuses a missing or upper-case "0X" prefix, any other length or
// character, surrounding spaces (callers trim form input) and the zero
// address; at Strict it also refuses a mixed-case address whose case is not
// its EIP-55 checksum. Errors wrap ErrInvalidAddress (and ErrChecksum or
// ErrZeroAddress) and say what to fix.
func ParseAddress(s string, level Strictness) (Address, error) {
	var a Address
	if !strings.HasPrefix(s, "0x") {
		return a, addressErrorf(nil, "must start with 0x")
	}
	h := s[2:]
	if len(h) != 2*AddressLen {
		return a, addressErrorf(nil, "must be 0x followed by 40 hexadecimal characters (got %d)", len(h))
	}
	for i, r := range h {
		if r > 0x7f || !isHex(byte(r)) { //nolint:gosec // r <= 0x7f once past the first test
			return a, addressErrorf(nil, "invalid character %q at position %d (only 0-9 and a-f are allowed after 0x)", r, i+3)
		}
	}
	if _, err := hex.Decode(a[:], []byte(h)); err != nil { // unreachable after the loop above
		return Address{}, addressErrorf(nil, "%v", err)
	}
	if a.IsZero() {
		return Address{}, addressErrorf([]error{ErrZeroAddress}, "the zero address cannot receive payments")
	}
	if level == Strict && isMixedCase(h) && a.Hex() != s {
		// The correct checksum is not shown on purpose: for a mistyped
		// address it would be the checksum of the typo, and copying it
		// would "fix" the wrong address.
		return Address{}, addressErrorf([]error{ErrChecksum},
			"the upper/lower case of its letters does not match its EIP-55 checksum, so a character was probably changed; copy the address again from your wallet")
	}
	return a, nil
}

// MustParseAddress is ParseAddress at Strict for constants; it panics on
// an invalid address.
func MustParseAddress(s string) Address {
	a, err := ParseAddress(s, Strict)
	if err != nil {
		panic(err)
	}
	return a
}

// IsZero reports whether a is the zero address.
func (a Address) IsZero() bool { return a == Address{} }

// Lower returns the canonical storage form: "0x" and 40 lower-case hex
// digits. Compare and store addresses in this form.
func (a Address) Lower() string { return "0x" + hex.EncodeToString(a[:]) }

// Hex returns the EIP-55 checksummed display form. It is memoized: every
// USDC session a server opens shows the same receiver and token contract
// (six checksums in the session's response), and each costs a Keccak-256
// and four allocations.
func (a Address) Hex() string {
	hexMemo.RLock()
	s, ok := hexMemo.m[a]
	hexMemo.RUnlock()
	if ok {
		return s
	}
	s = a.checksum()
	hexMemo.Lock()
	if len(hexMemo.m) >= hexMemoMax { // bounded: start over
		hexMemo.m = make(map[Address]string)
	}
	hexMemo.m[a] = s
	hexMemo.Unlock()
	return s
}

// hexMemo holds the checksummed forms Hex computed, at most hexMemoMax.
var hexMemo = struct {
	sync.RWMutex
	m map[Address]string
}{m: make(map[Address]string)}

const hexMemoMax = 4096

// checksum computes the EIP-55 form: a hex letter is upper case when the
// matching nibble of the Keccak-256 of the lower-case hex is 8 or more.
func (a Address) checksum() string {
	lower := hex.EncodeToString(a[:])
	k := sha3.NewLegacyKeccak256()
	k.Write([]byte(lower))
	sum := k.Sum(nil)
	out := []byte("0x" + lower)
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		nibble := sum[i/2] >> 4
		if i%2 == 1 {
			nibble = sum[i/2] & 0x0f
		}
		if c >= 'a' && nibble >= 8 {
			out[i+2] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// String returns the EIP-55 display form.
func (a Address) String() string { return a.Hex() }

// Word returns the address left-padded to 32 bytes, as it appears in an
// event topic (the `to` of an ERC-20 Transfer).
func (a Address) Word() [32]byte {
	var w [32]byte
	copy(w[32-AddressLen:], a[:])
	return w
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isMixedCase reports whether h has both lower- and upper-case letters,
// i.e. whether it carries an EIP-55 checksum to verify.
func isMixedCase(h string) bool {
	return strings.ToLower(h) != h && strings.ToUpper(h) != h
}
