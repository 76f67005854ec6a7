package models

import (
	"context"
	"errors"
	"os"
	"testing"

	"gorm.io/gorm"
)

// BenchmarkPaymentByIDStatements compares one payment read by id through
// the plain handle and through GORM's prepared-statement cache, on the
// engine of the test run (TILL_TEST_DB, TILL_TEST_POSTGRES_URL or a
// temporary SQLite file): the measurement behind DB's choice per engine.
func BenchmarkPaymentByIDStatements(b *testing.B) {
	url := "sqlite://" + b.TempDir() + "/bench.db"
	if os.Getenv("TILL_TEST_DB") == "postgres" {
		url = os.Getenv("TILL_TEST_POSTGRES_URL")
	}
	ctx := context.Background()
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
