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

// TestPgRowsText: the unique-amount insert's multi-row form reads every
// column and the late check's four values from unnest's arrays, in the
// order of the one-row statement's placeholders, with the same conflict
// clause, and returns the ids written.
func TestPgRowsText(t *testing.T) {
	casts := make([]string, len(paymentColumns)+4)
	for j := range casts {
		casts[j] = "text[]"
	}
	got := pgRowsText(insertUniqueAmountSQL[Postgres], casts)
	n := len(paymentColumns)
	for _, want := range []string{
		"SELECT c1, c2, ", ", c37 FROM unnest($1::text[], ", "$41::text[]) AS u(c1, ", "c41) WHERE NOT EXISTS",
		"pay_address = u.c38 AND amount_expected = u.c39 AND expires_at > u.c40 AND chain = u.c41)",
		" ON CONFLICT (chain, pay_address, amount_expected) WHERE status = 'pending' AND derivation_index IS NULL DO NOTHING RETURNING id",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("multi-row text lacks %q:\n%s", want, got)
		}
	}
	if n != 37 || strings.Contains(got, "?") || strings.Contains(got, "%") {
		t.Errorf("%d columns; text: %s", n, got)
	}
	if _, ok := pgRows[insertOnFreeAddressSQL[Postgres]]; ok {
		t.Error("the free-address insert has a multi-row form: its count would not see the statement's own rows")
	}
}
