package evm

import (
	"errors"
	"strings"
	"testing"
)

// eip55Vectors are the test cases of EIP-55 itself: each is its own
// checksummed form (the first two happen to be all upper case, the next
// two all lower case).
var eip55Vectors = []string{
	"0x52908400098527886E0F7030069857D2E4169EE7",
	"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
	"0xde709f2102306220921060314715629080e2fb77",
	"0x27b1fdb04752bbc536007a920d24acb045561c26",
	"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
	"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
	"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
	"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
}

func TestEIP55Vectors(t *testing.T) {
	for _, v := range eip55Vectors {
		t.Run(v, func(t *testing.T) {
			for _, level := range []Strictness{Strict, Format} {
				a, err := ParseAddress(v, level)
				if err != nil {
					t.Fatalf("level %d: %v", level, err)
				}
				if a.Hex() != v || a.String() != v {
					t.Fatalf("Hex = %s, want %s", a.Hex(), v)
				}
				if a.Lower() != strings.ToLower(v) {
					t.Fatalf("Lower = %s", a.Lower())
				}
			}
			// The unchecksummed spellings of the same address are
			// accepted at both levels and give the same address.
			for _, s := range []string{strings.ToLower(v), "0x" + strings.ToUpper(v[2:])} {
				a, err := ParseAddress(s, Strict)
				if err != nil || a.Hex() != v {
					t.Fatalf("%s: %s %v", s, a.Hex(), err)
				}
			}
		})
	}
}

// flipCase changes the case of the first letter at or after position i.
func flipCase(s string, i int) string {
	b := []byte(s)
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c >= 'a' && c <= 'f':
			b[i] = c - 'a' + 'A'
			return string(b)
		case c >= 'A' && c <= 'F':
			b[i] = c - 'A' + 'a'
			return string(b)
		}
	}
	return string(b)
}

func TestParseAddressErrors(t *testing.T) {
	good := "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	cases := []struct {
		name, in string
		level    Strictness
		kind     error
		want     string
	}{
		{"empty", "", Format, ErrInvalidAddress, "must start with 0x"},
		{"no prefix", good[2:], Format, ErrInvalidAddress, "must start with 0x"},
		{"upper prefix", "0X" + good[2:], Format, ErrInvalidAddress, "must start with 0x"},
		{"leading space", " " + good, Format, ErrInvalidAddress, "must start with 0x"},
		{"trailing space", good + " ", Format, ErrInvalidAddress, "got 41"},
		{"39 hex", good[:41], Format, ErrInvalidAddress, "40 hexadecimal characters (got 39)"},
		{"41 hex", good + "a", Format, ErrInvalidAddress, "(got 41)"},
		{"64 hex (a topic)", "0x" + strings.Repeat("0", 24) + good[2:], Format, ErrInvalidAddress, "(got 64)"},
		{"only prefix", "0x", Format, ErrInvalidAddress, "(got 0)"},
		{"non-hex", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", Format, ErrInvalidAddress, "invalid character 'g' at position 42"},
		{"non-ascii", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAé", Format, ErrInvalidAddress, "invalid character 'é' at position 41"},
		{"zero", "0x" + strings.Repeat("0", 40), Format, ErrZeroAddress, "zero address"},
		{"zero strict", "0x" + strings.Repeat("0", 40), Strict, ErrZeroAddress, "zero address"},
		{"bad checksum first letter", flipCase(good, 2), Strict, ErrChecksum, "copy the address again from your wallet"},
		{"bad checksum last letter", good[:41] + "D", Strict, ErrChecksum, "EIP-55 checksum"},
		{"KiraPay example", "0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6", Strict, ErrChecksum, "copy the address again"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAddress(tc.in, tc.level)
			if !errors.Is(err, tc.kind) || !errors.Is(err, ErrInvalidAddress) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseAddress(%q) = %v, %v; want %v containing %q", tc.in, a, err, tc.kind, tc.want)
			}
			if !a.IsZero() {
				t.Fatalf("an error returned a non-zero address %s", a.Lower())
			}
		})
	}
}

