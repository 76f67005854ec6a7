package evm

import (
	"errors"
	"strings"
	"testing"
)

// FuzzEIP55 starts from arbitrary 20 bytes. The checksummed form of a
// non-zero address parses at Strict back to the same address, as do its
// all-lower and all-upper spellings; flipping the case of any one letter of
// the checksummed form is refused at Strict with ErrChecksum (unless no
// mixed case is left) and still accepted at Format. The zero address is
// refused in every spelling.
func FuzzEIP55(f *testing.F) {
	for _, v := range eip55Vectors {
		f.Add([]byte(MustParseAddress(v).Lower()[2:]), uint8(0))
	}
	f.Add(make([]byte, AddressLen), uint8(0))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"), uint8(3))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), uint8(39))
	f.Add([]byte("\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x1a"), uint8(39))
	f.Fuzz(func(t *testing.T, raw []byte, flip uint8) {
		var a Address
		copy(a[:], raw)
		spellings := []string{a.Hex(), a.Lower(), "0x" + strings.ToUpper(a.Lower()[2:])}
		for _, s := range spellings {
			for _, level := range []Strictness{Strict, Format} {
				b, err := ParseAddress(s, level)
				if a.IsZero() {
					if !errors.Is(err, ErrZeroAddress) || !errors.Is(err, ErrInvalidAddress) {
						t.Fatalf("zero address %q at %d: %v", s, level, err)
					}
					continue
				}
				if err != nil || b != a {
					t.Fatalf("ParseAddress(%q, %d) = %x, %v; want %x", s, level, b, err, a)
				}
			}
		}
		if w := a.Word(); [AddressLen]byte(w[32-AddressLen:]) != a || w != [32]byte(append(make([]byte, 12), a[:]...)) {
			t.Fatalf("Word() = %x", w)
		}
		if a.IsZero() {
			return
		}

		hex := a.Hex()
		i := 2 + int(flip)%(2*AddressLen)
		c := hex[i]
		switch {
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return // a digit has no case
		}
		bad := hex[:i] + string(c) + hex[i+1:]
		if _, err := ParseAddress(bad, Format); err != nil {
			t.Fatalf("Format refused %q: %v", bad, err)
		}
		_, err := ParseAddress(bad, Strict)
		if isMixedCase(bad[2:]) != errors.Is(err, ErrChecksum) {
			t.Fatalf("Strict(%q) (one case flipped in %q) = %v", bad, hex, err)
		}
	})
}
