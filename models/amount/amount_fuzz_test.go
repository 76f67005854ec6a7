package amount

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzParse reads arbitrary text at every number of decimals Till uses (and
// more) under an arbitrary bound. A value it accepts is the exact decimal
// value of the text (no rounding, no float), within [0, max], and both
// printed forms (trimmed and fixed) read back to it; a refusal wraps exactly
// one of the sentinel errors and returns 0.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"100", "100.00000000", "0.00000001", "19.99", "0.000001", "1e2", "1E-2", "+5", " 7 ", "0", "-0", "-0.0",
		".5", "5.", "1.000000001", "1.0000000000", "9223372036854775807", "92233720368547758.08", "1e-10000",
		"1e10000", "1e10001", "0e99999", "--1", "1e", "e1", "1.2.3", "0x10", "NaN", "Inf", "١", "",
	} {
		f.Add(s, uint8(8), int64(1)<<62)
		f.Add(s, uint8(2), int64(1_000_000))
	}
	f.Add("4611686018427.387904", uint8(6), int64(1)<<62)
	f.Add("4611686018427.387905", uint8(6), int64(1)<<62)
	f.Fuzz(func(t *testing.T, s string, dec uint8, max int64) {
		decimals := int32(dec % 19)
		if max < 0 {
			max = -(max + 1)
		}
		v, err := Parse(s, decimals, max)
		if err != nil {
			n := 0
			for _, e := range []error{ErrEmpty, ErrSyntax, ErrNegative, ErrPrecision, ErrRange} {
				if errors.Is(err, e) {
					n++
				}
			}
			if n != 1 || v != 0 {
				t.Fatalf("Parse(%q, %d, %d) = %d, %v: want 0 and exactly one sentinel", s, decimals, max, v, err)
			}
			return
		}
		if v < 0 || v > max {
			t.Fatalf("Parse(%q, %d, %d) = %d: out of bounds", s, decimals, max, v)
		}
		d, derr := decimal.NewFromString(strings.TrimSpace(s))
		if derr != nil || !d.Equal(decimal.New(v, -decimals)) {
			t.Fatalf("Parse(%q, %d) = %d base units, but the text is %s (%v)", s, decimals, v, d, derr)
		}
		for _, places := range []int32{0, decimals, 8} {
			out := Format(v, decimals, places)
			if strings.ContainsAny(out, "eE") {
				t.Fatalf("Format(%d, %d, %d) = %q has an exponent", v, decimals, places, out)
			}
			if places > 0 {
				if _, frac, _ := strings.Cut(out, "."); len(frac) != int(places) {
					t.Fatalf("Format(%d, %d, %d) = %q: wrong number of places", v, decimals, places, out)
				}
			}
			if places < decimals && places != 0 {
				continue // fewer places than the asset has: may round, never read back
			}
			if w, err := Parse(out, decimals, max); err != nil || w != v {
				t.Fatalf("Parse(Format(%d, %d, %d) = %q) = %d, %v", v, decimals, places, out, w, err)
			}
		}
	})
}

// FuzzFormat prints arbitrary base units: the trimmed form is canonical
// (no trailing zeros, no exponent) and both forms read back exactly.
func FuzzFormat(f *testing.F) {
	for _, v := range []int64{0, 1, 10, 1999, 100_000_000, 1 << 62, 9223372036854775807} {
		f.Add(v, uint8(8))
		f.Add(v, uint8(6))
		f.Add(v, uint8(2))
	}
	f.Fuzz(func(t *testing.T, v int64, dec uint8) {
		decimals := int32(dec % 19)
		if v < 0 {
			v = -(v + 1)
		}
		short := Format(v, decimals, 0)
		if strings.ContainsAny(short, "eE+-") || (strings.Contains(short, ".") && strings.HasSuffix(short, "0")) ||
			strings.HasSuffix(short, ".") {
			t.Fatalf("Format(%d, %d, 0) = %q is not canonical", v, decimals, short)
		}
		for _, out := range []string{short, Format(v, decimals, decimals)} {
			if w, err := Parse(out, decimals, v); err != nil || w != v {
				t.Fatalf("Parse(%q, %d) = %d, %v; want %d", out, decimals, w, err, v)
			}
		}
		if v < 1<<62 {
			if _, err := Parse(Format(v+1, decimals, 0), decimals, v); !errors.Is(err, ErrRange) {
				t.Fatalf("%d base units over a max of %d: %v", v+1, v, err)
			}
		}
	})
}
