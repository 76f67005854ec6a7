package kaspa

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
)

// AccountDepth is the BIP32 depth of the account-level key m/44'/111111'/0'
// that Kaspa wallets (Kaspium, kaspawallet, rusty-kaspa) export as kpub.
// Only keys at this depth are accepted: receive addresses are then /0/i,
// exactly where the merchant's wallet looks for them.
const AccountDepth = 3

// serializedKeyLen is version(4) ‖ depth(1) ‖ parent fingerprint(4) ‖
// child number(4) ‖ chain code(32) ‖ key(33) plus a 4-byte checksum.
const serializedKeyLen = 78 + 4

// maxKeyStringLen bounds the input before base58 decoding (which is
// quadratic); real extended keys are 111 characters.
const maxKeyStringLen = 200

// keyVersion describes one set of BIP32 version bytes.
type keyVersion struct {
	name    string  // human prefix, e.g. "kpub"
	private bool    // true for …prv keys
	network Network // "" for networks the gateway does not support
	netName string  // network name for messages
}

// Version bytes from kaspad bip32/version.go and rusty-kaspa bip32
// prefix.rs, plus the Bitcoin xpub/tpub family that rusty-kaspa also
// accepts (Kaspium converts xpub to kpub; the key data is identical).
var keyVersions = map[[4]byte]keyVersion{
	{0x03, 0x8f, 0x33, 0x2e}: {"kpub", false, Mainnet, "mainnet"},
	{0x04, 0x88, 0xb2, 0x1e}: {"xpub", false, Mainnet, "mainnet"},
	{0x03, 0x90, 0xa2, 0x41}: {"ktub", false, Testnet10, "testnet"},
	{0x04, 0x35, 0x87, 0xcf}: {"tpub", false, Testnet10, "testnet"},
	{0x03, 0x8f, 0x2e, 0xf4}: {"kprv", true, Mainnet, "mainnet"},
	{0x04, 0x88, 0xad, 0xe4}: {"xprv", true, Mainnet, "mainnet"},
	{0x03, 0x90, 0x9e, 0x07}: {"ktrv", true, Testnet10, "testnet"},
	{0x04, 0x35, 0x83, 0x94}: {"tprv", true, Testnet10, "testnet"},
	{0x03, 0x8b, 0x3d, 0x80}: {"kdrv", true, "", "devnet"},
	{0x03, 0x90, 0x42, 0x42}: {"ksrv", true, "", "simnet"},
}

// canonicalVersion is the Kaspa-native public version per network, used
// when re-serialising a key (so an accepted xpub is stored as kpub).
var canonicalVersion = map[Network][]byte{
	Mainnet:   {0x03, 0x8f, 0x33, 0x2e},
	Testnet10: {0x03, 0x90, 0xa2, 0x41},
}

// publicName is the public prefix the merchant should export per network.
func publicName(n Network) string {
	if n == Testnet10 {
		return "ktub"
	}
	return "kpub"
}

// ExtendedPublicKey is a validated account-level Kaspa extended public key
// (kpub on mainnet, ktub on testnet-10). It can derive receive addresses
// but can never spend. It is immutable and safe for concurrent use.
type ExtendedPublicKey struct {
	account *hdkeychain.ExtendedKey // m/44'/111111'/account', canonical version
	receive publicChain             // account/0, prepared for ReceiveAddress
	network Network
}

// privateKeyError explains, without echoing the input, that private key
// material was pasted.
func privateKeyError(what string, n Network) error {
	return keyErrorf([]error{ErrPrivateKey},
		"this is %s: never paste a private key or seed phrase anywhere, it gives full control of the funds; "+
			"export the account's extended public key (%s) from your wallet instead", what, publicName(n))
}

