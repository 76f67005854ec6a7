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
	"strconv"
	"strings"
	"time"

	"till/models"
	"till/models/kaspa"
)

// Bulk rows for the benchmarks, written into Till's own database with SQL:
// past sessions (a year of history, so session creation can be measured on
// a big table) and open sessions copied from real ones (so the watchers can
// be measured with 100,000 of them). BenchmarkPayments and `till-bench
// prefill` (make bench-http ROWS=… OPEN=…, with till serve stopped) share
// them.

// pastRows describes the past sessions to insert: all on one merchant's
// address and link, whose price is Amount base units (sompi).
type pastRows struct {
	MerchantID, LinkID, Address string
	Amount                      int64
	Rows                        int
}

// pastPaymentsSQL is the statement inserting p.Rows past sessions (INSERT …
// SELECT over generate_series on Postgres, a recursive CTE on SQLite): a
// year of history, 70% confirmed and 30% expired long ago, all on the same
// address and link — the worst case for the session-creation queries, which
// filter by address and amount. Each id is a version 7 UUID stamped with
// its row's created_at, as models.NewPaymentID would have made it then.
// Placeholders are ?, as gorm takes them (rebind them for database/sql on
// Postgres).
func pastPaymentsSQL(postgres bool, p pastRows) (string, []any) {
	step := float64(365*24*3600) / float64(max(p.Rows, 1)) // seconds between rows
	if postgres {
		return `
INSERT INTO payments (id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received,
	price_currency, price_amount, status, confirmations, required_confirmations, start_daa_score, tx_id, metadata,
	expires_at, confirmed_at, expired_at, detected_at, created_at, updated_at)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(gen_random_uuid()::text, 16),
	?::text, ?::text, 'kaspa', 'KAS', ?::text, ?::bigint + 1 + n % 99999,
	CASE WHEN n % 10 < 7 THEN ?::bigint + 1 + n % 99999 ELSE 0 END, 'KAS', ?::bigint,
	CASE WHEN n % 10 < 7 THEN 'confirmed' ELSE 'expired' END, CASE WHEN n % 10 < 7 THEN 100 ELSE 0 END, 100, 1000 + n,
	CASE WHEN n % 10 < 7 THEN md5(n::text) || md5((-n)::text) ELSE '' END, '{}',
	ts + interval '30 minutes',
	CASE WHEN n % 10 < 7 THEN ts + interval '1 minute' END,
	CASE WHEN n % 10 >= 7 THEN ts + interval '30 minutes' END,
	CASE WHEN n % 10 < 7 THEN ts + interval '30 seconds' END,
	ts, ts
FROM (SELECT n, ts, lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') AS h
      FROM (SELECT n, now() - interval '1 hour' - (?::bigint - n) * ?::float8 * interval '1 second' AS ts
            FROM generate_series(1, ?::bigint) AS n) t) s`,
			[]any{p.MerchantID, p.LinkID, p.Address, p.Amount, p.Amount, p.Amount, p.Rows, step, p.Rows}
	}
	// Timestamps in the driver's format ("2006-01-02 15:04:05.999999999-07:00"
	// with UTC), so string comparisons in queries order them correctly.
	return `
INSERT INTO payments (id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received,
	price_currency, price_amount, status, confirmations, required_confirmations, start_daa_score, tx_id, metadata,
	expires_at, confirmed_at, expired_at, detected_at, created_at, updated_at)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?),
     t(n, ts) AS (SELECT n, CAST(strftime('%s', 'now') AS INTEGER) - 3600 - (? - n) * ? FROM seq),
     r(n, ts, h) AS (SELECT n, ts, printf('%012x', CAST(ts * 1000 AS INTEGER)) FROM t)
SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || lower(substr(hex(randomblob(2)), 2) || '-a' ||
		substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	?, ?, 'kaspa', 'KAS', ?, ? + 1 + n % 99999,
	CASE WHEN n % 10 < 7 THEN ? + 1 + n % 99999 ELSE 0 END, 'KAS', ?,
	CASE WHEN n % 10 < 7 THEN 'confirmed' ELSE 'expired' END, CASE WHEN n % 10 < 7 THEN 100 ELSE 0 END, 100, 1000 + n,
	CASE WHEN n % 10 < 7 THEN lower(hex(randomblob(32))) ELSE '' END, '{}',
	strftime('%Y-%m-%d %H:%M:%f', ts + 1800, 'unixepoch') || '+00:00',
	CASE WHEN n % 10 < 7 THEN strftime('%Y-%m-%d %H:%M:%f', ts + 60, 'unixepoch') || '+00:00' END,
	CASE WHEN n % 10 >= 7 THEN strftime('%Y-%m-%d %H:%M:%f', ts + 1800, 'unixepoch') || '+00:00' END,
	CASE WHEN n % 10 < 7 THEN strftime('%Y-%m-%d %H:%M:%f', ts + 30, 'unixepoch') || '+00:00' END,
	strftime('%Y-%m-%d %H:%M:%f', ts, 'unixepoch') || '+00:00',
	strftime('%Y-%m-%d %H:%M:%f', ts, 'unixepoch') || '+00:00'
FROM r`,
		[]any{p.Rows, p.Rows, step, p.MerchantID, p.LinkID, p.Address, p.Amount, p.Amount, p.Amount}
}

