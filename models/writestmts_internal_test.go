package models

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"gorm.io/gorm"
)

// TestExecPrepared: a write prepared on SQLite's write connection runs
// inside a DB.Tx and on its own as GORM's Exec would: the row written, a
// unique clash reported as gorm.ErrDuplicatedKey, the write reported to the
// change tracker (inside a transaction only once it commits), and the
// statement prepared once however often it runs.
func TestExecPrepared(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "till.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.base.Exec("CREATE TABLE payments (id TEXT PRIMARY KEY, amount INTEGER NOT NULL UNIQUE)").Error; err != nil {
		t.Fatal(err)
	}
	const insert = "INSERT INTO payments (id, amount) SELECT ?, ? WHERE ? = 1"
	st, err := db.stmts.get(ctx, insert) //nolint:sqlclosecheck // writeStmts owns it
	if err != nil {
		t.Fatal(err)
	}
	errRollback := errors.New("roll back")
	for _, tc := range []struct {
		name     string
		inTx     bool
		rollback bool
		args     []any
		rows     int64
		err      error
		stored   bool // the row is there afterwards
	}{
		{name: "alone", args: []any{"a", 1, 1}, rows: 1, stored: true},
		{name: "alone, condition false", args: []any{"b", 2, 0}},
		{name: "alone, clash", args: []any{"c", 1, 1}, err: gorm.ErrDuplicatedKey},
		{name: "in tx", inTx: true, args: []any{"d", 3, 1}, rows: 1, stored: true},
		{name: "in tx, clash", inTx: true, args: []any{"e", 3, 1}, err: gorm.ErrDuplicatedKey},
		{name: "in tx, rolled back", inTx: true, rollback: true, args: []any{"f", 4, 1}, rows: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := db.changes.stamp(changePayments)
			var rows int64
			var execErr error
			if !tc.inTx {
				rows, execErr = db.execPrepared(ctx, nil, st, insert, tc.args)
			} else {
				txErr := db.Tx(ctx, func(tx *gorm.DB) error {
					rows, execErr = db.execPrepared(ctx, tx, st, insert, tc.args)
					if db.changes.stamp(changePayments) != before {
						t.Error("change reported before the commit")
					}
					if tc.rollback {
						return errRollback
					}
					return nil
				})
				if tc.rollback != errors.Is(txErr, errRollback) {
					t.Fatalf("transaction: %v", txErr)
				}
			}
			if rows != tc.rows || !errors.Is(execErr, tc.err) {
				t.Fatalf("rows %d, err %v; want %d, %v", rows, execErr, tc.rows, tc.err)
			}
			var n int64
			if err := db.R(ctx).Raw("SELECT COUNT(*) FROM payments WHERE id = ?", tc.args[0]).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			if (n == 1) != tc.stored {
				t.Fatalf("row stored: %v, want %v", n == 1, tc.stored)
			}
			if bumped := db.changes.stamp(changePayments) != before; bumped == tc.rollback {
				t.Fatalf("change reported: %v, want %v", bumped, !tc.rollback)
			}
		})
	}
	again, err := db.stmts.get(ctx, insert) //nolint:sqlclosecheck // writeStmts owns it
	if err != nil || again != st || len(db.stmts.m) != 1 {
		t.Fatalf("statement prepared again (%v): %d kept", err, len(db.stmts.m))
	}
}
