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
// till-bench ceiling-http -addr 127.0.0.1:PORT [-insert-db DBURL [-rows N]].
// With -insert-db it also serves the HTTP + session-row ceiling
// (rowCeiling) on a fresh database beside DBURL holding N past sessions.
func runCeilingHTTP(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ceiling-http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3999", "listen address")
	insertDB := fs.String("insert-db", "", "sqlite://PATH or postgres://…: also serve POST /sessions[/batched] on a fresh database beside it")
	rows := fs.String("rows", "0", "past sessions in that database (k and M allowed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	past, err := parseCount(*rows)
	if err != nil {
		return fmt.Errorf("ceiling-http: -rows: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	app := ceilingApp()
	if *insertDB != "" {
		rc, err := openRowCeiling(ctx, *insertDB, past)
		if err != nil {
			return err
		}
		defer rc.Close()
		rc.routes(app)
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(*addr) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return app.ShutdownWithTimeout(5 * time.Second)
	}
}

// inserter is a database ceiling: single-row inserts, each its own
// transaction (an autocommit statement), through the driver and pool
// settings Till uses (SQLite: WAL, synchronous NORMAL, BEGIN IMMEDIATE for
// the batches, one writer connection;
// Postgres: pgx, 20 connections). The bare one writes a payment-shaped
// row into a small table of its own; the session-row ones write Till's
// own rows into Till's own schema (openSessionInserter). Each runs plain
// or prepared (insertMode), one row per transaction (Run) or in batches
// as Till's writer commits them (RunBatched).
type inserter struct {
	db *sql.DB
	// plainDB is the pool plain inserts use: db on SQLite; on Postgres a
	// second pool whose pgx sends each statement unnamed, parsed anew
	// (default_query_exec_mode=exec), db's pgx caching prepared ones.
	plainDB *sql.DB
	// stmt is insert prepared on db's connection (SQLite; nil on Postgres,
	// where pgx's cache prepares it once per connection).
	stmt     *sql.Stmt
	postgres bool
	insert   string
	// row is the values of row number n, in the order of insert's columns.
	row func(n int64) []any
	// payment is row number n as Till's model (session-row ceilings only:
	// the HTTP + session-row ceiling answers with it).
	payment func(n int64) *models.Payment
	// rows numbers the rows over all runs, so amounts stay distinct.
	rows atomic.Int64
	// Indexes is how many secondary indexes the target table has.
	Indexes int
	// URL is the session-row ceilings' database (sessionDB).
	URL string
}

// insertMode is how an insert ceiling sends its statement.
type insertMode int

const (
	// plain sends the statement's text with each insert: SQLite parses it
	// each time, Postgres too (pgx's exec mode, an unnamed statement).
	plain insertMode = iota
	// prepared uses a statement prepared once per connection: on SQLite a
	// *sql.Stmt on the writer, on Postgres pgx's statement cache (as Till).
	prepared
)

func (m insertMode) String() string {
	if m == prepared {
		return "prepared"
	}
	return "plain"
}

// openInserter opens dbURL (sqlite://path or postgres://…) and creates the
// bare ceiling's table there: 16 columns, a primary key and 2 indexes.
func openInserter(dbURL string) (*inserter, error) {
	const cols = "id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received, " +
		"price_currency, price_amount, status, confirmations, required_confirmations, expires_at, created_at, updated_at"
	in, err := newInserter(dbURL, "INSERT INTO ceiling_payments ("+cols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	if err != nil {
		return nil, fmt.Errorf("insert ceiling: %w", err)
	}
	in.row = func(n int64) []any {
		var id [16]byte
		_, _ = rand.Read(id[:])
		now := time.Now().UTC()
		return []any{hex.EncodeToString(id[:]), "merchant-0001", "link-0001", "kaspa", "KAS",
			suiteAddress, 1_000_000_000 + n, 0, "USD", 1000, "pending", 0, 100, now.Add(15 * time.Minute), now, now}
	}
	in.Indexes = 2
	ctx := context.Background()
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
		if _, err := in.db.ExecContext(ctx, stmt); err != nil {
			in.Close()
			return nil, fmt.Errorf("insert ceiling: %w", err)
		}
	}
	if err := in.prepare(ctx); err != nil {
		in.Close()
		return nil, fmt.Errorf("insert ceiling: %w", err)
	}
	return in, nil
}

// newInserter opens dbURL with Till's settings and pool size (openDB;
// Postgres also the plain pool), insert rebound for its engine.
func newInserter(dbURL, insert string) (*inserter, error) {
	db, postgres, err := openDB(dbURL)
	if err != nil {
		return nil, err
	}
	in := &inserter{db: db, plainDB: db, postgres: postgres, insert: insert}
	if !postgres {
		return in, nil
	}
	in.insert = rebind(in.insert)
	u, err := url.Parse(dbURL)
	if err == nil {
		q := u.Query()
		q.Set("default_query_exec_mode", "exec")
		u.RawQuery = q.Encode()
		in.plainDB, _, err = openDB(u.String())
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, p := range []*sql.DB{in.db, in.plainDB} {
		p.SetMaxOpenConns(20)
		p.SetMaxIdleConns(20)
	}
	return in, nil
}

// prepare prepares insert on SQLite's writer connection, once the table
// is there (Postgres: pgx's cache does it on first use).
func (in *inserter) prepare(ctx context.Context) error {
	if in.postgres {
		return nil
	}
	var err error
	in.stmt, err = in.db.PrepareContext(ctx, in.insert)
	return err
}

func (in *inserter) Close() error {
	var errs []error
	if in.stmt != nil {
		errs = append(errs, in.stmt.Close())
	}
	if in.plainDB != in.db {
		errs = append(errs, in.plainDB.Close())
	}
	return errors.Join(append(errs, in.db.Close())...)
}

// pool is the pool inserts in mode go through.
func (in *inserter) pool(mode insertMode) *sql.DB {
	if mode == plain {
		return in.plainDB
	}
	return in.db
}

// exec inserts row's values inside tx, in mode.
func (in *inserter) exec(ctx context.Context, tx *sql.Tx, mode insertMode, row []any) error {
	if mode == prepared && in.stmt != nil {
		// The transaction's copy of stmt reuses the statement prepared on
		// the connection; closing the copy leaves that one prepared.
		st := tx.StmtContext(ctx, in.stmt)
		defer st.Close()
		_, err := st.ExecContext(ctx, row...)
		return err
	}
	_, err := tx.ExecContext(ctx, in.insert, row...)
	return err
}

// insertOne writes row n in mode as a statement of its own, which is its
// own transaction (autocommit): one round trip on Postgres, as Till's lone
// inserts take; a BEGIN and a COMMIT around it would add two, and so
// understate the ceiling.
func (in *inserter) insertOne(ctx context.Context, mode insertMode, n int64) error {
	return in.insertRow(ctx, mode, in.row(n))
}

// insertRow is insertOne with the row's values given.
func (in *inserter) insertRow(ctx context.Context, mode insertMode, row []any) error {
	if mode == prepared && in.stmt != nil {
		_, err := in.stmt.ExecContext(ctx, row...)
		return err
	}
	_, err := in.pool(mode).ExecContext(ctx, in.insert, row...)
	return err
}

// inTx runs f in a transaction on mode's pool and commits it.
func (in *inserter) inTx(ctx context.Context, mode insertMode, f func(tx *sql.Tx) error) error {
	tx, err := in.pool(mode).BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err = f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Run inserts from clients goroutines, one insert in flight each, every
// row in its own transaction, while next reports true; the Result is
// shaped like an HTTP load's.
func (in *inserter) Run(clients int, mode insertMode, next func() bool) Result {
	return in.run(clients, next, func(n int64) error { return in.insertOne(context.Background(), mode, n) })
}

// run calls insert from clients goroutines, one call in flight each,
// with a new row number while next reports true.
func (in *inserter) run(clients int, next func() bool, insert func(n int64) error) Result {
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
				if err := insert(n); err != nil {
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

// sessionPayment is session n as Till makes a new Kaspa single-address
// session opened through the API on a 10 KAS link: pending, Till's own new
// id, the link's price plus n sompi (distinct amounts on one address), the
// cached rate and its US cents, the chain's DAA score, expiring in 30
// minutes.
func sessionPayment(merchantID, linkID string, n int64) *models.Payment {
	now := models.Now()
	rateAt := now.Add(-20 * time.Second)
	price := int64(10 * sompiPerKAS)
	cents := int64(84)
	return &models.Payment{
		ID: models.NewPaymentID(), MerchantID: merchantID, LinkID: &linkID, Chain: models.ChainKaspa, Asset: "KAS",
		PayAddress: suiteAddress, AmountExpected: price + n, PriceCurrency: "KAS", PriceAmount: price,
		Rate: "0.0835", RateSource: "coingecko", RateAt: &rateAt, USDCents: &cents, Status: models.StatusPending,
		RequiredConfirmations: 100, StartDaaScore: 90_000_000 + n, Metadata: "{}",
		ExpiresAt: now.Add(30 * time.Minute), CreatedAt: now, UpdatedAt: now,
	}
}

// sessionRow is sessionPayment's row as Till's own insert writes it
// (models.PaymentRow), in sessionColumns' order.
func sessionRow(p *models.Payment) []any {
	_, values := models.PaymentRow(p)
	return values
}

// openSessionInserter is the session-row ceiling: it makes sibling, a
// database named after base (sessionDB), afresh with Till's own
// migrations (models.Open and Migrate), adds one merchant and one active
// 10 KAS link, and inserts Till-shaped rows (sessionRow) into its payments
// table with a plain INSERT: the cost of the schema alone, no conditions.
// With noIndexes every secondary index of payments is dropped first (the
// cost of the row's width without its indexes). With past > 0 payments
// first gets that many past sessions on the link, as till-bench prefill
// gives Till's database (pastPaymentsSQL), so the ceiling at ROWS=1M
// inserts into a table of 1M rows as Till does.
func openSessionInserter(ctx context.Context, base, sibling string, noIndexes bool, past int) (*inserter, error) {
	dbURL, err := sessionDB(ctx, base, sibling)
	if err != nil {
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	merchantID, linkID, err := migrateSessionDB(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	in, err := newInserter(dbURL, "INSERT INTO payments ("+strings.Join(sessionColumns, ", ")+") VALUES ("+
		strings.TrimSuffix(strings.Repeat("?, ", len(sessionColumns)), ", ")+")")
	if err != nil {
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	in.payment = func(n int64) *models.Payment { return sessionPayment(merchantID, linkID, n) }
	in.row = func(n int64) []any { return sessionRow(in.payment(n)) }
	in.URL = dbURL
	if err := in.setUpSessionDB(ctx, merchantID, linkID, noIndexes, past); err != nil {
		in.Close()
		return nil, fmt.Errorf("session-row ceiling: %w", err)
	}
	return in, nil
}

// setUpSessionDB checks payments' columns, drops its secondary indexes
// (noIndexes), adds past rows and prepares the insert.
func (in *inserter) setUpSessionDB(ctx context.Context, merchantID, linkID string, noIndexes bool, past int) error {
	if err := in.checkColumns(ctx, in.postgres); err != nil {
		return err
	}
	indexes, err := secondaryIndexes(ctx, in.db, in.postgres)
	if err == nil && noIndexes {
		for _, name := range indexes {
			if _, err = in.db.ExecContext(ctx, `DROP INDEX "`+name+`"`); err != nil { //nolint:gosec // index names read from the catalog
				return err
			}
		}
		indexes, err = secondaryIndexes(ctx, in.db, in.postgres)
	}
	if err != nil {
		return err
	}
	in.Indexes = len(indexes)
	if past > 0 {
		q, args := pastPaymentsSQL(in.postgres, pastRows{MerchantID: merchantID, LinkID: linkID, Address: suiteAddress,
			Amount: 10 * sompiPerKAS, Rows: past})
		for _, q := range []string{bindFor(in.postgres, q), afterBulkSQL(in.postgres)} {
			if _, err := in.db.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("%d past sessions: %w", past, err)
			}
			args = nil
		}
	}
	return in.prepare(ctx)
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
