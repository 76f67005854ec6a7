package models_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"gorm.io/gorm"

	"till/models"
	"till/models/modeltest"
)

// TestOpenQuiet: opening and migrating a database logs nothing at warn or
// above (the two SQLite handles once registered the change hooks twice on
// their shared callbacks, and gorm warned "duplicated callback" at every
// start).
func TestOpenQuiet(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, err := models.Open(context.Background(), modeltest.URL(t), log)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 0 {
		t.Errorf("open and migrate logged:\n%s", buf.String())
	}
}

// TestSQLiteTempStoreMemory: both SQLite handles keep temporary data, the
// statement journal of each conditional insert inside a group-commit
// transaction among it, in memory (with the default it spilled to a file).
func TestSQLiteTempStoreMemory(t *testing.T) {
	if modeltest.Engine() != models.SQLite {
		t.Skip("SQLite pragma")
	}
	db := modeltest.Open(t)
	ctx := context.Background()
	for name, h := range map[string]interface {
		Raw(string, ...any) *gorm.DB
	}{"write": db.W(ctx), "read": db.R(ctx)} {
		var mode int
		if err := h.Raw("PRAGMA temp_store").Scan(&mode).Error; err != nil {
			t.Fatal(err)
		}
		if mode != 2 { // 2 = MEMORY
			t.Errorf("%s handle: temp_store = %d, want 2 (MEMORY)", name, mode)
		}
	}
}