// ParseExtendedPublicKey validates s as the account extended public key for
// network n: kpub (or xpub) on mainnet, ktub (or tpub) on testnet-10, with a
// valid checksum, a valid curve point and depth 3 (m/44'/111111'/0').
// Private keys (kprv, ktrv, xprv, tprv, …) and seed phrases are rejected
// with ErrPrivateKey, keys of the other network with ErrWrongNetwork; all
// errors also match ErrInvalidExtendedKey and never contain the input.
// Surrounding whitespace is ignored.
func ParseExtendedPublicKey(s string, n Network) (*ExtendedPublicKey, error) {
	if n.Prefix() == "" {
		return nil, fmt.Errorf("%w %.40q", ErrUnknownNetwork, string(n))
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, keyErrorf(nil, "empty input")
	}
	if len(strings.Fields(s)) >= 12 {
		return nil, privateKeyError("a seed phrase (mnemonic)", n)
	}
	// Catch private keys before anything else, even when mistyped.
	if len(s) >= 4 {
		for _, kv := range keyVersions {
			if kv.private && s[:4] == kv.name {
				return nil, privateKeyError("an extended private key ("+kv.name+")", n)
			}
		}
	}
	if len(s) > maxKeyStringLen {
		return nil, keyErrorf(nil, "too long (%d characters; a %s is 111)", len(s), publicName(n))
	}
	raw := base58.Decode(s)
	if len(raw) != serializedKeyLen {
		return nil, keyErrorf(nil, "not a %s: wrong length or invalid base58 characters", publicName(n))
	}
	payload, sum := raw[:78], raw[78:]
	kv, known := keyVersions[[4]byte(payload[:4])]
	if (known && kv.private) || payload[45] == 0x00 {
		return nil, privateKeyError("an extended private key", n)
	}
	first := sha256.Sum256(payload)
	second := sha256.Sum256(first[:])
	if !bytes.Equal(second[:4], sum) {
		return nil, keyErrorf(nil, "checksum mismatch: the key was mistyped or truncated; copy it again from your wallet")
	}
	if !known {
		return nil, keyErrorf(nil, "unknown version bytes %x (expected a %s)", payload[:4], publicName(n))
	}
	if kv.network != n {
		return nil, keyErrorf([]error{ErrWrongNetwork},
			"this is a %s key (%s) but the gateway runs on %s; export a %s", kv.netName, kv.name, n, publicName(n))
	}
	if depth := payload[4]; depth != AccountDepth {
		hint := ""
		switch {
		case depth == 0:
			hint = " (this is a master/root key)"
		case depth > AccountDepth:
			hint = " (this is a key below the account level, e.g. a single address chain)"
		}
		return nil, keyErrorf(nil,
			"expected the account-level key at depth %d (path m/44'/111111'/0'), got depth %d%s",
			AccountDepth, depth, hint)
	}
	key, err := hdkeychain.NewKeyFromString(s)
	if err != nil {
		return nil, keyErrorf(nil, "public key is not a valid secp256k1 point")
	}
	account, err := key.CloneWithVersion(canonicalVersion[n])
	if err != nil {
		return nil, keyErrorf(nil, "internal error: %v", err)
	}
	node, err := account.Derive(0)
	if err != nil {
		return nil, keyErrorf(nil, "receive chain /0 cannot be derived from this key")
	}
	receive, err := newPublicChain(node)
	if err != nil {
		return nil, keyErrorf(nil, "receive chain /0 cannot be derived from this key")
	}
	return &ExtendedPublicKey{account: account, receive: receive, network: n}, nil
}

// Network returns the network the key was validated for; derived
// addresses use its prefix.
func (k *ExtendedPublicKey) Network() Network { return k.network }

// String returns the key in canonical Kaspa form (kpub/ktub, even if an
// xpub/tpub was parsed), suitable for storage and display.
func (k *ExtendedPublicKey) String() string { return k.account.String() }

// ReceiveAddress derives the Schnorr (version 0) receive address at
// <kpub>/0/index — the address a Kaspa wallet restored from the same seed
// shows as receive address #index. index must be below 2^31
// (ErrInvalidIndex); ErrUnusableIndex (probability < 2^-127) means skip to
// the next index.
func (k *ExtendedPublicKey) ReceiveAddress(index uint32) (Address, error) {
	return k.receive.address(index, k.network.Prefix())
}