// afterBulkSQL is what follows a bulk insert. Postgres: VACUUM ANALYZE,
// what autovacuum would soon do on a live server. SQLite: no ANALYZE (Till
// never runs it, so the planner works without statistics as in
// production), but a WAL checkpoint: the bulk insert left a WAL as big as
// the database, which a live server would have checkpointed long ago.
func afterBulkSQL(postgres bool) string {
	if postgres {
		return "VACUUM ANALYZE payments"
	}
	return "PRAGMA wal_checkpoint(TRUNCATE)"
}

// rebind turns ? placeholders into $1, $2, … for database/sql on Postgres
// (the statements here have no ? inside string literals).
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// openDB opens Till's database (or the ceiling's) by URL, sqlite://PATH or
// postgres://…, with the driver and settings Till uses (SQLite: WAL,
// synchronous NORMAL, BEGIN IMMEDIATE, one connection).
func openDB(dbURL string) (db *sql.DB, postgres bool, err error) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite://"):
		path := strings.TrimPrefix(dbURL, "sqlite://")
		db, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite")
		if err == nil {
			db.SetMaxOpenConns(1)
		}
		return db, false, err
	case strings.HasPrefix(dbURL, "postgres://"):
		db, err = sql.Open("pgx", dbURL)
		return db, true, err
	}
	return nil, false, fmt.Errorf("database %q: want sqlite://PATH or postgres://…", dbURL)
}

// prefillOptions is what `till-bench prefill` is told.
type prefillOptions struct {
	DB    string
	State string
	Rows  int // past sessions
	Open  int // open sessions, split over the three kinds
}

// parseCount reads a row count: 1000, 100k, 1M.
func parseCount(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1000, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1_000_000, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("count %q: want a whole number, optionally with k or M", s)
	}
	return n * mult, nil
}