func TestFormatLevelAcceptsBadChecksum(t *testing.T) {
	// The KiraPay seed's own example receiver fails EIP-55: the API that
	// mirrors it checks the format only.
	in := "0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6"
	a, err := ParseAddress(in, Format)
	if err != nil {
		t.Fatal(err)
	}
	if a.Lower() != strings.ToLower(in) || a.Hex() == in {
		t.Fatalf("Lower %s Hex %s", a.Lower(), a.Hex())
	}
	// Its checksummed form passes Strict.
	if b, err := ParseAddress(a.Hex(), Strict); err != nil || b != a {
		t.Fatalf("checksummed form: %v", err)
	}
	// Every single-letter case flip of a checksummed vector is caught.
	for _, v := range eip55Vectors[4:] {
		for i := 2; i < len(v); i++ {
			if c := v[i]; (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				continue
			}
			s := flipCase(v, i)
			if _, err := ParseAddress(s, Strict); !errors.Is(err, ErrChecksum) {
				t.Fatalf("%s (flip at %d) accepted at Strict: %v", s, i, err)
			}
			if _, err := ParseAddress(s, Format); err != nil {
				t.Fatalf("%s refused at Format: %v", s, err)
			}
		}
	}
}

func TestAddressWord(t *testing.T) {
	a := MustParseAddress("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
	w := a.Word()
	for i := 0; i < 12; i++ {
		if w[i] != 0 {
			t.Fatalf("byte %d of the topic word is %x", i, w[i])
		}
	}
	if Address(w[12:]) != a {
		t.Fatalf("word %x does not end with the address", w)
	}
}

func TestMustParseAddressPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on a bad checksum")
		}
	}()
	MustParseAddress("0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
}

func FuzzParseAddress(f *testing.F) {
	for _, v := range eip55Vectors {
		f.Add(v)
		f.Add(strings.ToLower(v))
	}
	f.Add("0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6")
	f.Add("0x0000000000000000000000000000000000000000")
	f.Add("0x")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s, Format)
		if err != nil {
			if _, serr := ParseAddress(s, Strict); serr == nil {
				t.Fatalf("%q: Strict accepted what Format refused (%v)", s, err)
			}
			return
		}
		if a.IsZero() {
			t.Fatalf("%q parsed to the zero address", s)
		}
		if !strings.EqualFold(a.Lower(), s) {
			t.Fatalf("%q: Lower %s", s, a.Lower())
		}
		// Both printed forms parse back to the same address at Strict.
		for _, out := range []string{a.Hex(), a.Lower()} {
			b, err := ParseAddress(out, Strict)
			if err != nil || b != a {
				t.Fatalf("%q → %s → %v %v", s, out, b, err)
			}
		}
		// Strict accepts exactly the unchecksummed or correctly
		// checksummed spellings.
		_, serr := ParseAddress(s, Strict)
		h := s[2:]
		wantOK := h == strings.ToLower(h) || h == strings.ToUpper(h) || s == a.Hex()
		if (serr == nil) != wantOK {
			t.Fatalf("%q: Strict err %v, want ok=%v", s, serr, wantOK)
		}
	})
}

// TestHexMemo: a memoized checksum is the computed one, and the memo stays
// within its bound however many addresses are shown.
func TestHexMemo(t *testing.T) {
	for i := range hexMemoMax + 10 {
		var a Address
		a[0], a[1], a[19] = byte(i>>8), byte(i), 1
		if got, want := a.Hex(), a.checksum(); got != want || a.Hex() != want {
			t.Fatalf("Hex = %s, want %s", got, want)
		}
	}
	hexMemo.RLock()
	n := len(hexMemo.m)
	hexMemo.RUnlock()
	if n > hexMemoMax {
		t.Fatalf("memo holds %d, bound %d", n, hexMemoMax)
	}
	for _, v := range eip55Vectors {
		if a, err := ParseAddress(strings.ToLower(v), Format); err != nil || a.Hex() != v {
			t.Fatalf("%s: Hex = %s (%v)", v, a.Hex(), err)
		}
	}
}
