package models_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

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
