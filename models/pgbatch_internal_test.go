package models

import (
	"slices"
	"strconv"
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

// TestPgRowsText: each multi-row form reads every column and its
// condition's values from unnest's arrays, in the order of the one-row
// statement's placeholders, with the same condition and conflict clause,
// and returns the ids written: the unique-amount insert's late check and
// open-amount arbiter, the free-address insert's count of watched sessions
// on the row's address.
func TestPgRowsText(t *testing.T) {
	n := len(paymentColumns)
	for _, tc := range []struct {
		name   string
		q      string
		extra  int
		want   []string
		absent string
	}{
		{"unique amount", insertUniqueAmountSQL[Postgres], 4, []string{
			"SELECT c1, c2, ", ", c37 FROM unnest($1::text[], ", "$41::text[]) AS u(c1, ", "c41) WHERE NOT EXISTS",
			"pay_address = u.c38 AND amount_expected = u.c39 AND expires_at > u.c40 AND chain = u.c41)",
			" ON CONFLICT (chain, pay_address, amount_expected) WHERE status = 'pending' AND derivation_index IS NULL DO NOTHING RETURNING id",
		}, "c42"},
		{"free address", insertOnFreeAddressSQL[Postgres], 3, []string{
			"SELECT c1, c2, ", ", c37 FROM unnest($1::text[], ", "$40::text[]) AS u(c1, ", "c40) WHERE (SELECT COUNT(*) FROM payments WHERE",
			"pay_address = u.c38 AND chain = u.c39 AND (status IN ('pending', 'confirming', 'underpaid') OR (status = 'expired' AND expires_at > u.c40))) = 0 RETURNING id",
		}, "ON CONFLICT"},
	} {
		casts := make([]string, n+tc.extra)
		for j := range casts {
			casts[j] = "text[]"
		}
		got := pgRowsText(tc.q, casts)
		for _, want := range tc.want {
			if !strings.Contains(got, want) {
				t.Errorf("%s: multi-row text lacks %q:\n%s", tc.name, want, got)
			}
		}
		if n != 37 || strings.Contains(got, "?") || strings.Contains(got, "%") || strings.Contains(got, tc.absent) {
			t.Errorf("%s: %d columns; text: %s", tc.name, n, got)
		}
	}
}

// TestSplitRows: a batch's inserts with a multi-row form go in as one
// statement per form, the unique-amount one first, when two or more share
// it; a free-address insert on an address an earlier one of the batch
// holds (on the same chain) runs on its own after them, where its count
// sees the first; the rest keep the batch's order.
func TestSplitRows(t *testing.T) {
	row := func(sql, chain, addr string, id int) *commitReq {
		args := make([]any, len(paymentColumns))
		for j := range args {
			args[j] = "x"
		}
		args[0], args[argChain], args[argAddress], args[argAmount] = strconv.Itoa(id), chain, addr, int64(id)
		return &commitReq{sql: sql, args: args}
	}
	ua, fa := insertUniqueAmountSQL[Postgres], insertOnFreeAddressSQL[Postgres]
	other := "INSERT INTO payments SELECT ?"
	ids := func(rs []*commitReq) (out []string) {
		for _, r := range rs {
			out = append(out, r.args[0].(string))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		batch []*commitReq
		multi [][]string // ids per multi-row statement, in order
		each  []string
	}{
		{"one of each form", []*commitReq{row(fa, "kaspa", "k1", 1), row(ua, "kaspa", "s", 2)}, nil, []string{"1", "2"}},
		{"free addresses together", []*commitReq{row(fa, "kaspa", "k1", 1), row(fa, "kaspa", "k2", 2)}, [][]string{{"1", "2"}}, nil},
		{"a repeated address alone, after",
			[]*commitReq{row(fa, "kaspa", "k1", 1), row(fa, "kaspa", "k1", 2), row(fa, "kaspa", "k2", 3)},
			[][]string{{"1", "3"}}, []string{"2"}},
		{"the same address on another chain together",
			[]*commitReq{row(fa, "kaspa", "k1", 1), row(fa, "evm", "k1", 2)}, [][]string{{"1", "2"}}, nil},
		{"unique amounts first, then free addresses, then the rest in order",
			[]*commitReq{row(fa, "kaspa", "k1", 1), row(other, "kaspa", "o", 2), row(ua, "kaspa", "s", 3), row(fa, "kaspa", "k1", 4),
				row(ua, "kaspa", "s", 5), row(fa, "kaspa", "k2", 6)},
			[][]string{{"3", "5"}, {"1", "6"}}, []string{"2", "4"}},
		{"a lone unique amount with free addresses", []*commitReq{row(ua, "kaspa", "s", 1), row(fa, "kaspa", "k1", 2), row(fa, "kaspa", "k2", 3)},
			[][]string{{"2", "3"}}, []string{"1"}},
		{"no form", []*commitReq{row(other, "kaspa", "o", 1), row(other, "kaspa", "o", 2)}, nil, []string{"1", "2"}},
	} {
		multis, each := splitRows(tc.batch)
		var got [][]string
		for _, m := range multis {
			got = append(got, ids(m.rows))
			if len(m.args) != len(paymentColumns) || !strings.Contains(m.text, "unnest(") {
				t.Errorf("%s: statement of %d arrays: %s", tc.name, len(m.args), m.text)
			}
		}
		if !slices.EqualFunc(got, tc.multi, slices.Equal) || !slices.Equal(ids(each), tc.each) {
			t.Errorf("%s: multi-row %v, each %v; want %v, %v", tc.name, got, ids(each), tc.multi, tc.each)
		}
	}
}
