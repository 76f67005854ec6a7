package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"

	"till/models"
	"till/models/kaspa"
	"till/models/modeltest"
	"till/web/webtest"
)

// TestPrefill writes open copies of real sessions and past sessions into
// Till's database (SQLite or Postgres, TILL_TEST_DB) the way till-bench
// prefill does, through database/sql, then checks that Till sees them: the
// copies are pending with unique amounts, the kpub merchant's copies are
// on its next derived addresses (and its counter moved past them), the
// Kaspa watcher watches them, and the past sessions are 70% confirmed.
func TestPrefill(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	var st suiteState
	st.MerchantID = f.shop.ID
	for _, tc := range []struct {
		id   *string
		slug string
	}{{&st.Templates.Single, f.slug}, {&st.Templates.Kpub, f.hdSlug}, {&st.Templates.USDC, f.usdcSlugs[0]}} {
		*tc.id = mustJSON(t, f.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": tc.slug}))["id"].(string)
	}
	gdb := f.env.Store.DB().W(ctx)
	if err := gdb.Raw("SELECT merchant_id FROM payments WHERE id = ?", st.Templates.Kpub).Scan(&st.HDMerchantID).Error; err != nil {
		t.Fatal(err)
	}
	db, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	postgres := modeltest.Engine() == models.Postgres
	if err := copyOpen(ctx, db, postgres, st, [3]int{5, 4, 3}); err != nil {
		t.Fatal(err)
	}

	type open struct {
		Chain, PayAddress string
		AmountExpected    int64
		DerivationIndex   *int64
	}
	var rows []open
	if err := gdb.Raw("SELECT chain, pay_address, amount_expected, derivation_index FROM payments WHERE status = 'pending' ORDER BY chain, derivation_index, amount_expected").
		Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	kpub, err := kaspa.ParseExtendedPublicKey(hdKpub, kaspa.Mainnet)
	if err != nil {
		t.Fatal(err)
	}
	var single, derived, usdc int
	maxIndex := int64(-1)
	amounts := map[string]bool{}
	for _, r := range rows {
		key := fmt.Sprintf("%s/%s/%d", r.Chain, r.PayAddress, r.AmountExpected)
		if amounts[key] {
			t.Errorf("two open sessions on %s ask for %d", r.PayAddress, r.AmountExpected)
		}
		amounts[key] = true
		switch {
		case r.Chain != "kaspa":
			usdc++
		case r.DerivationIndex != nil:
			derived++
			maxIndex = max(maxIndex, *r.DerivationIndex)
			want, err := kpub.ReceiveAddress(uint32(*r.DerivationIndex)) //nolint:gosec // small test indexes
			if err != nil || r.PayAddress != want.String() {
				t.Errorf("index %d: address %s, want %v (%v)", *r.DerivationIndex, r.PayAddress, want, err)
			}
		default:
			single++
		}
	}
	if single != 5 || derived != 4 || usdc != 3 {
		t.Fatalf("open sessions: %d single-address, %d derived, %d USDC; want 5, 4, 3: %+v", single, derived, usdc, rows)
	}
	var next int64
	if err := gdb.Raw("SELECT kaspa_next_index FROM merchants WHERE id = ?", st.HDMerchantID).Scan(&next).Error; err != nil ||
		next != maxIndex+1 {
		t.Errorf("kaspa_next_index %d (%v), want one past the last copy's", next, err)
	}
	watch, err := f.env.Store.KaspaWatchList(ctx, 0)
	if err != nil || len(watch.Addresses) != 1+4 {
		t.Fatalf("the watcher watches %d addresses (%v), want the shop's and 4 derived", len(watch.Addresses), err)
	}

	q, args := pastPaymentsSQL(postgres, pastRows{MerchantID: f.shop.ID, LinkID: f.linkID, Address: webtest.AddrA,
		Amount: 10 * models.SompiPerKAS, Rows: 1000})
	if postgres {
		q = rebind(q)
	}
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, afterBulkSQL(postgres)); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var status string
	var n int
	res, err := db.QueryContext(ctx, "SELECT status, COUNT(*) FROM payments GROUP BY status")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for res.Next() {
		if err := res.Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		counts[status] = n
	}
	if counts["confirmed"] != 700 || counts["expired"] != 300 || counts["pending"] != 12 {
		t.Fatalf("statuses %v: want 700 confirmed, 300 expired, 12 pending", counts)
	}
	// Past sessions' ids are version 7, in created_at order, as Till's.
	var ids []string
	if err := gdb.Raw("SELECT id FROM payments WHERE status <> 'pending' ORDER BY created_at").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if u, err := uuid.Parse(id); err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != id ||
			!models.ValidShortID(models.ShortID(id)) || (i > 0 && id <= ids[i-1]) {
			t.Fatalf("past session %d: id %q (%v), want a version 7 UUID after %q", i, id, err, ids[max(i-1, 0)])
		}
	}
}

func TestRebind(t *testing.T) {
	if got := rebind("SELECT ? , x = ?::text WHERE y IN (?)"); got != "SELECT $1 , x = $2::text WHERE y IN ($3)" {
		t.Errorf("rebind: %q", got)
	}
	if got := bindFor(false, "a = ?"); got != "a = ?" {
		t.Errorf("bindFor SQLite: %q", got)
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "100": 100, "100k": 100_000, "1M": 1_000_000, "2K": 2000} {
		if got, err := parseCount(in); err != nil || got != want {
			t.Errorf("parseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "-1", "1.5M", "ten"} {
		if _, err := parseCount(in); err == nil {
			t.Errorf("parseCount(%q): no error", in)
		}
	}
}

func TestSplitOpen(t *testing.T) {
	for n, want := range map[int][3]int{100: {34, 33, 33}, 100_000: {33_334, 33_333, 33_333}, 3: {1, 1, 1}, 0: {}} {
		if got := splitOpen(n); got != want || got[0]+got[1]+got[2] != n {
			t.Errorf("splitOpen(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestParsePrefill(t *testing.T) {
	o, err := parsePrefill([]string{"-db", "sqlite:///tmp/t.db", "-state", "/tmp/s.json", "-rows", "1M", "-open", "100k"}, io.Discard)
	if err != nil || o.Rows != 1_000_000 || o.Open != 100_000 || o.State != "/tmp/s.json" {
		t.Fatalf("%+v %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-db", "mysql://x", "-state", "s"}, "-db"},
		{[]string{"-db", "sqlite:///x"}, "-state"},
		{[]string{"-db", "sqlite:///x", "-state", "s", "-rows", "lots"}, "-rows"},
		{[]string{"-db", "sqlite:///x", "-state", "s", "extra"}, "unexpected"},
	} {
		if _, err := parsePrefill(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestStateRoundTrip checks the state file keeps what prefill and the
// suite need.
func TestStateRoundTrip(t *testing.T) {
	file := t.TempDir() + "/state.json"
	var st suiteState
	st.MerchantID, st.LinkID, st.LinkAmount, st.Single, st.Templates.Kpub = "m1", "l1", 10*sompiPerKAS, []string{"a", "b"}, "p2"
	if err := writeState(file, st); err != nil {
		t.Fatal(err)
	}
	got, err := readState(file)
	if err != nil || got.MerchantID != "m1" || got.LinkAmount != 1_000_000_000 || len(got.Single) != 2 || got.Templates.Kpub != "p2" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := readState(t.TempDir() + "/none.json"); err == nil {
		t.Error("a missing state file reads")
	}
}
