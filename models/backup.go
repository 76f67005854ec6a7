package models

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// ErrBackupPostgres is returned for a Postgres database: Till does not back
// up Postgres itself; pg_dump does it better (docs/OPERATIONS.md).
var ErrBackupPostgres = errors.New("models: back up Postgres with pg_dump (see docs/OPERATIONS.md)")

// Backup writes a consistent copy of a SQLite database to path while Till
// keeps serving: VACUUM INTO reads one snapshot (WAL readers never block
// the writer) and writes a compact, self-contained database file. path
// must not exist yet, so a backup never overwrites another.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.Dialect != SQLite {
		return ErrBackupPostgres
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("models: backup: %s already exists", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("models: backup: %w", err)
	}
	// The read pool: a backup must not queue behind (or hold up) the
	// single writer connection.
	if err := db.read.WithContext(ctx).Exec("VACUUM INTO ?", path).Error; err != nil {
		return fmt.Errorf("models: backup: %w", err)
	}
	return nil
}
