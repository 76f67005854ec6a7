package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"till/models"
	"till/models/evm"
	"till/models/modeltest"
)

// kiraPayRows is the size of the KiraPay fixtures: wallet transactions
// and links of one merchant (issue 10, "Benchmarks").
const kiraPayRows = 100_000

// BenchmarkKiraPayWallet measures GET /api/wallet/transactions (x-api-key)
// with kiraPayRows wallet transactions of the merchant, through the full
// Fiber stack over loopback TCP with benchClients keep-alive clients: no
// filter, each status, a full hash, a hash prefix, a 30-day date range,
// and page 1,000 against page 1. Beside it, the KasPay list of the same
// rows (GET /api/payments?limit=10, keyset-paged). It reports requests/s
// and p50/p99 as BenchmarkPayments does, and the answer's total.
//
// TILL_BENCH_EXPLAIN=1 logs each filter's query plans (EXPLAIN QUERY
// PLAN on SQLite, EXPLAIN on Postgres), as docs/BENCHMARKS.md quotes them.
func BenchmarkKiraPayWallet(b *testing.B) {
	f := newAPIFixture(b)
	f.prefillWallet(b, kiraPayRows)
	ctx := context.Background()
	key := f.shop.Key()
	var (
		hash, from, to string
		row            struct {
			TxID      string
			TxKnownAt time.Time
		}
	)
	if err := f.env.Store.DB().R(ctx).Raw(`SELECT tx_id, tx_known_at FROM payments WHERE merchant_id = ? AND asset = 'USDC'
AND tx_known_at IS NOT NULL AND tx_id <> '' ORDER BY tx_known_at DESC, id DESC LIMIT 1 OFFSET ?`, f.shop.ID, kiraPayRows/2).
		Scan(&row).Error; err != nil || row.TxID == "" {
		b.Fatalf("pick a hash: %+v %v", row, err)
	}
	hash = row.TxID
	from = row.TxKnownAt.Add(-15 * 24 * time.Hour).UTC().Format(time.DateOnly)
	to = row.TxKnownAt.Add(15 * 24 * time.Hour).UTC().Format(time.DateOnly)
	explain := newExplainer(b, f.env.Store.DB().R(ctx))
	for _, q := range []struct{ name, query string }{
		{"all", "?page=1&limit=10"},
		{"status=PENDING", "?status=PENDING"},
		{"status=COMPLETED", "?status=COMPLETED"},
		{"status=FAILED", "?status=FAILED"},
		{"status=CANCELLED", "?status=CANCELLED"},
		{"hash=full", "?transaction_hash=" + hash},
		{"hash=prefix", "?transaction_hash=" + hash[:10]},
		{"dates=30d", "?from_date=" + from + "&to_date=" + to},
		{"page=1000", "?page=1000&limit=10"},
	} {
		b.Run(q.name, func(b *testing.B) {
			total := f.walletTotal(b, explain, q.query)
			req := RawRequest("GET", f.host, "/api/wallet/transactions"+q.query, nil, key...)
			want := fmt.Sprintf(`"total":%d,`, total)
			f.run(b, "req/s", &Load{
				Addr: f.host, Clients: benchClients,
				Request: func(int) []byte { return req },
				Check: func(status int, body []byte) error {
					if status != http.StatusOK || !strings.Contains(string(body), want) {
						return fmt.Errorf("status %d: %s", status, truncate(body, 200))
					}
					return nil
				},
			})
			b.ReportMetric(float64(total), "total")
		})
	}
	b.Run("kaspay-payments-limit=10", func(b *testing.B) {
		req := RawRequest("GET", f.host, "/api/payments?limit=10", nil, f.shop.Bearer()...)
		f.run(b, "req/s", &Load{
			Addr: f.host, Clients: benchClients,
			Request: func(int) []byte { return req },
			Check: func(status int, body []byte) error {
				if status != http.StatusOK || !strings.Contains(string(body), `"nextCursor"`) {
					return fmt.Errorf("status %d: %s", status, truncate(body, 200))
				}
				return nil
			},
		})
	})
}

