package models_test

import (
	"context"
	"testing"

	"till/models"
	"till/models/modeltest"
)

// TestMigrationLeavesEmptyTableUnanalyzed: migration 0021 declares
// pay_address's n_distinct and analyzes payments only when it has rows. An
// empty table analyzed is recorded as empty (reltuples 0) and plans made on
// it are sequential scans, kept through a bulk load in one transaction
// (the bench's prefill went from 15 s to 533 s); a never-analyzed one
// (reltuples -1) is costed at no fewer than 10 pages.
func TestMigrationLeavesEmptyTableUnanalyzed(t *testing.T) {
	if modeltest.Engine() != models.Postgres {
		t.Skip("Postgres statistics")
	}
	ctx := context.Background()
	db := modeltest.Open(t)
	reltuples := func(table string) float64 {
		t.Helper()
		var n float64
		if err := db.R(ctx).Raw("SELECT reltuples FROM pg_class WHERE oid = ?::regclass", table).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := reltuples("payments"); n >= 0 {
		t.Fatalf("payments reltuples after migrating an empty database = %v, want -1 (never analyzed)", n)
	}
	var opts string
	if err := db.R(ctx).Raw(`SELECT COALESCE(array_to_string(attoptions, ','), '') FROM pg_attribute
WHERE attrelid = 'payments'::regclass AND attname = 'pay_address'`).Scan(&opts).Error; err != nil {
		t.Fatal(err)
	}
	if opts != "n_distinct=-0.5" {
		t.Fatalf("pay_address options = %q, want n_distinct=-0.5", opts)
	}

	// The step itself, on a table of its own: nothing while empty, an
	// ANALYZE once it has rows.
	w := db.W(ctx)
	if err := w.Exec("CREATE TABLE analyze_probe (x int)").Error; err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		insert int
		want   float64
	}{{0, -1}, {3, 3}} {
		if tc.insert > 0 {
			if err := w.Exec("INSERT INTO analyze_probe SELECT generate_series(1, ?)", tc.insert).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := models.AnalyzeIfRows("analyze_probe")(w); err != nil {
			t.Fatal(err)
		}
		if n := reltuples("analyze_probe"); n != tc.want {
			t.Fatalf("after %d rows: reltuples = %v, want %v", tc.insert, n, tc.want)
		}
	}
}
