package models_test

import (
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"till/models"
	"till/models/modeltest"
)

// TestShortID: the KiraPay _id is the first 24 hex digits of the UUID
// without dashes, lower case.
func TestShortID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5bd9cb469fa1657086"},
		{"0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5bd9cb469fa1657086"},
	} {
		if got := models.ShortID(tc.id); got != tc.want || !models.ValidShortID(got) {
			t.Errorf("ShortID(%s) = %s, want %s", tc.id, got, tc.want)
		}
	}
	for _, s := range []string{"", "0f8fad5bd9cb469fa165708", "0f8fad5bd9cb469fa16570867", "0F8FAD5BD9CB469FA1657086", "0f8fad5bd9cb469fa165708g", "0f8fad5b-d9cb-469f-a165-7"} {
		if models.ValidShortID(s) {
			t.Errorf("ValidShortID(%q)", s)
		}
	}
}

// TestLinkByShortID: a link is found by its _id for its merchant only; a
// malformed _id is a not-found, never an error of the database.
func TestLinkByShortID(t *testing.T) {
	f := newFixture(t)
	other, err := f.s.Register(f.ctx, models.RegisterInput{Email: "o@example.com", Password: "securepassword", Name: "Other", KaspaAddress: merchantAddr})
	if err != nil {
		t.Fatal(err)
	}
	short := models.ShortID(f.link.ID)
	if l, err := f.s.LinkByShortID(f.ctx, f.m.ID, short); err != nil || l.ID != f.link.ID {
		t.Fatalf("own link: %v %v", l, err)
	}
	for _, tc := range []struct{ merchant, id string }{
		{other.ID, short},
		{f.m.ID, strings.ToUpper(short)},
		{f.m.ID, short[:23]},
		{f.m.ID, short + "0"},
		{f.m.ID, f.link.ID},
		{f.m.ID, "' OR 1=1 --"},
		{f.m.ID, ""},
	} {
		l, err := f.s.LinkByShortID(f.ctx, tc.merchant, tc.id)
		var nf *models.NotFoundError
		if !errors.As(err, &nf) || l != nil || err.Error() != "Link not found" {
			t.Errorf("%q for %s: %v %v, want Link not found", tc.id, tc.merchant, l, err)
		}
	}
}

// TestShortIDUsesIndex: the _id condition is the expression of 0009's
// unique indexes, so each engine's planner looks it up through the index.
func TestShortIDUsesIndex(t *testing.T) {
	f := newFixture(t)
	for _, table := range []string{"merchants", "payment_links", "payments", "webhook_endpoints", "webhook_deliveries"} {
		index := table + "_short_id_key"
		q := "SELECT * FROM " + table + " WHERE " + models.ShortIDExpr + " = ?"
		plan := explain(t, f.s.DB().W(f.ctx), q, "0f8fad5bd9cb469fa1657086")
		if !strings.Contains(plan, index) {
			t.Errorf("%s: plan does not use %s:\n%s", table, index, plan)
		}
	}
	// A merchant's own link by _id (LinkByShortID), and the KiraPay links
	// list's count and page (Store.USDCLinksPage).
	for _, tc := range []struct{ q, index string }{
		{"SELECT * FROM payment_links WHERE merchant_id = ? AND " + models.ShortIDExpr + " = ?", "payment_links_short_id_key"},
		{"SELECT count(*) FROM payment_links WHERE merchant_id = ? AND currency = ?", "payment_links_merchant_currency_idx"},
		{"SELECT * FROM payment_links WHERE merchant_id = ? AND currency = ? ORDER BY created_at DESC, id DESC LIMIT 10 OFFSET 10", "payment_links_merchant_currency_idx"},
	} {
		args := []any{f.m.ID, "USDC"}
		if strings.Contains(tc.q, "substr") {
			args[1] = "0f8fad5bd9cb469fa1657086"
		}
		if plan := explain(t, f.s.DB().W(f.ctx), tc.q, args...); !strings.Contains(plan, tc.index) {
			t.Errorf("%s: plan does not use %s:\n%s", tc.q, tc.index, plan)
		}
	}
}

// explain returns the engine's query plan for q (modeltest.QueryPlan). On
// Postgres sequential scans are disabled for the statement, so a tiny table
// still shows whether the index can be used at all.
func explain(t *testing.T, db *gorm.DB, q string, args ...any) string {
	t.Helper()
	var lines []string
	err := db.Transaction(func(tx *gorm.DB) error {
		if modeltest.Engine() == models.Postgres {
			if err := tx.Exec("SET LOCAL enable_seqscan = off").Error; err != nil {
				return err
			}
		}
		var err error
		lines, err = modeltest.QueryPlan(tx, q, args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
