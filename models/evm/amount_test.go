package evm

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"till/models/amount"
)

func TestParseUSDC(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		kind error // nil: accepted
		msg  string
	}{
		{"12.34", 12_340_000, nil, ""},
		{"0.000001", 1, nil, ""},
		{"100", 100_000_000, nil, ""},
		{"100.5", 100_500_000, nil, ""},
		{"0", 0, nil, ""}, // an open-amount link's price
		{"0.0", 0, nil, ""},
		{" 7.5 ", 7_500_000, nil, ""},
		{"1.0000000", 1_000_000, nil, ""}, // a zero past 6 places is exact
		{"1e2", 100_000_000, nil, ""},     // exponent form, read exactly
		{"1.5E-6", 0, amount.ErrPrecision, "at most 6 decimal places"},
		{"1.5e-5", 15, nil, ""},
		{"4611686018427.387904", MaxUnits, nil, ""},
		{"4611686018427.387905", 0, amount.ErrRange, "too large"},
		{"1e30", 0, amount.ErrRange, "too large"},
		{"9223372036854775808", 0, amount.ErrRange, "too large"}, // > int64 before shifting
		{"0.0000001", 0, amount.ErrPrecision, "at most 6"},
		{"12.3456789", 0, amount.ErrPrecision, "at most 6"},
		{"-1", 0, amount.ErrNegative, "negative"},
		{"-0.000001", 0, amount.ErrNegative, "negative"},
		{"", 0, amount.ErrEmpty, "required"},
		{"   ", 0, amount.ErrEmpty, "required"},
		{"abc", 0, amount.ErrSyntax, "not a decimal number"},
		{"1,5", 0, amount.ErrSyntax, "not a decimal number"},
		{"0x10", 0, amount.ErrSyntax, "not a decimal number"},
		{"1.2.3", 0, amount.ErrSyntax, "not a decimal number"},
		{"NaN", 0, amount.ErrSyntax, "not a decimal number"},
		{"Inf", 0, amount.ErrSyntax, "not a decimal number"},
		{"1e", 0, amount.ErrSyntax, "not a decimal number"},
		{"1e99999", 0, amount.ErrSyntax, "not a decimal number"}, // beyond the decoder's exponent bound
		{"1e-9999", 0, amount.ErrPrecision, "at most 6"},
		{"\u22121", 0, amount.ErrSyntax, "not a decimal number"}, // Unicode minus
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseUSDC(tc.in)
			if tc.kind == nil {
				if err != nil || got != tc.want {
					t.Fatalf("got %d %v, want %d", got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidAmount) || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.kind, tc.msg)
			}
			if got != 0 {
				t.Fatalf("value %d returned with an error", got)
			}
		})
	}
}

func TestParseUSDCJSON(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{`100.5`, 100_500_000, true},
		{`"100.5"`, 100_500_000, true},
		{` 12.345678 `, 12_345_678, true},
		// 0.1 + 0.2 style values that float64 would mangle are exact.
		{`0.300001`, 300_001, true},
		{`9007199254.740993`, 9_007_199_254_740_993, true}, // 2^53+1 units: beyond float64's exact integers
		{`1e2`, 100_000_000, true},
		{`1e-7`, 0, false}, // JavaScript's spelling of 0.0000001: too precise
		{`0`, 0, true},
		{`-1`, 0, false},
		{`null`, 0, false},
		{`true`, 0, false},
		{`{}`, 0, false},
		{`[1]`, 0, false},
		{`""`, 0, false},
		{`"abc"`, 0, false},
		{`01`, 0, false},  // not JSON
		{`.5`, 0, false},  // not JSON
		{`+1`, 0, false},  // not JSON
		{`1 2`, 0, false}, // two values
		{`"1`, 0, false},  // unterminated
		{``, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseUSDCJSON([]byte(tc.in))
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("got %d %v, want %d ok=%v", got, err, tc.want, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidAmount) {
				t.Fatalf("untyped error %v", err)
			}
		})
	}
}

func TestFormatUSDC(t *testing.T) {
	cases := []struct {
		units        int64
		short, fixed string
	}{
		{12_340_000, "12.34", "12.340000"},
		{1, "0.000001", "0.000001"},
		{100_000_000, "100", "100.000000"},
		{0, "0", "0.000000"},
		{MaxUnits, "4611686018427.387904", "4611686018427.387904"},
	}
	for _, tc := range cases {
		if s := FormatUSDC(tc.units); s != tc.short {
			t.Errorf("FormatUSDC(%d) = %s, want %s", tc.units, s, tc.short)
		}
		if s := FormatUSDCFixed(tc.units); s != tc.fixed {
			t.Errorf("FormatUSDCFixed(%d) = %s, want %s", tc.units, s, tc.fixed)
		}
		for _, s := range []string{tc.short, tc.fixed} {
			if v, err := ParseUSDC(s); err != nil || v != tc.units {
				t.Errorf("round trip %s: %d %v", s, v, err)
			}
		}
	}
}

func TestUnitsFromWord(t *testing.T) {
	word := func(v *big.Int) []byte { return v.FillBytes(make([]byte, 32)) }
	max := big.NewInt(MaxUnits)
	cases := []struct {
		name string
		data []byte
		want int64
		ok   bool
	}{
		{"12.34 USDC", word(big.NewInt(12_340_000)), 12_340_000, true},
		{"zero", word(big.NewInt(0)), 0, true},
		{"2^62", word(max), MaxUnits, true},
		{"2^62+1", word(new(big.Int).Add(max, big.NewInt(1))), 0, false},
		{"2^255", word(new(big.Int).Lsh(big.NewInt(1), 255)), 0, false},
		{"all ones", word(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))), 0, false},
		{"31 bytes", make([]byte, 31), 0, false},
		{"33 bytes", make([]byte, 33), 0, false},
		{"empty", nil, 0, false},
	}
	for _, tc := range cases {
		if got, ok := UnitsFromWord(tc.data); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %d %v, want %d %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseUSDC(f *testing.F) {
	for _, s := range []string{"12.34", "0.000001", "100", "1e2", "1.0000000", "4611686018427.387904", "-1", "abc", "1e-7", ".5", "5."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseUSDC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidAmount) || v != 0 {
				t.Fatalf("%q: %d %v", s, v, err)
			}
			return
		}
		if v < 0 || v > MaxUnits {
			t.Fatalf("%q parsed to %d, out of range", s, v)
		}
		// Both printed forms read back to the same value, and the short
		// form is canonical (printing it again gives the same text).
		for _, out := range []string{FormatUSDC(v), FormatUSDCFixed(v)} {
			w, err := ParseUSDC(out)
			if err != nil || w != v {
				t.Fatalf("%q → %d → %q → %d %v", s, v, out, w, err)
			}
		}
		if w, _ := ParseUSDC(FormatUSDC(v)); FormatUSDC(w) != FormatUSDC(v) {
			t.Fatalf("%q: format not stable", s)
		}
		// A JSON string of the same text gives the same value.
		if w, err := ParseUSDCJSON([]byte(`"` + FormatUSDC(v) + `"`)); err != nil || w != v {
			t.Fatalf("%q as JSON: %d %v", s, w, err)
		}
	})
}