// parsePrefill reads
//
//	till-bench prefill -db DBURL -state FILE [-rows 1M] [-open 100k]
func parsePrefill(args []string, stderr io.Writer) (prefillOptions, error) {
	var o prefillOptions
	fs := flag.NewFlagSet("prefill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.DB, "db", "", "Till's database: sqlite://PATH or postgres://… (till serve stopped)")
	fs.StringVar(&o.State, "state", "", "the suite's state file (till-bench suite -setup-only -state FILE)")
	rows := fs.String("rows", "0", "past sessions of the single-address merchant (1000, 100k, 1M)")
	open := fs.String("open", "0", "open sessions, a third each Kaspa single-address, Kaspa kpub and USDC")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("prefill: unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.Rows, err = parseCount(*rows); err != nil {
		return o, fmt.Errorf("prefill: -rows: %w", err)
	}
	if o.Open, err = parseCount(*open); err != nil {
		return o, fmt.Errorf("prefill: -open: %w", err)
	}
	if o.State == "" {
		return o, errors.New("prefill: -state is required")
	}
	if !strings.HasPrefix(o.DB, "sqlite://") && !strings.HasPrefix(o.DB, "postgres://") {
		return o, fmt.Errorf("prefill: -db %q: want sqlite://PATH or postgres://…", o.DB)
	}
	return o, nil
}

// openStateDB reads the suite's state file and opens Till's database: what
// prefill and watch both start from.
func openStateDB(stateFile, dbURL string) (st suiteState, db *sql.DB, postgres bool, err error) {
	if st, err = readState(stateFile); err != nil {
		return st, nil, false, err
	}
	db, postgres, err = openDB(dbURL)
	return st, db, postgres, err
}

// runPrefill writes the past and open sessions into Till's database.
func runPrefill(args []string, stderr io.Writer) error {
	o, err := parsePrefill(args, stderr)
	if err != nil {
		return err
	}
	st, db, postgres, err := openStateDB(o.State, o.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	exec := func(q string, args ...any) error {
		if postgres {
			q = rebind(q)
		}
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	start := time.Now()
	if o.Rows > 0 {
		q, qargs := pastPaymentsSQL(postgres, pastRows{MerchantID: st.MerchantID, LinkID: st.LinkID,
			Address: st.Address, Amount: st.LinkAmount, Rows: o.Rows})
		if err := exec(q, qargs...); err != nil {
			return fmt.Errorf("prefill %d past sessions: %w", o.Rows, err)
		}
	}
	if o.Open > 0 {
		if err := copyOpen(ctx, db, postgres, st, splitOpen(o.Open)); err != nil {
			return fmt.Errorf("prefill %d open sessions: %w", o.Open, err)
		}
	}
	if err := exec(afterBulkSQL(postgres)); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "prefilled %d past and %d open sessions in %s\n", o.Rows, o.Open, time.Since(start).Round(time.Millisecond))
	return nil
}

// splitOpen divides n open sessions over the three kinds (Kaspa
// single-address, Kaspa kpub, USDC), the first getting the remainder.
func splitOpen(n int) [3]int {
	return [3]int{n - 2*(n/3), n / 3, n / 3}
}

// copyOpen adds open sessions copied from the state's templates (one real
// session of each kind, opened through the API), so each copy has every
// column Till wrote: for each kind counts[k] sessions, the template
// included. Copies differ in id and amount (unique amounts: the template's
// plus 1, 2, …) and, for the kpub merchant, in derivation index and
// address (the kpub's next receive addresses, as Till derives them).
func copyOpen(ctx context.Context, db *sql.DB, postgres bool, st suiteState, counts [3]int) error {
	cols, err := paymentColumns(ctx, db, postgres)
	if err != nil {
		return err
	}
	exprs := make([]string, len(cols))
	for i, c := range cols {
		switch c {
		case "id", "amount_expected", "pay_address", "derivation_index":
			exprs[i] = "?"
		default:
			exprs[i] = c
		}
	}
	q := "INSERT INTO payments (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") + //nolint:gosec // column names read from the table itself
		" FROM payments WHERE id = ?"
	if postgres {
		q = rebind(q)
	}
	kpub, err := kaspa.ParseExtendedPublicKey(hdKpub, kaspa.Mainnet)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for k, tmplID := range []string{st.Templates.Single, st.Templates.Kpub, st.Templates.USDC} {
		var addr string
		var amount int64
		var index sql.NullInt64
		if err := tx.QueryRowContext(ctx, bindFor(postgres, "SELECT pay_address, amount_expected, derivation_index FROM payments WHERE id = ?"),
			tmplID).Scan(&addr, &amount, &index); err != nil {
			return fmt.Errorf("template %s: %w", tmplID, err)
		}
		for n := 1; n < counts[k]; n++ {
			a, idx := addr, index
			if index.Valid {
				idx.Int64 = index.Int64 + int64(n)
				derived, err := kpub.ReceiveAddress(uint32(idx.Int64)) //nolint:gosec // a few hundred thousand at most
				if err != nil {
					return err
				}
				a = derived.String()
			}
			vals := make([]any, 0, 5)
			for _, c := range cols {
				switch c {
				case "id":
					vals = append(vals, models.NewPaymentID())
				case "amount_expected":
					vals = append(vals, amount+int64(n))
				case "pay_address":
					vals = append(vals, a)
				case "derivation_index":
					vals = append(vals, idx)
				}
			}
			if _, err := stmt.ExecContext(ctx, append(vals, tmplID)...); err != nil {
				return err
			}
		}
		if index.Valid && counts[k] > 1 {
			if _, err := tx.ExecContext(ctx, bindFor(postgres, "UPDATE merchants SET kaspa_next_index = ? WHERE id = ?"),
				index.Int64+int64(counts[k]), st.HDMerchantID); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// newUUID is a random (version 4) UUID, as Till's ids are.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// bindFor rebinds q's placeholders on Postgres.
func bindFor(postgres bool, q string) string {
	if postgres {
		return rebind(q)
	}
	return q
}

// paymentColumns lists the payments table's columns in order.
func paymentColumns(ctx context.Context, db *sql.DB, postgres bool) ([]string, error) {
	q := "SELECT name FROM pragma_table_info('payments')"
	if postgres {
		q = "SELECT column_name FROM information_schema.columns WHERE table_name = 'payments' AND table_schema = current_schema() ORDER BY ordinal_position"
	}
	cols, err := queryStrings(ctx, db, q)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, errors.New("no payments table")
	}
	return cols, nil
}

// queryStrings runs q and returns its single text column, row by row.
func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
