package kaspa

import (
	"bytes"
	"fmt"
	"strings"
)

// Network identifies the Kaspa network the gateway operates on. Its string
// value is the rusty-kaspa network id, so it can be stored in configuration
// and databases as-is.
type Network string

// Supported networks. Testnet-10 is the only public testnet kept by current
// rusty-kaspa consensus parameters.
const (
	// Mainnet is the Kaspa main network (address prefix "kaspa").
	Mainnet Network = "mainnet"
	// Testnet10 is the public test network TN10 (prefix "kaspatest").
	Testnet10 Network = "testnet-10"
)

// Address prefixes (the human-readable part before ':'). Simnet and devnet
// prefixes decode but have no Network value: the gateway never runs there.
const (
	// PrefixMainnet is the mainnet address prefix.
	PrefixMainnet = "kaspa"
	// PrefixTestnet is the prefix shared by all testnets (incl. TN10).
	PrefixTestnet = "kaspatest"
	// PrefixSimnet is the simnet prefix (decoded, never generated).
	PrefixSimnet = "kaspasim"
	// PrefixDevnet is the devnet prefix (decoded, never generated).
	PrefixDevnet = "kaspadev"
)

// ParseNetwork converts a configuration string ("mainnet" or "testnet-10",
// exact spelling) into a Network, so typos fail at startup rather than
// producing addresses for the wrong chain.
func ParseNetwork(s string) (Network, error) {
	switch n := Network(s); n {
	case Mainnet, Testnet10:
		return n, nil
	}
	return "", fmt.Errorf("%w %.40q (want %q or %q)", ErrUnknownNetwork, s, Mainnet, Testnet10)
}

// Prefix returns the address prefix used on the network: "kaspa" for
// mainnet, "kaspatest" for testnet-10, and "" for an unknown network.
func (n Network) Prefix() string {
	switch n {
	case Mainnet:
		return PrefixMainnet
	case Testnet10:
		return PrefixTestnet
	}
	return ""
}

// knownPrefix reports whether p is one of the four Kaspa address prefixes.
func knownPrefix(p string) bool {
	switch p {
	case PrefixMainnet, PrefixTestnet, PrefixSimnet, PrefixDevnet:
		return true
	}
	return false
}

// Version is the address version byte; it selects how the payload is
// interpreted and which output script the address stands for.
type Version byte

// Address versions accepted by Kaspa consensus/wallets. Any other value is
// rejected.
const (
	// VersionPubKey is a Schnorr pay-to-pubkey address; the payload is the
	// 32-byte x-only public key. HD wallets (Kaspium, rusty-kaspa) use it.
	VersionPubKey Version = 0
	// VersionPubKeyECDSA is an ECDSA pay-to-pubkey address; the payload is
	// the 33-byte compressed public key (e.g. Tangem cards).
	VersionPubKeyECDSA Version = 1
	// VersionScriptHash is a pay-to-script-hash address; the payload is the
	// 32-byte blake2b-256 hash of the redeem script.
	VersionScriptHash Version = 8
)

// payloadLen returns the exact payload length required by v, or false for
// an unknown version.
func (v Version) payloadLen() (int, bool) {
	switch v {
	case VersionPubKey, VersionScriptHash:
		return 32, true
	case VersionPubKeyECDSA:
		return 33, true
	}
	return 0, false
}

// String names the version the way the Kaspa REST API names the matching
// script class (script_public_key_type): "pubkey", "pubkeyecdsa",
// "scripthash"; unknown versions print as "version(N)".
func (v Version) String() string {
	switch v {
	case VersionPubKey:
		return "pubkey"
	case VersionPubKeyECDSA:
		return "pubkeyecdsa"
	case VersionScriptHash:
		return "scripthash"
	}
	return fmt.Sprintf("version(%d)", byte(v))
}

// Address is a decoded Kaspa address. Values returned by DecodeAddress,
// ParseAddress, AddressFromScriptPublicKey and key derivation are always
// valid; a hand-built Address should go through EncodeAddress to be checked.
type Address struct {
	// Prefix is the network prefix without ':' ("kaspa", "kaspatest", …).
	Prefix string
	// Version selects the payload interpretation.
	Version Version
	// Payload is the x-only key, compressed key or script hash.
	Payload []byte
}

// String returns the canonical address string ("kaspa:q…"). It does not
// validate version or payload length; it returns "" when the prefix is not
// syntactically valid (e.g. the zero Address).
func (a Address) String() string {
	s, err := EncodeBech32(a.Prefix, byte(a.Version), a.Payload)
	if err != nil {
		return ""
	}
	return s
}

// Script opcodes used by the three standard Kaspa output script classes.
const (
	opData32           = 0x20
	opData33           = 0x21
	opCheckSig         = 0xac
	opCheckSigECDSA    = 0xab
	opBlake2b          = 0xaa
	opEqual            = 0x87
	scriptLenP2PK      = 34
	scriptLenP2PKECDSA = 35
	scriptLenP2SH      = 35
)

