package models_test

import (
	"strings"
	"testing"

	"till/models"
	"till/models/modeltest"
)

// TestPartialIndexes: migration 0018 made the transaction and visitor
// indexes partial (a new API session has neither, so its insert skips them)
// and dropped payments_open_idx.
func TestPartialIndexes(t *testing.T) {
	f := newFixture(t)
	q := "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'payments'"
	if modeltest.Engine() == models.Postgres {
		q = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'payments'"
	}
	rows, err := f.s.DB().R(f.ctx).Raw(q).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]string{}
	for rows.Next() {
		var name string
		var def *string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		if def != nil {
			defs[name] = *def
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for name, where := range map[string]string{
		"payments_tx_idx":      "tx_id <> ''",
		"payments_visitor_idx": "visitor <> ''",
	} {
		def, ok := defs[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		// Postgres prints the predicate as (tx_id <> ''::text).
		if norm := strings.ReplaceAll(def, "::text", ""); !strings.Contains(norm, "WHERE") || !strings.Contains(norm, where) {
			t.Errorf("%s is not partial on %s: %s", name, where, def)
		}
	}
	if def, ok := defs["payments_open_idx"]; ok {
		t.Errorf("payments_open_idx still there: %s", def)
	}
}

// TestIndexPlans: the statements that read through the indexes migration
// 0018 changed keep an index plan on both engines (no statistics; on
// Postgres sequential scans are off, see explain): the visitor's newest
// session through the partial visitor index, and the reads of open
// sessions that payments_open_idx (status, expires_at) served through
// payments_chain_open_idx (status, chain, expires_at), which also leads
// with status.
func TestIndexPlans(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		in := models.CreatePaymentInput{LinkSlug: f.link.Slug}
		if i%2 == 0 {
			in.Visitor = "visitor-" + string(rune('a'+i%26))
		}
		if _, err := f.s.CreatePayment(f.ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	now := f.clock.Now()
	open := []string{"pending", "confirming", "underpaid"}
	for _, tc := range []struct {
		name  string
		q     string
		args  []any
		index string
	}{
		{"VisitorPayment", "SELECT * FROM payments WHERE " + models.VisitorPaymentWhere + " ORDER BY created_at DESC LIMIT 1",
			[]any{f.link.ID, "visitor-a"}, "payments_visitor_idx"},
		{"expireChainDue", "SELECT * FROM payments WHERE chain = ? AND ((status = ? AND expires_at <= ?) OR (status = ? AND expires_at <= ?)) ORDER BY expires_at LIMIT 100",
			[]any{"kaspa", "pending", now, "underpaid", now}, "payments_chain_open_idx"},
		{"open session counts (opsmetrics)", "SELECT chain, status, COUNT(*) AS count FROM payments WHERE status IN ? GROUP BY chain, status ORDER BY chain, status",
			[]any{open}, "payments_chain_open_idx"},
		{"pending count", "SELECT count(*) FROM payments WHERE status = ?",
			[]any{"pending"}, "payments_chain_open_idx"},
		{"confirming without a block (kaspa backing)", "SELECT count(*) FROM transfers JOIN payments ON payments.id = transfers.payment_id WHERE payments.status = ? AND transfers.block_daa_score IS NULL AND transfers.reversed_at IS NULL",
			[]any{"confirming"}, "payments_"},
	} {
		plan := explain(t, f.s.DB().W(f.ctx), tc.q, tc.args...)
		if !strings.Contains(plan, tc.index) || fullScan(plan) {
			t.Errorf("%s: plan does not use %s:\n%s", tc.name, tc.index, plan)
		}
	}
}

// fullScan reports whether plan reads the whole payments table.
func fullScan(plan string) bool {
	for _, l := range strings.Split(plan, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "SCAN payments") || strings.Contains(l, "Seq Scan on payments") {
			return true
		}
	}
	return false
}
