package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // pgx, the driver under gorm's postgres
	_ "modernc.org/sqlite"             // the SQLite driver under gorm's libtnb/sqlite, as Till uses it

	"till/models"
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

// inserter is a database ceiling: single-row inserts, each in its own
// transaction, through the driver and pool settings Till uses (SQLite:
// WAL, synchronous NORMAL, BEGIN IMMEDIATE, one writer connection;
// Postgres: pgx, 20 connections). The bare one writes a payment-shaped
// row into a small table of its own; the session-row ones write Till's
// own rows into Till's own schema (openSessionInserter).
type inserter struct {
	db     *sql.DB
	insert string
	// row is the values of row number n, in the order of insert's columns.
	row func(n int64) []any
	// rows numbers the rows over all runs, so amounts stay distinct.
	rows atomic.Int64
	// Indexes is how many secondary indexes the target table has.
	Indexes int
	// URL is the session-row ceilings' database (sessionDB).
	URL string
}

// openInserter opens dbURL (sqlite://path or postgres://…) and creates the
// bare ceiling's table there: 16 columns, a primary key and 2 indexes.
func openInserter(dbURL string) (*inserter, error) {
	const cols = "id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received, " +
		"price_currency, price_amount, status, confirmations, required_confirmations, expires_at, created_at, updated_at"
	db, postgres, err := openDB(dbURL)
	if err != nil {
		return nil, fmt.Errorf("insert ceiling: %w", err)
	}
	in := newInserter(db, postgres, "INSERT INTO ceiling_payments ("+cols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	in.row = func(n int64) []any {
		var id [16]byte
		_, _ = rand.Read(id[:])
		now := time.Now().UTC()
		return []any{hex.EncodeToString(id[:]), "merchant-0001", "link-0001", "kaspa", "KAS",
			suiteAddress, 1_000_000_000 + n, 0, "USD", 1000, "pending", 0, 100, now.Add(15 * time.Minute), now, now}
	}
	in.Indexes = 2
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
	return in, nil
}

// newInserter wraps db with Till's pool size and the statement rebound
// for db's engine.
func newInserter(db *sql.DB, postgres bool, insert string) *inserter {
	in := &inserter{db: db, insert: insert}
	if postgres {
		in.db.SetMaxOpenConns(20)
		in.db.SetMaxIdleConns(20)
		in.insert = rebind(in.insert)
	}
	return in
}

func (in *inserter) Close() error { return in.db.Close() }

// insertOne writes row n in its own transaction.
func (in *inserter) insertOne(ctx context.Context, n int64) error {
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, in.insert, in.row(n)...); err != nil {
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
	n := 0
	for next() {
		if n == 0 {
			start = time.Now()
		}
		work <- in.rows.Add(1)
		n++
	}
	close(work)
	wg.Wait()
	return collect(n, start, lat, counts, errs)
}

// sessionColumns are every column of Till's payments table, in the order
// sessionRow gives their values (models.PaymentRow: what Till's own insert
// writes); openSessionInserter checks the table has no other.
var sessionColumns, _ = models.PaymentRow(&models.Payment{})

// sessionRow is row n as Till writes a new Kaspa single-address session
// opened through the API on a 10 KAS link: pending, a fresh UUID, the
// link's price plus n sompi (distinct amounts on one address), the cached
// rate and its US cents, the chain's DAA score, expiring in 30 minutes.
func sessionRow(merchantID, linkID string, n int64) []any {
	now := models.Now()
	rateAt := now.Add(-20 * time.Second)
	price := int64(10 * sompiPerKAS)
	cents := int64(84)
	_, values := models.PaymentRow(&models.Payment{
		ID: newUUID(), MerchantID: merchantID, LinkID: &linkID, Chain: models.ChainKaspa, Asset: "KAS",
		PayAddress: suiteAddress, AmountExpected: price + n, PriceCurrency: "KAS", PriceAmount: price,
		Rate: "0.0835", RateSource: "coingecko", RateAt: &rateAt, USDCents: &cents, Status: models.StatusPending,
		RequiredConfirmations: 100, StartDaaScore: 90_000_000 + n, Metadata: "{}",
		ExpiresAt: now.Add(30 * time.Minute), CreatedAt: now, UpdatedAt: now,
	})
	return values
}

// openSessionInserter is the session-row ceiling: it makes sibling, a
// database named after base (sessionDB), afresh with Till's own
// migrations (models.Open and Migrate), adds one merchant and one active
// 10 KAS link, and inserts Till-shaped rows (sessionRow) into its payments
// table with a plain INSERT: the cost of the schema alone, no conditions.
// With noIndexes every secondary index of payments is dropped first (the
// cost of the row's width without its indexes).
func openSessionInserter(ctx context.Context, base, sibling string, noIndexes bool) (*inserter, error) {
	dbURL, err := sessionDB(ctx, base, sibling)
	if err != nil {
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	merchantID, linkID, err := migrateSessionDB(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	db, postgres, err := openDB(dbURL)
	if err != nil {
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	in := newInserter(db, postgres, "INSERT INTO payments ("+strings.Join(sessionColumns, ", ")+") VALUES ("+
		strings.TrimSuffix(strings.Repeat("?, ", len(sessionColumns)), ", ")+")")
	in.row = func(n int64) []any { return sessionRow(merchantID, linkID, n) }
	if err := in.checkColumns(ctx, postgres); err != nil {
		in.Close()
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	indexes, err := secondaryIndexes(ctx, db, postgres)
	if err == nil && noIndexes {
		for _, name := range indexes {
			if _, err = db.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil { //nolint:gosec // index names read from the catalog
				break
			}
		}
		indexes, err = secondaryIndexes(ctx, db, postgres)
	}
	if err != nil {
		in.Close()
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	in.Indexes, in.URL = len(indexes), dbURL
	return in, nil
}

// checkColumns fails unless payments has exactly sessionColumns.
func (in *inserter) checkColumns(ctx context.Context, postgres bool) error {
	cols, err := paymentColumns(ctx, in.db, postgres)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	for _, c := range sessionColumns {
		if !have[c] {
			return fmt.Errorf("payments has no column %s", c)
		}
		delete(have, c)
	}
	for c := range have {
		return fmt.Errorf("payments has a column the ceiling does not write: %s (add it to sessionColumns)", c)
	}
	return nil
}

// secondaryIndexes names the indexes of payments other than its primary
// key (on SQLite those the schema declares: the primary key's own index
// has no SQL).
func secondaryIndexes(ctx context.Context, db *sql.DB, postgres bool) ([]string, error) {
	q := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'payments' AND sql IS NOT NULL ORDER BY name"
	if postgres {
		q = "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid" +
			" WHERE x.indrelid = 'payments'::regclass AND NOT x.indisprimary ORDER BY i.relname"
	}
	return queryStrings(ctx, db, q)
}

var sqlName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// sessionDB makes an empty database beside base and returns its URL: on
// SQLite the file base's name with "-sibling" before its extension (any
// earlier one removed), on Postgres a database named base's with
// "_sibling" appended (dropped and created again).
func sessionDB(ctx context.Context, base, sibling string) (string, error) {
	if path, ok := strings.CutPrefix(base, "sqlite://"); ok {
		ext := filepath.Ext(path)
		path = strings.TrimSuffix(path, ext) + "-" + sibling + ext
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return "", err
			}
		}
		return "sqlite://" + path, nil
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	name := strings.TrimPrefix(u.Path, "/") + "_" + sibling
	if !sqlName.MatchString(name) {
		return "", fmt.Errorf("database name %q: want lower-case letters, digits and _", name)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", err
	}
	defer admin.Close()
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "CREATE DATABASE " + name} {
		if _, err := admin.ExecContext(ctx, stmt); err != nil {
			return "", err
		}
	}
	u.Path = "/" + name
	return u.String(), nil
}

// migrateSessionDB runs Till's migrations on dbURL and adds the merchant
// and link the session rows belong to (their foreign keys).
func migrateSessionDB(ctx context.Context, dbURL string) (merchantID, linkID string, err error) {
	mdb, err := models.Open(ctx, dbURL, nil)
	if err != nil {
		return "", "", err
	}
	defer mdb.Close()
	if err := mdb.Migrate(ctx); err != nil {
		return "", "", err
	}
	now := models.Now()
	m := models.Merchant{ID: newUUID(), Email: "ceiling@example.com", Name: "Ceiling Shop", PasswordHash: "-",
		KaspaAddress: suiteAddress, APIKeyHash: "ceiling", APIKeySealed: "-", PaymentExpiry: 30,
		RequiredConfirmations: 100, CreatedAt: now, UpdatedAt: now}
	l := models.PaymentLink{ID: newUUID(), MerchantID: m.ID, Slug: "ceiling", Title: "Coffee", Currency: models.KAS,
		Amount: 10 * sompiPerKAS, Chain: models.ChainKaspa, Status: models.LinkActive, CreatedAt: now, UpdatedAt: now}
	if err := mdb.W(ctx).Create(&m).Error; err != nil {
		return "", "", err
	}
	if err := mdb.W(ctx).Create(&l).Error; err != nil {
		return "", "", err
	}
	return m.ID, l.ID, nil
}
