package models

import (
	"strings"
	"testing"
)

// TestPgBatchText: the batch forms of the session inserts on Postgres. The
// unique-amount insert names only the open-amount index as its arbiter (so
// an id clash stays an error); the free-address insert has no ON CONFLICT.
func TestPgBatchText(t *testing.T) {
	for _, tc := range []struct {
		name, q, tail string
	}{
		{"unique amount", insertUniqueAmountSQL[Postgres],
			") ON CONFLICT (chain, pay_address, amount_expected) WHERE status = 'pending' AND derivation_index IS NULL DO NOTHING"},
		{"free address", insertOnFreeAddressSQL[Postgres], "= 0"},
	} {
		got := pgBatchText(tc.q)
		if strings.Contains(got, "?") || !strings.Contains(got, "$40") {
			t.Errorf("%s: placeholders not numbered: %s", tc.name, got)
		}
		if !strings.HasSuffix(got, tc.tail) || strings.Count(got, "ON CONFLICT") > 1 {
			t.Errorf("%s: ends %q, want %q", tc.name, got[max(0, len(got)-120):], tc.tail)
		}
		if tc.name == "free address" && strings.Contains(got, "ON CONFLICT") {
			t.Errorf("%s: has ON CONFLICT: %s", tc.name, got)
		}
	}
}