// ScriptPublicKey returns the version-0 output script that pays to the
// address, as it appears in UTXO entries and transaction outputs:
// P2PK 0x20‖x‖0xac, ECDSA 0x21‖pubkey‖0xab, P2SH 0xaa 0x20‖hash‖0x87.
// It returns nil if the version is unknown or the payload length is wrong.
func (a Address) ScriptPublicKey() []byte {
	if n, ok := a.Version.payloadLen(); !ok || n != len(a.Payload) {
		return nil
	}
	switch a.Version {
	case VersionPubKey:
		s := make([]byte, 0, scriptLenP2PK)
		s = append(s, opData32)
		s = append(s, a.Payload...)
		return append(s, opCheckSig)
	case VersionPubKeyECDSA:
		s := make([]byte, 0, scriptLenP2PKECDSA)
		s = append(s, opData33)
		s = append(s, a.Payload...)
		return append(s, opCheckSigECDSA)
	default: // VersionScriptHash
		s := make([]byte, 0, scriptLenP2SH)
		s = append(s, opBlake2b, opData32)
		s = append(s, a.Payload...)
		return append(s, opEqual)
	}
}

// AddressFromScriptPublicKey maps a standard output script back to its
// address under prefix, so UTXOs reported by script can be matched to
// invoices. Non-standard scripts yield ErrNonStandardScript; an unknown
// prefix yields ErrInvalidAddress.
func AddressFromScriptPublicKey(prefix string, script []byte) (Address, error) {
	if !knownPrefix(prefix) {
		return Address{}, invalidf("unknown prefix %.20q", prefix)
	}
	var (
		v       Version
		payload []byte
	)
	switch {
	case len(script) == scriptLenP2PK && script[0] == opData32 && script[33] == opCheckSig:
		v, payload = VersionPubKey, script[1:33]
	case len(script) == scriptLenP2PKECDSA && script[0] == opData33 && script[34] == opCheckSigECDSA:
		v, payload = VersionPubKeyECDSA, script[1:34]
	case len(script) == scriptLenP2SH && script[0] == opBlake2b && script[1] == opData32 && script[34] == opEqual:
		v, payload = VersionScriptHash, script[2:34]
	default:
		return Address{}, fmt.Errorf("%w (%d bytes)", ErrNonStandardScript, len(script))
	}
	return Address{Prefix: prefix, Version: v, Payload: bytes.Clone(payload)}, nil
}

// EncodeAddress validates prefix (one of kaspa, kaspatest, kaspasim,
// kaspadev), version (0, 1 or 8) and the exact payload length for that
// version, then returns the address string.
func EncodeAddress(prefix string, v Version, payload []byte) (string, error) {
	if !knownPrefix(prefix) {
		return "", invalidf("unknown prefix %.20q", prefix)
	}
	if err := checkVersionLen(v, len(payload)); err != nil {
		return "", err
	}
	return EncodeBech32(prefix, byte(v), payload)
}

// checkVersionLen rejects unknown versions and wrong payload lengths.
func checkVersionLen(v Version, n int) error {
	want, ok := v.payloadLen()
	if !ok {
		return invalidf("unknown address version %d", byte(v))
	}
	if n != want {
		return invalidf("invalid payload length %d for %s address (want %d)", n, v, want)
	}
	return nil
}

// DecodeAddress strictly decodes a Kaspa address of any of the four
// networks. It rejects uppercase, unknown prefixes, characters outside the
// charset, bad checksums, unknown versions, wrong payload lengths and
// non-zero padding, so a successful result always re-encodes to s. Errors
// wrap ErrInvalidAddress and say what is wrong. Use ParseAddress to also
// pin the network.
func DecodeAddress(s string) (Address, error) {
	if err := checkCase(s); err != nil {
		return Address{}, err
	}
	prefix, _, found := strings.Cut(s, ":")
	if !found || prefix == "" {
		return Address{}, invalidf("missing prefix (an address starts with %q)", PrefixMainnet+":")
	}
	if !knownPrefix(prefix) {
		return Address{}, invalidf("unknown prefix %.20q", prefix)
	}
	version, payload, err := decodeData(s, len(prefix)+1)
	if err != nil {
		return Address{}, err
	}
	a := Address{Prefix: prefix, Version: Version(version), Payload: payload}
	if err := checkVersionLen(a.Version, len(payload)); err != nil {
		return Address{}, err
	}
	// Guaranteed by the checks above; kept as a cheap guard for the
	// "decoded addresses re-encode to the input" invariant.
	if a.String() != s {
		return Address{}, invalidf("non-canonical encoding")
	}
	return a, nil
}

// ParseAddress decodes s like DecodeAddress and additionally requires its
// prefix to belong to network n. A valid address of another network yields
// an error matching both ErrWrongNetwork and ErrInvalidAddress.
func ParseAddress(s string, n Network) (Address, error) {
	want := n.Prefix()
	if want == "" {
		return Address{}, fmt.Errorf("%w %.40q", ErrUnknownNetwork, string(n))
	}
	a, err := DecodeAddress(s)
	if err != nil {
		return Address{}, err
	}
	if a.Prefix != want {
		return Address{}, &kaspaError{
			msg:   fmt.Sprintf("address is for %s, expected %s (%s)", a.Prefix, want, n),
			kinds: []error{ErrInvalidAddress, ErrWrongNetwork},
		}
	}
	return a, nil
}
