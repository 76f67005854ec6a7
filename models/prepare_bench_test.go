package models

import (
	"context"
	"database/sql"
	"errors"
	neturl "net/url"
	"os"
	"testing"

	"gorm.io/gorm"
)

// BenchmarkPaymentByIDStatements compares one payment read by id through
// the plain handle and through GORM's prepared-statement cache, on the
// engine of the test run (TILL_TEST_DB, TILL_TEST_POSTGRES_URL or a
// temporary SQLite file): the measurement behind DB's choice per engine.
func BenchmarkPaymentByIDStatements(b *testing.B) {
	ctx := context.Background()
	url := "sqlite://" + b.TempDir() + "/bench.db"
	if os.Getenv("TILL_TEST_DB") == "postgres" {
		url = benchPostgresDB(b, os.Getenv("TILL_TEST_POSTGRES_URL"))
	}
	db, err := Open(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	for name, g := range map[string]*gorm.DB{
		"plain":    db.base,
		"prepared": db.base.Session(&gorm.Session{PrepareStmt: true, NewDB: true}),
	} {
		b.Run(name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var p Payment
					err := g.WithContext(ctx).Where("id = ?", "00000000-0000-0000-0000-000000000000").Take(&p).Error
					if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// benchPostgresDB creates a throwaway database on the server (dropped when
// b ends) and returns its URL.
func benchPostgresDB(b *testing.B, server string) string {
	u, err := neturl.Parse(server)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		b.Fatal(err)
	}
	name := "till_bench_" + newChanges(Postgres).id
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u.Path = "/" + name
	return u.String()
}
