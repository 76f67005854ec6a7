package models

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// migrations is the ordered list of schema changes. Order is important: add new
// migrations at the end and never edit one that has shipped. Each is plain SQL
// written once for both engines; sqlDDL swaps the few type names that differ.
var migrations = []*gormigrate.Migration{
	{ID: "0001_merchants", Migrate: execDDL(`
CREATE TABLE merchants (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL,
	name            TEXT NOT NULL,
	password_hash   TEXT NOT NULL,
	kaspa_address   TEXT NOT NULL DEFAULT '',
	api_key_hash    TEXT NOT NULL,
	api_key_sealed  TEXT NOT NULL,
	payment_expiry  INTEGER NOT NULL DEFAULT 30,
	created_at      {{TS}} NOT NULL,
	updated_at      {{TS}} NOT NULL
);
CREATE UNIQUE INDEX merchants_email_key ON merchants (email);
CREATE UNIQUE INDEX merchants_api_key_hash_key ON merchants (api_key_hash);
`)},
}

// execDDL returns a migration step that runs each statement of ddl in order.
func execDDL(ddl string) gormigrate.MigrateFunc {
	return func(tx *gorm.DB) error {
		for _, stmt := range strings.Split(sqlDDL(Dialect(tx.Dialector.Name()), ddl), ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("%w\n%s", err, stmt)
			}
		}
		return nil
	}
}

// sqlDDL replaces the type placeholders used in migrations with the engine's
// own names: {{TS}} is a UTC timestamp, {{JSON}} a JSON document.
func sqlDDL(d Dialect, ddl string) string {
	ts, js := "DATETIME", "TEXT"
	if d == Postgres {
		ts, js = "TIMESTAMPTZ", "JSONB"
	}
	return strings.NewReplacer("{{TS}}", ts, "{{JSON}}", js).Replace(ddl)
}

// Migrate applies every pending migration in one transaction. On Postgres an
// advisory lock makes concurrent `till serve` start-ups take turns.
func (db *DB) Migrate(ctx context.Context) error {
	return db.withMigrationLock(ctx, func(conn *gorm.DB) error {
		m := gormigrate.New(conn, &gormigrate.Options{
			TableName:                 "schema_migrations",
			IDColumnName:              "id",
			IDColumnSize:              255,
			UseTransaction:            true,
			ValidateUnknownMigrations: true,
		}, migrations)
		if err := m.Migrate(); err != nil {
			return fmt.Errorf("models: migrate: %w", err)
		}
		return nil
	})
}

// PendingMigrations lists migrations not yet applied (for `till migrate`'s log).
func (db *DB) PendingMigrations(ctx context.Context) ([]string, error) {
	applied := map[string]bool{}
	w := db.W(ctx)
	if w.Migrator().HasTable("schema_migrations") {
		var ids []string
		if err := w.Table("schema_migrations").Pluck("id", &ids).Error; err != nil {
			return nil, fmt.Errorf("models: read migrations: %w", err)
		}
		for _, id := range ids {
			applied[id] = true
		}
	}
	var pending []string
	for _, m := range migrations {
		if !applied[m.ID] {
			pending = append(pending, m.ID)
		}
	}
	return pending, nil
}

// migrationLockKey is an arbitrary constant naming Till's migration lock.
const migrationLockKey = 7_114_111_001

func (db *DB) withMigrationLock(ctx context.Context, fn func(*gorm.DB) error) error {
	if db.Dialect != Postgres {
		return fn(db.W(ctx))
	}
	// Session-level advisory locks belong to one connection, so pin one.
	return db.W(ctx).Connection(func(conn *gorm.DB) error {
		if err := conn.Exec("SELECT pg_advisory_lock(?)", migrationLockKey).Error; err != nil {
			return fmt.Errorf("models: migration lock: %w", err)
		}
		defer conn.Exec("SELECT pg_advisory_unlock(?)", migrationLockKey)
		return fn(conn)
	})
}
