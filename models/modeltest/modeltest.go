// Package modeltest opens real, migrated databases for tests: a fresh SQLite
// file, or a fresh database on the Postgres server named by
// TILL_TEST_POSTGRES_URL when TILL_TEST_DB=postgres. `make test` runs every
// package once per engine.
package modeltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for CREATE/DROP DATABASE
	"gorm.io/gorm"

	"till/models"
	"till/models/kaspa"
)

// Engine returns the engine selected for this test run.
func Engine() models.Dialect {
	if os.Getenv("TILL_TEST_DB") == "postgres" {
		return models.Postgres
	}
	return models.SQLite
}

// URL creates an empty database for t and returns its TILL_DATABASE_URL. The
// database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	if Engine() == models.SQLite {
		return "sqlite://" + filepath.Join(t.TempDir(), "till.db")
	}
	server := os.Getenv("TILL_TEST_POSTGRES_URL")
	if server == "" {
		t.Fatal("TILL_TEST_DB=postgres needs TILL_TEST_POSTGRES_URL (make test starts a server and sets it)")
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("TILL_TEST_POSTGRES_URL: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "till_t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", server)
		if err != nil {
			return
		}
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u.Path = "/" + name
	return u.String()
}

// Open returns a migrated database for t, closed when the test ends.
func Open(t testing.TB) *models.DB {
	t.Helper()
	db, err := models.Open(context.Background(), URL(t), nil)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// TestSecret is the fixed TILL_SECRET used by tests.
var TestSecret = []byte("till-test-secret-0123456789abcdef")

// Store returns a Store over a fresh database with a fast bcrypt cost.
func Store(t testing.TB, opts ...func(*models.StoreOptions)) *models.Store {
	t.Helper()
	sealer, err := models.NewSealer(models.DeriveKey(TestSecret, "seal"))
	if err != nil {
		t.Fatal(err)
	}
	o := models.StoreOptions{Sealer: sealer, Network: kaspa.Mainnet, BcryptCost: 4}
	for _, f := range opts {
		f(&o)
	}
	return models.NewStore(Open(t), o)
}

// Name returns a readable label of the engine for subtest names.
func Name() string { return fmt.Sprint(Engine()) }

// QueryPlan is the engine's plan for query: the text of EXPLAIN QUERY PLAN
// on SQLite, EXPLAIN on Postgres, one line per plan row, for tests and
// benchmarks that check (or show) which index a query uses.
func QueryPlan(db *gorm.DB, query string, args ...any) ([]string, error) {
	prefix := "EXPLAIN QUERY PLAN "
	if Engine() == models.Postgres {
		prefix = "EXPLAIN "
	}
	rows, err := db.Raw(prefix+query, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var lines []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for _, v := range vals {
			switch s := v.(type) {
			case string:
				lines = append(lines, s)
			case []byte:
				lines = append(lines, string(s))
			}
		}
	}
	return lines, rows.Err()
}
