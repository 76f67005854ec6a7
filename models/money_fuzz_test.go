package models_test

import (
	"testing"

	"till/models"
	"till/models/amount"
)

// FuzzParseAmount reads arbitrary text as an amount of each currency. It
// agrees with amount.Parse except that zero is refused; an accepted amount
// is positive and within the bound, and both the API's 8-place form and the
// short form read back to it; a refusal has a message to show.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"100", "100.00000000", "0.2", "0.00000001", "0.000000001", "19.99", "19.999", "0.01", "0", "-1",
		"1e2", "1e-8", "1e-9", "1E+3", " 5 ", "+5", ".5", "5.", "10000000000", "1e10001", "abc", "",
	} {
		f.Add(s, uint8(0), int64(1_000_000_000_000_000_000))
		f.Add(s, uint8(1), int64(10_000_000))
		f.Add(s, uint8(2), int64(1)<<62)
	}
	currencies := []models.Currency{models.KAS, models.USD, models.USDC}
	f.Fuzz(func(t *testing.T, s string, cur uint8, max int64) {
		c := currencies[int(cur)%len(currencies)]
		if max < 0 {
			max = -(max + 1)
		}
		v, err := models.ParseAmount(s, c, max)
		raw, rawErr := amount.Parse(s, c.Decimals(), max)
		if (err == nil) != (rawErr == nil && raw > 0) || (err == nil && v != raw) {
			t.Fatalf("ParseAmount(%q, %s) = %d, %v; amount.Parse = %d, %v", s, c, v, err, raw, rawErr)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParseAmount(%q, %s): empty message", s, c)
			}
			return
		}
		if v <= 0 || v > max {
			t.Fatalf("ParseAmount(%q, %s, %d) = %d: out of bounds", s, c, max, v)
		}
		for _, out := range []string{models.FormatAmount8(v, c), models.FormatUnits(v, c.Decimals(), 0)} {
			if w, err := models.ParseAmount(out, c, max); err != nil || w != v {
				t.Fatalf("ParseAmount(%q, %s) = %d → %q → %d, %v", s, c, v, out, w, err)
			}
		}
	})
}
