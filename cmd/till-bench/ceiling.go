package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"sync"
	"syscall"
	"time"

	_ "github.com/glebarez/go-sqlite" // the SQLite driver under gorm's glebarez/sqlite, as Till uses it
	"github.com/gofiber/fiber/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // pgx, the driver under gorm's postgres
)

// ceilingStatus is what the bare handler answers: about the size and shape
// of Till's GET /api/payments/:id/status body.
type ceilingStatus struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	Stage          string `json:"stage"`
	AmountExpected string `json:"amountExpected"`
	AmountReceived string `json:"amountReceived"`
	Confirmations  int    `json:"confirmations"`
	ExpiresAt      string `json:"expiresAt"`
}

// ceilingApp is the HTTP ceiling: Fiber with its defaults and one JSON
// route, no database, no middleware.
func ceilingApp() *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/status/:id", func(c *fiber.Ctx) error {
		return c.JSON(ceilingStatus{ID: c.Params("id"), Status: "pending", Stage: "awaiting_payment",
			AmountExpected: "10.00012345", AmountReceived: "0", ExpiresAt: "2026-01-01T00:00:00Z"})
	})
	return app
}

// runCeilingHTTP serves ceilingApp on -addr until SIGINT or SIGTERM:
// till-bench ceiling-http -addr 127.0.0.1:PORT.
func runCeilingHTTP(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ceiling-http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3999", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app := ceilingApp()
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(*addr) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return app.ShutdownWithTimeout(5 * time.Second)
	}
}

// inserter is the database ceiling: single-row inserts of a payment-shaped
// row, each in its own transaction, through the driver and pool settings
// Till uses (SQLite: WAL, synchronous NORMAL, BEGIN IMMEDIATE, one writer
// connection; Postgres: pgx, 20 connections).
type inserter struct {
	db     *sql.DB
	insert string
}

// openInserter opens dbURL (sqlite://path or postgres://…) and creates the
// ceiling table there.
func openInserter(dbURL string) (*inserter, error) {
	var in inserter
	var err error
	const cols = "id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received, " +
		"price_currency, price_amount, status, confirmations, required_confirmations, expires_at, created_at, updated_at"
	var postgres bool
	if in.db, postgres, err = openDB(dbURL); err != nil {
		return nil, fmt.Errorf("insert ceiling: %w", err)
	}
	in.insert = "INSERT INTO ceiling_payments (" + cols + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	if postgres {
		in.db.SetMaxOpenConns(20)
		in.db.SetMaxIdleConns(20)
		in.insert = rebind(in.insert)
	}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS ceiling_payments (id VARCHAR(36) PRIMARY KEY, merchant_id VARCHAR(36) NOT NULL,
			link_id VARCHAR(36) NOT NULL, chain VARCHAR(32) NOT NULL, asset VARCHAR(8) NOT NULL,
			pay_address VARCHAR(128) NOT NULL, amount_expected BIGINT NOT NULL, amount_received BIGINT NOT NULL,
			price_currency VARCHAR(8) NOT NULL, price_amount BIGINT NOT NULL, status VARCHAR(16) NOT NULL,
			confirmations INTEGER NOT NULL, required_confirmations INTEGER NOT NULL, expires_at TIMESTAMP NOT NULL,
			created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS ceiling_payments_merchant ON ceiling_payments (merchant_id, created_at)`,
		`CREATE INDEX IF NOT EXISTS ceiling_payments_open ON ceiling_payments (status, expires_at)`,
	} {
		if _, err := in.db.ExecContext(context.Background(), stmt); err != nil {
			in.db.Close()
			return nil, fmt.Errorf("insert ceiling: %w", err)
		}
	}
	return &in, nil
}

func (in *inserter) Close() error { return in.db.Close() }

// insertOne writes one row in its own transaction.
func (in *inserter) insertOne(ctx context.Context, n int64) error {
	var id [16]byte
	_, _ = rand.Read(id[:])
	now := time.Now().UTC()
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, in.insert, //nolint:gosec // in.insert is one of two constant statements
		hex.EncodeToString(id[:]), "merchant-0001", "link-0001", "kaspa", "KAS",
		"kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73", 1_000_000_000+n, 0,
		"USD", 1000, "pending", 0, 100, now.Add(15*time.Minute), now, now)
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Run inserts from clients goroutines, one insert in flight each, while
// next reports true; the Result is shaped like an HTTP load's.
func (in *inserter) Run(clients int, next func() bool) Result {
	work := make(chan int64)
	lat := make([][]time.Duration, clients)
	errs := make([]error, clients)
	counts := make([]int, clients)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				t0 := time.Now()
				if err := in.insertOne(context.Background(), n); err != nil {
					counts[w]++
					if errs[w] == nil {
						errs[w] = err
					}
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	var start time.Time
	var n int64
	for next() {
		if n == 0 {
			start = time.Now()
		}
		work <- n
		n++
	}
	close(work)
	wg.Wait()
	return collect(int(n), start, lat, counts, errs)
}
