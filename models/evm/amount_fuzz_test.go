package evm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// FuzzParseUSDCJSON feeds arbitrary JSON values. A JSON number is read from
// its exact text and a JSON string from its content, both as ParseUSDC reads
// them (so never through float64: 0.1 is exactly 100,000 micro-USDC); any
// other value, and anything that is not JSON, is refused with
// ErrInvalidAmount.
func FuzzParseUSDCJSON(f *testing.F) {
	for _, s := range []string{
		`12.34`, `"12.34"`, `0.1`, `0.000001`, `"0.0000001"`, `1e2`, `"1E-6"`, `4611686018427.387904`,
		`4611686018427.387905`, `9007199254740993`, `-0`, `-1`, `null`, `true`, `[1]`, `{"a":1}`, `"abc"`,
		`" 5 "`, `"\u0035"`, ` 7 `, `01`, `1.`, `"1."`, `+1`, `1e400`, `""`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := ParseUSDCJSON(raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidAmount) || v != 0 {
				t.Fatalf("%q: %d, %v", raw, v, err)
			}
		}
		var tok any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if !json.Valid(raw) || dec.Decode(&tok) != nil {
			if err == nil {
				t.Fatalf("%q is not one JSON value, yet parsed to %d", raw, v)
			}
			return
		}
		var text string
		switch x := tok.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = x
		default:
			if err == nil {
				t.Fatalf("%q (a %T) parsed to %d", raw, tok, v)
			}
			return
		}
		w, werr := ParseUSDC(text)
		if w != v || (werr == nil) != (err == nil) {
			t.Fatalf("ParseUSDCJSON(%q) = %d, %v; ParseUSDC(%q) = %d, %v", raw, v, err, text, w, werr)
		}
		if err != nil {
			return
		}
		// The exact decimal value, no rounding anywhere.
		d, derr := decimal.NewFromString(strings.TrimSpace(text))
		if derr != nil || !d.Equal(decimal.New(v, -USDCDecimals)) {
			t.Fatalf("%q parsed to %d micro-USDC, exact value %s (%v)", raw, v, d, derr)
		}
	})
}
