package kaspa

import (
	"fmt"
	"strings"
)

// charset is the Kaspa (cashaddr) base32 alphabet: the character at index i
// encodes the 5-bit value i.
const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// checksumLen is the number of base32 characters of the 40-bit checksum.
const checksumLen = 8

// charsetRev maps an ASCII byte to its 5-bit value, or -1 when the byte is not
// part of charset.
var charsetRev = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(charset); i++ {
		t[charset[i]] = int8(i)
	}
	return t
}()

// polymod is the 40-bit BCH checksum function shared by rusty-kaspa and
// kaspad (cashaddr generators).
func polymod(values []byte) uint64 {
	c := uint64(1)
	for _, d := range values {
		c0 := c >> 35
		c = ((c & 0x07ffffffff) << 5) ^ uint64(d)
		if c0&0x01 != 0 {
			c ^= 0x98f2bc8e61
		}
		if c0&0x02 != 0 {
			c ^= 0x79b76d99e2
		}
		if c0&0x04 != 0 {
			c ^= 0xf33e5fb3c4
		}
		if c0&0x08 != 0 {
			c ^= 0xae2eabe2a8
		}
		if c0&0x10 != 0 {
			c ^= 0x1e4f43e470
		}
	}
	return c ^ 1
}

// checksumInput builds prefix5 ‖ 0 ‖ data5, the values fed to polymod.
// extra reserves room for the eight checksum values appended by the caller.
func checksumInput(prefix string, data5 []byte, extra int) []byte {
	v := make([]byte, 0, len(prefix)+1+len(data5)+extra)
	for i := 0; i < len(prefix); i++ {
		v = append(v, prefix[i]&0x1f)
	}
	v = append(v, 0)
	return append(v, data5...)
}

// checksum returns the 40-bit checksum of data5 under prefix.
func checksum(prefix string, data5 []byte) uint64 {
	v := checksumInput(prefix, data5, checksumLen)
	v = append(v, make([]byte, checksumLen)...)
	return polymod(v)
}

// validPrefix reports whether p is a syntactically acceptable
// human-readable prefix: non-empty, lowercase ASCII letters and digits only.
func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// to5 regroups 8-bit bytes into 5-bit values, right-padding the last group
// with zero bits.
func to5(data []byte) []byte {
	out := make([]byte, 0, (len(data)*8+4)/5)
	var acc uint32
	bits := 0
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, byte(acc>>uint(bits))&0x1f) //nolint:gosec // keeps the low bits on purpose
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<uint(5-bits))&0x1f) //nolint:gosec // keeps the low bits on purpose
	}
	return out
}

// to8 regroups 5-bit values into bytes. The leftover padding must be shorter
// than one 5-bit group and all zero, otherwise the encoding is not the one
// an encoder would produce and is rejected.
func to8(data5 []byte) ([]byte, error) {
	out := make([]byte, 0, len(data5)*5/8)
	var acc uint32
	bits := 0
	for _, v := range data5 {
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>uint(bits))) //nolint:gosec // keeps the low 8 bits on purpose
		}
	}
	if bits >= 5 {
		return nil, invalidf("invalid data length")
	}
	if acc&(1<<uint(bits)-1) != 0 {
		return nil, invalidf("non-zero padding bits")
	}
	return out, nil
}

// EncodeBech32 is the generic, network-agnostic Kaspa bech32 encoder:
// prefix ":" base32(version ‖ payload) checksum. It accepts any version and
// payload length (the kaspad/rusty-kaspa generic test vectors use version 120
// and empty payloads); use EncodeAddress for real addresses. The prefix must
// be non-empty lowercase ASCII letters/digits.
func EncodeBech32(prefix string, version byte, payload []byte) (string, error) {
	if !validPrefix(prefix) {
		return "", invalidf("invalid prefix %.20q", prefix)
	}
	data := make([]byte, 0, len(payload)+1)
	data = append(data, version)
	data = append(data, payload...)
	return encode5(prefix, to5(data)), nil
}

// encode5 renders prefix and already-regrouped 5-bit data with checksum.
func encode5(prefix string, data5 []byte) string {
	cs := checksum(prefix, data5)
	var b strings.Builder
	b.Grow(len(prefix) + 1 + len(data5) + checksumLen)
	b.WriteString(prefix)
	b.WriteByte(':')
	for _, v := range data5 {
		b.WriteByte(charset[v])
	}
	for i := 0; i < checksumLen; i++ {
		b.WriteByte(charset[(cs>>uint(5*(checksumLen-1-i)))&0x1f])
	}
	return b.String()
}

// DecodeBech32 is the generic inverse of EncodeBech32. It enforces the same
// strictness as DecodeAddress (lowercase only, charset, checksum, zero
// padding) but accepts any syntactically valid prefix, version and payload
// length. Errors wrap ErrInvalidAddress.
func DecodeBech32(s string) (prefix string, version byte, payload []byte, err error) {
	if err := checkCase(s); err != nil {
		return "", 0, nil, err
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, nil, invalidf("missing prefix")
	}
	prefix = s[:i]
	if !validPrefix(prefix) {
		return "", 0, nil, invalidf("invalid prefix %.20q", prefix)
	}
	version, payload, err = decodeData(s, i+1)
	if err != nil {
		return "", 0, nil, err
	}
	return prefix, version, payload, nil
}

// checkCase rejects any uppercase letter: Kaspa addresses are lowercase
// only (rusty-kaspa and the REST API reject uppercase; kaspad's
// all-uppercase acceptance is deliberately not reproduced).
func checkCase(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return invalidf("uppercase letters are not allowed (Kaspa addresses are lowercase)")
		}
	}
	return nil
}

// decodeData decodes and verifies s[start:] (base32 data plus checksum)
// against the prefix s[:start-1], returning the version byte and payload.
func decodeData(s string, start int) (byte, []byte, error) {
	prefix, data := s[:start-1], s[start:]
	data5 := make([]byte, len(data))
	for i := 0; i < len(data); i++ {
		v := charsetRev[data[i]]
		if v < 0 {
			return 0, nil, invalidf("invalid character %s at position %d", quoteCharAt(s, start+i), start+i)
		}
		data5[i] = byte(v)
	}
	// Two 5-bit values are the minimum to carry the 8-bit version byte.
	if len(data5) < checksumLen+2 {
		return 0, nil, invalidf("too short")
	}
	if polymod(checksumInput(prefix, data5, 0)) != 0 {
		return 0, nil, invalidf("invalid checksum")
	}
	raw, err := to8(data5[:len(data5)-checksumLen])
	if err != nil {
		return 0, nil, err
	}
	return raw[0], raw[1:], nil
}

// quoteCharAt quotes the (possibly multi-byte) character starting at byte
// offset i of s for an error message.
func quoteCharAt(s string, i int) string {
	for _, r := range s[i:] {
		return fmt.Sprintf("%q", r)
	}
	return "''"
}