// publicChain is a BIP32 public chain node (account/0) prepared for
// deriving its non-hardened children: the public key is parsed into a
// curve point once, here, instead of on every derivation.
//
// Why: hdkeychain's Derive re-parses the parent key on each call (a field
// square root to decompress it), and its child then has to be parsed
// again (a second square root) only to read its x coordinate; in the kpub
// session profile the derivation was a third of Till's CPU. Per index only
// BIP32's public CKD is left: an HMAC, a base-point multiplication, one
// point addition and one field inversion (see childX).
type publicChain struct {
	chainCode []byte              // c_par
	serP      [33]byte            // serP(K_par), the HMAC message prefix
	point     btcec.JacobianPoint // K_par, affine (Z = 1) and normalized
}

// newPublicChain prepares node (a public or private extended key; only
// its public half is used) for address derivation.
func newPublicChain(node *hdkeychain.ExtendedKey) (publicChain, error) {
	pub, err := node.ECPubKey()
	if err != nil {
		return publicChain{}, err
	}
	c := publicChain{chainCode: node.ChainCode()}
	copy(c.serP[:], pub.SerializeCompressed())
	pub.AsJacobian(&c.point)
	return c, nil
}

// address applies BIP32 public CKD to the chain with index and returns the
// x-only (32-byte) pubkey address under prefix.
func (c *publicChain) address(index uint32, prefix string) (Address, error) {
	if index >= hdkeychain.HardenedKeyStart {
		return Address{}, fmt.Errorf("%w: %d is not below 2^31 (hardened indexes cannot be derived from a public key)",
			ErrInvalidIndex, index)
	}
	// I = HMAC-SHA512(c_par, serP(K_par) ‖ ser32(i)); only I_L is used,
	// the child chain code I_R is not needed for an address.
	var data [33 + 4]byte
	copy(data[:], c.serP[:])
	binary.BigEndian.PutUint32(data[33:], index)
	mac := hmac.New(sha512.New, c.chainCode)
	mac.Write(data[:])
	var sum [sha512.Size]byte
	x, ok := childX(mac.Sum(sum[:0])[:32], &c.point)
	if !ok {
		return Address{}, fmt.Errorf("%w: index %d", ErrUnusableIndex, index)
	}
	return Address{Prefix: prefix, Version: VersionPubKey, Payload: x[:]}, nil
}

// childX returns the affine x coordinate of the child public key
// point(I_L) + K_par, or false where BIP32 (as hdkeychain implements it)
// declares the index invalid: I_L ≥ n, I_L = 0, or the sum the point at
// infinity. parent must be normalized.
func childX(il []byte, parent *btcec.JacobianPoint) (x [32]byte, ok bool) {
	var k btcec.ModNScalar
	if overflow := k.SetByteSlice(il); overflow || k.IsZero() {
		return x, false
	}
	var p, child btcec.JacobianPoint
	btcec.ScalarBaseMultNonConst(&k, &p)
	btcec.AddNonConst(&p, parent, &child)
	if (child.X.IsZero() && child.Y.IsZero()) || child.Z.IsZero() {
		return x, false
	}
	// Affine x = X / Z²; y is not needed for an x-only key, so unlike
	// ToAffine this skips Y / Z³. Z is inverted by math/big's extended
	// Euclid (~1 µs) rather than FieldVal.Inverse's exponentiation (~8 µs,
	// a third of a derivation): everything here is derived from the public
	// key, so a variable-time inverse leaks nothing.
	var zb [32]byte
	child.Z.Normalize().PutBytesUnchecked(zb[:])
	z := new(big.Int).SetBytes(zb[:])
	if z.ModInverse(z, fieldPrime) == nil {
		return x, false // Z ≡ 0: not reachable, checked above
	}
	var zInv2 btcec.FieldVal
	zInv2.SetByteSlice(z.FillBytes(zb[:]))
	zInv2.Square()
	child.X.Mul(&zInv2).Normalize().PutBytesUnchecked(x[:])
	return x, true
}

// fieldPrime is secp256k1's field prime p = 2^256 − 2^32 − 977.
var fieldPrime, _ = new(big.Int).SetString("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f", 16)
