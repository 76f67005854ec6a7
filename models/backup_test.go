package models_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"till/models"
	"till/models/modeltest"
)

// TestBackupWhileWriting copies a SQLite database while another goroutine
// keeps registering merchants: the copy opens as a migrated Till database,
// passes SQLite's integrity check and holds every merchant registered before
// the backup started. Postgres refuses (pg_dump is the tool there), and an
// existing file is never overwritten.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	store := modeltest.Store(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.db")
	if store.DB().Dialect == models.Postgres {
		if err := store.DB().Backup(ctx, path); !errors.Is(err, models.ErrBackupPostgres) {
			t.Fatalf("postgres backup: %v", err)
		}
		return
	}
	register := func(i int) {
		if _, err := store.Register(ctx, models.RegisterInput{Email: fmt.Sprintf("m%d@example.com", i),
			Password: "correct horse battery", Name: fmt.Sprint("Shop ", i), KaspaAddress: addr}); err != nil {
			t.Error(err)
		}
	}
	const before = 5
	for i := range before {
		register(i)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a writer busy during the backup
		defer wg.Done()
		for i := before; ; i++ {
			select {
			case <-stop:
				return
			default:
				register(i)
			}
		}
	}()
	err := store.DB().Backup(ctx, path)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DB().Backup(ctx, path); err == nil {
		t.Fatal("a second backup overwrote the first")
	}

	copyDB, err := models.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	var check string
	if err := copyDB.R(ctx).Raw("PRAGMA integrity_check").Scan(&check).Error; err != nil || check != "ok" {
		t.Fatalf("integrity: %q %v", check, err)
	}
	pending, err := copyDB.PendingMigrations(ctx)
	if err != nil || len(pending) != 0 {
		t.Fatalf("backup is not a migrated database: pending %v, %v", pending, err)
	}
	var n int64
	if err := copyDB.R(ctx).Model(&models.Merchant{}).Count(&n).Error; err != nil || n < before {
		t.Fatalf("backup holds %d merchants (want at least %d): %v", n, before, err)
	}
}