// walletTotal is the total the wallet list answers for query (checked by
// the benchmark on every response), with the query plans of that call
// logged when TILL_BENCH_EXPLAIN is set.
func (f *apiFixture) walletTotal(b *testing.B, explain *explainer, query string) int64 {
	b.Helper()
	explain.start()
	r := f.env.Do("GET", "/api/wallet/transactions"+query, nil, f.shop.Key()...)
	explain.stop(b, query)
	if r.Status != http.StatusOK {
		b.Fatalf("%s: %d %s", query, r.Status, r.Body)
	}
	data := r.JSON(b)["data"].(map[string]any)
	var n int64
	if _, err := fmt.Sscan(fmt.Sprint(data["total"]), &n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkKiraPayLinks measures the KiraPay link routes with kiraPayRows
// USDC links of the merchant: GET /api/link/:code (public; over 1,000
// codes), GET /api/link?page=1 and ?page=1000 (x-api-key, 10 per page) and
// POST /api/link/generate (the seed's body, with the chain: the fixture sets
// no default chain); beside them the KasPay ones of the same run,
// GET /api/links/:id and POST /api/links (Bearer). It is skipped while the
// KiraPay link routes answer 404 NOT_FOUND (not built yet).
func BenchmarkKiraPayLinks(b *testing.B) {
	f := newAPIFixture(b)
	if r := f.env.Do("GET", "/api/link?page=1", nil, f.shop.Key()...); r.Status == http.StatusNotFound {
		b.Skip("the KiraPay link routes are not there yet")
	}
	codes := f.prefillLinks(b, kiraPayRows)
	key := f.shop.Key()
	ok := func(status int, marker string) func(int, []byte) error {
		return func(got int, body []byte) error {
			if got != status || !strings.Contains(string(body), marker) {
				return fmt.Errorf("status %d: %s", got, truncate(body, 200))
			}
			return nil
		}
	}
	get := func(path string, headers ...string) []byte { return RawRequest("GET", f.host, path, nil, headers...) }
	b.Run("link-code", func(b *testing.B) {
		reqs := make([][]byte, len(codes))
		for i, c := range codes {
			reqs[i] = get("/api/link/" + c)
		}
		f.run(b, "req/s", &Load{Addr: f.host, Clients: benchClients,
			Request: func(i int) []byte { return reqs[i%len(reqs)] }, Check: ok(http.StatusOK, `"code":200`)})
	})
	var links int64
	if err := f.env.Store.DB().R(context.Background()).Raw("SELECT COUNT(*) FROM payment_links WHERE merchant_id = ? AND currency = 'USDC'",
		f.shop.ID).Scan(&links).Error; err != nil {
		b.Fatal(err)
	}
	for _, page := range []int{1, 1000} {
		b.Run(fmt.Sprintf("link-list-page=%d", page), func(b *testing.B) {
			req := get(fmt.Sprintf("/api/link?page=%d", page), key...)
			f.run(b, "req/s", &Load{Addr: f.host, Clients: benchClients,
				Request: func(int) []byte { return req }, Check: ok(http.StatusOK, fmt.Sprintf(`"total":%d,`, links))})
		})
	}
	b.Run("link-generate", func(b *testing.B) {
		body := []byte(`{"currency":"USDC","receiver":"0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6","price":10,"name":"Bench","chain":"` + usdcChain + `"}`)
		req := RawRequest("POST", f.host, "/api/link/generate", body, key...)
		f.run(b, "links/s", &Load{Addr: f.host, Clients: benchClients,
			Request: func(int) []byte { return req }, Check: ok(http.StatusCreated, `"url":`)})
	})
	b.Run("kaspay-link-get", func(b *testing.B) {
		req := get("/api/links/"+f.linkID, f.shop.Bearer()...)
		f.run(b, "req/s", &Load{Addr: f.host, Clients: benchClients,
			Request: func(int) []byte { return req }, Check: ok(http.StatusOK, `"slug"`)})
	})
	b.Run("kaspay-link-create", func(b *testing.B) {
		req := RawRequest("POST", f.host, "/api/links", []byte(`{"title":"Bench","amount":10,"currency":"KAS"}`), f.shop.Bearer()...)
		f.run(b, "links/s", &Load{Addr: f.host, Clients: benchClients,
			Request: func(int) []byte { return req }, Check: ok(http.StatusOK, `"slug"`)})
	})
}

// prefillWallet inserts rows USDC sessions of the shop with a known
// transaction, in one statement: a year of them, one per link of the
// fixture's USDC links, 70% confirmed, 10% confirming, 5% expired short,
// 5% expired with their transfer orphaned (the orphaned transfer rows are
// inserted too), 5% reported by the wallet and pending, 5% reported and
// reverted. Hashes are random 0x-hex, lower-case, as the watcher stores them.
func (f *apiFixture) prefillWallet(b *testing.B, rows int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	db := f.env.Store.DB().W(ctx)
	var link string
	if err := db.Raw("SELECT id FROM payment_links WHERE slug = ?", f.usdcSlugs[0]).Scan(&link).Error; err != nil || link == "" {
		b.Fatalf("usdc link: %v", err)
	}
	c, _ := evm.Builtin(usdcChain)
	recv, token := strings.ToLower(usdcReceiver), c.USDC.Lower()
	step := float64(365*24*3600) / float64(rows)
	// kind = n % 20: 0-13 confirmed, 14-15 confirming, 16 expired short,
	// 17 expired orphaned, 18 reported, 19 reported and reverted.
	cols := `id, merchant_id, link_id, chain, asset, pay_address, token_address, amount_expected, amount_received,
	price_currency, price_amount, status, confirmations, required_confirmations, start_block, tx_id, submitted_tx_hash,
	failure, sender_address, metadata, expires_at, confirmed_at, expired_at, detected_at, tx_known_at, created_at, updated_at`
	var err error
	if modeltest.Engine() == models.Postgres {
		err = db.Exec(`
INSERT INTO payments (`+cols+`)
SELECT gen_random_uuid()::text, ?::text, ?::text, ?::text, 'USDC', ?::text, ?::text, 20000000 + n,
	CASE WHEN k < 16 THEN 20000000 + n WHEN k = 16 THEN 5000000 ELSE 0 END, 'USDC', 10000000,
	CASE WHEN k < 14 THEN 'confirmed' WHEN k < 16 THEN 'confirming' WHEN k < 18 THEN 'expired' ELSE 'pending' END,
	CASE WHEN k < 14 THEN 3 WHEN k < 17 THEN 1 ELSE 0 END, 3, 1000 + n,
	CASE WHEN k < 17 THEN '0x' || md5(n::text) || md5((-n)::text) ELSE '' END,
	CASE WHEN k >= 18 THEN '0x' || md5('s' || n) || md5('t' || n) ELSE '' END,
	CASE WHEN k = 19 THEN 'execution reverted' ELSE '' END,
	CASE WHEN k < 17 THEN '0x2222222222222222222222222222222222222222' ELSE '' END, '{}',
	ts + interval '30 minutes',
	CASE WHEN k < 14 THEN ts + interval '1 minute' END,
	CASE WHEN k IN (16, 17) THEN ts + interval '30 minutes' END,
	CASE WHEN k < 17 THEN ts END,
	ts, ts - interval '1 minute', ts
FROM (SELECT n, n % 20 AS k, now() - interval '1 hour' - (?::bigint - n) * ?::float8 * interval '1 second' AS ts
      FROM generate_series(1, ?::bigint) AS n) s`,
			f.shop.ID, link, usdcChain, recv, token, rows, step, rows).Error
		if err == nil {
			err = db.Exec(`
INSERT INTO transfers (id, chain, tx_id, output_index, address, amount, merchant_id, payment_id, block_number, block_hash,
	token_address, sender_address, details_fetched, seen_at, created_at, reversed_at, orphaned_at)
SELECT gen_random_uuid()::text, chain, '0x' || md5('o' || id) || md5('p' || id), 0, pay_address, amount_expected,
	merchant_id, id, 1000, '0x' || md5(id), token_address, '0x2222222222222222222222222222222222222222', TRUE,
	tx_known_at, tx_known_at, expired_at - interval '20 minutes', expired_at - interval '20 minutes'
FROM payments WHERE merchant_id = ? AND asset = 'USDC' AND status = 'expired' AND tx_id = '' AND submitted_tx_hash = ''`,
				f.shop.ID).Error
		}
		if err == nil {
			err = db.Exec("VACUUM ANALYZE payments").Error
		}
		if err == nil {
			err = db.Exec("VACUUM ANALYZE transfers").Error
		}
	} else {
		ts := func(off int) string {
			return fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%f', ts + %d, 'unixepoch') || '+00:00'", off)
		}
		hexHash := "'0x' || lower(hex(randomblob(32)))"
		err = db.Exec(`
INSERT INTO payments (`+cols+`)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?),
     r(n, k, ts) AS (SELECT n, n % 20, CAST(strftime('%s', 'now') AS INTEGER) - 3600 - (? - n) * ? FROM seq)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
		substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	?, ?, ?, 'USDC', ?, ?, 20000000 + n,
	CASE WHEN k < 16 THEN 20000000 + n WHEN k = 16 THEN 5000000 ELSE 0 END, 'USDC', 10000000,
	CASE WHEN k < 14 THEN 'confirmed' WHEN k < 16 THEN 'confirming' WHEN k < 18 THEN 'expired' ELSE 'pending' END,
	CASE WHEN k < 14 THEN 3 WHEN k < 17 THEN 1 ELSE 0 END, 3, 1000 + n,
	CASE WHEN k < 17 THEN `+hexHash+` ELSE '' END,
	CASE WHEN k >= 18 THEN `+hexHash+` ELSE '' END,
	CASE WHEN k = 19 THEN 'execution reverted' ELSE '' END,
	CASE WHEN k < 17 THEN '0x2222222222222222222222222222222222222222' ELSE '' END, '{}',
	`+ts(1800)+`,
	CASE WHEN k < 14 THEN `+ts(60)+` END,
	CASE WHEN k IN (16, 17) THEN `+ts(1800)+` END,
	CASE WHEN k < 17 THEN `+ts(0)+` END,
	`+ts(0)+`, `+ts(-60)+`, `+ts(0)+`
FROM r`,
			rows, rows, step, f.shop.ID, link, usdcChain, recv, token).Error
		if err == nil {
			err = db.Exec(`
INSERT INTO transfers (id, chain, tx_id, output_index, address, amount, merchant_id, payment_id, block_number, block_hash,
	token_address, sender_address, details_fetched, seen_at, created_at, reversed_at, orphaned_at)
SELECT lower(hex(randomblob(16))), chain, `+hexHash+`, 0, pay_address, amount_expected,
	merchant_id, id, 1000, `+hexHash+`, token_address, '0x2222222222222222222222222222222222222222', 1,
	tx_known_at, tx_known_at, expired_at, expired_at
FROM payments WHERE merchant_id = ? AND asset = 'USDC' AND status = 'expired' AND tx_id = '' AND submitted_tx_hash = ''`,
				f.shop.ID).Error
		}
		if err == nil {
			err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
		}
	}
	if err != nil {
		b.Fatalf("prefill %d wallet transactions: %v", rows, err)
	}
	b.Logf("prefilled %d wallet transactions in %s", rows, time.Since(start).Round(time.Millisecond))
}

// prefillLinks inserts rows active USDC links of the shop over a year, in
// one statement, and returns 1,000 of their codes.
func (f *apiFixture) prefillLinks(b *testing.B, rows int) []string {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	db := f.env.Store.DB().W(ctx)
	recv := usdcReceiver
	step := float64(365*24*3600) / float64(rows)
	cols := `id, merchant_id, slug, title, currency, amount, chain, receiver, receiver_given, status, created_at, updated_at`
	var err error
	if modeltest.Engine() == models.Postgres {
		err = db.Exec(`
INSERT INTO payment_links (`+cols+`)
SELECT gen_random_uuid()::text, ?::text, 'b' || lpad(n::text, 9, '0'), 'Link ' || n, 'USDC', 10000000 + n, ?::text, ?::text,
	?::text, 'active', ts, ts
FROM (SELECT n, now() - interval '1 hour' - (?::bigint - n) * ?::float8 * interval '1 second' AS ts
      FROM generate_series(1, ?::bigint) AS n) s`,
			f.shop.ID, usdcChain, strings.ToLower(recv), recv, rows, step, rows).Error
		if err == nil {
			err = db.Exec("VACUUM ANALYZE payment_links").Error
		}
	} else {
		ts := "strftime('%Y-%m-%d %H:%M:%f', ts, 'unixepoch') || '+00:00'"
		err = db.Exec(`
INSERT INTO payment_links (`+cols+`)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?),
     r(n, ts) AS (SELECT n, CAST(strftime('%s', 'now') AS INTEGER) - 3600 - (? - n) * ? FROM seq)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
		substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	?, 'b' || substr('000000000' || n, -9, 9), 'Link ' || n, 'USDC', 10000000 + n, ?, ?, ?, 'active', `+ts+`, `+ts+`
FROM r`,
			rows, rows, step, f.shop.ID, usdcChain, strings.ToLower(recv), recv).Error
		if err == nil {
			err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
		}
	}
	if err != nil {
		b.Fatalf("prefill %d links: %v", rows, err)
	}
	var codes []string
	for i := 1; i <= 1000; i++ {
		codes = append(codes, fmt.Sprintf("b%09d", i*rows/1000))
	}
	b.Logf("prefilled %d links in %s", rows, time.Since(start).Round(time.Millisecond))
	return codes
}

// explainer logs the query plans of the statements a request runs, when
// TILL_BENCH_EXPLAIN is set: a gorm callback records each query while
// started, and stop explains them on the same database.
type explainer struct {
	db      *gorm.DB
	on      bool
	mu      sync.Mutex
	capture bool
	stmts   []string
}

func newExplainer(b *testing.B, db *gorm.DB) *explainer {
	e := &explainer{db: db, on: os.Getenv("TILL_BENCH_EXPLAIN") != ""}
	if !e.on {
		return e
	}
	record := func(tx *gorm.DB) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.capture {
			e.stmts = append(e.stmts, tx.Explain(tx.Statement.SQL.String(), tx.Statement.Vars...))
		}
	}
	if err := db.Callback().Query().After("gorm:query").Register("bench:explain", record); err != nil {
		b.Fatal(err)
	}
	if err := db.Callback().Row().After("gorm:row").Register("bench:explain-row", record); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *explainer) start() {
	e.mu.Lock()
	e.capture, e.stmts = e.on, nil
	e.mu.Unlock()
}

func (e *explainer) stop(b *testing.B, query string) {
	e.mu.Lock()
	stmts := e.stmts
	e.capture, e.stmts = false, nil
	e.mu.Unlock()
	q, _ := url.QueryUnescape(query)
	for _, s := range stmts {
		if !strings.Contains(s, "tx_known_at") {
			continue // the merchant and orphaned-transfer lookups
		}
		plan, err := modeltest.QueryPlan(e.db, s)
		if err != nil {
			b.Fatalf("explain %s: %v", s, err)
		}
		b.Logf("%s\n%s\n  %s", q, s, strings.Join(plan, "\n  "))
	}
}
