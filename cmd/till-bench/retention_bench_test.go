package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/models/netguard"
	"till/workers"
)

// retentionPayments is how many past payments carry the outbox to prune:
// three events each, every event with one delivered delivery and one
// attempt, so 111,112 payments make 1,000,008 outbox rows.
const retentionPayments = 111_112

// BenchmarkRetention measures data retention on a database holding about
// 1M old outbox rows (events, deliveries, attempts of a year of confirmed
// and expired payments): the retention worker prunes all of them, in
// batches of models.DefaultPruneBatch, while benchClients keep-alive
// clients poll GET /api/payments/:id/status over 1,000 open sessions
// through the full Fiber stack. It reports
//
//   - rows/s: outbox rows deleted per second of the worker's cycle (the
//     polls run meanwhile);
//   - p99-ms-idle / p99-ms-pruning: the polls' p99 latency for 3 s before
//     pruning and during it; polls/s-idle and polls/s-pruning their rates;
//   - pruned-rows: what the cycle deleted (must be every outbox row).
//
// One op is one whole prune; after the first, the later ones (if any) find
// nothing and are cheap, so only the first is measured.
func BenchmarkRetention(b *testing.B) {
	f := newAPIFixture(b)
	f.prefill(b, retentionPayments)
	f.open = openSessions(b, f, f.slug, 1000)
	outbox := f.prefillOutbox(b)

	polls := f.polls()
	if _, err := polls.Run(Count(2 * benchClients)); err != nil { // open connections, warm caches
		b.Fatal(err)
	}
	idle, err := polls.Run(Until(3 * time.Second))
	if err != nil || idle.Errors > 0 {
		b.Fatalf("polls: %v %v", err, idle.FirstErr)
	}

	// Keep 30 minutes: every prefilled row (an hour to a year old) is out,
	// the open sessions are new.
	w := &workers.Retention{Store: f.env.Store, Keep: 30 * time.Minute}
	var pruned models.PruneResult
	var took time.Duration
	var during Result
	measured := false
	for b.Loop() {
		if measured {
			if _, err := w.Cycle(context.Background()); err != nil {
				b.Fatal(err)
			}
			continue
		}
		var stop atomic.Bool
		done := make(chan error, 1)
		go func() {
			var err error
			during, err = polls.Run(func() bool { return !stop.Load() })
			done <- err
		}()
		start := time.Now()
		pruned, err = w.Cycle(context.Background())
		took = time.Since(start)
		stop.Store(true)
		if err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		measured = true
	}
	if during.Errors > 0 {
		b.Fatalf("%d of %d polls failed during pruning; first: %v", during.Errors, during.N, during.FirstErr)
	}
	rows := pruned.Events + pruned.Deliveries + pruned.Attempts
	if rows != outbox {
		b.Fatalf("pruned %d rows (%+v), want all %d", rows, pruned, outbox)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(rows), "pruned-rows")
	b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
	b.ReportMetric(Ms(idle.Percentile(99)), "p99-ms-idle")
	b.ReportMetric(Ms(during.Percentile(99)), "p99-ms-pruning")
	b.ReportMetric(idle.Rate(), "polls/s-idle")
	b.ReportMetric(during.Rate(), "polls/s-pruning")
	b.Logf("pruned %d rows in %s; polls idle %s; pruning %s", rows, took.Round(time.Millisecond), idle, during)
}

// prefillOutbox writes, with SQL, three events per past payment (600-byte
// snapshots, KiraPay-like "evt_" ids on half of them: Prune must not care),
// one delivered delivery per event to one endpoint and one attempt per
// delivery with a 200-byte response snippet. It returns the rows written.
func (f *apiFixture) prefillOutbox(b *testing.B) int64 {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	url, events := "http://127.0.0.1:9/hook", []string{"*"}
	ep, _, err := f.env.Store.CreateWebhook(ctx, f.shop.ID, models.WebhookInput{URL: &url, Events: &events}, &netguard.Policy{AllowPrivate: true})
	if err != nil {
		b.Fatal(err)
	}
	db := f.env.Store.DB().W(ctx)
	var stmts []string
	if modeltest.Engine() == models.Postgres {
		stmts = []string{`
INSERT INTO events (id, merchant_id, type, dialect, payment_id, data, created_at)
SELECT CASE WHEN k = 2 THEN 'evt_' || md5(p.id || k::text) ELSE gen_random_uuid()::text END, p.merchant_id,
	CASE WHEN p.status = 'confirmed' THEN 'payment.confirmed' ELSE 'payment.expired' END, 'kaspay', p.id,
	'{"payment":"' || p.id || '","pad":"' || repeat('x', 540) || '"}', p.created_at + k * interval '1 second'
FROM payments p CROSS JOIN generate_series(1, 3) AS k WHERE p.status IN ('confirmed', 'expired')`, `
INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, status, attempts, next_attempt_at, last_status_code,
	delivered_at, created_at, updated_at)
SELECT gen_random_uuid()::text, e.id, ?, e.merchant_id, 'delivered', 1, e.created_at, 200, e.created_at, e.created_at, e.created_at
FROM events e`, `
INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, latency_ms, response_snippet)
SELECT gen_random_uuid()::text, d.id, d.created_at, 200, 35, repeat('o', 200) FROM webhook_deliveries d`,
			"VACUUM ANALYZE events", "VACUUM ANALYZE webhook_deliveries", "VACUUM ANALYZE webhook_attempts"}
	} else {
		stmts = []string{`
INSERT INTO events (id, merchant_id, type, dialect, payment_id, data, created_at)
SELECT CASE WHEN k.n = 2 THEN 'evt_' || lower(hex(randomblob(12))) ELSE lower(hex(randomblob(16))) END, p.merchant_id,
	CASE WHEN p.status = 'confirmed' THEN 'payment.confirmed' ELSE 'payment.expired' END, 'kaspay', p.id,
	'{"payment":"' || p.id || '","pad":"' || printf('%.540c', 'x') || '"}', p.created_at
FROM payments p CROSS JOIN (SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) AS k WHERE p.status IN ('confirmed', 'expired')`, `
INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, status, attempts, next_attempt_at, last_status_code,
	delivered_at, created_at, updated_at)
SELECT lower(hex(randomblob(16))), e.id, ?, e.merchant_id, 'delivered', 1, e.created_at, 200, e.created_at, e.created_at, e.created_at
FROM events e`, `
INSERT INTO webhook_attempts (id, delivery_id, attempted_at, status_code, latency_ms, response_snippet)
SELECT lower(hex(randomblob(16))), d.id, d.created_at, 200, 35, printf('%.200c', 'o') FROM webhook_deliveries d`,
			"PRAGMA wal_checkpoint(TRUNCATE)"}
	}
	for _, stmt := range stmts {
		var args []any
		if strings.Contains(stmt, "?") {
			args = append(args, ep.ID)
		}
		if err := db.Exec(stmt, args...).Error; err != nil {
			b.Fatalf("prefill outbox: %v\n%s", err, stmt)
		}
	}
	var n int64
	if err := db.Raw("SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM webhook_deliveries) + (SELECT COUNT(*) FROM webhook_attempts)").
		Scan(&n).Error; err != nil {
		b.Fatal(err)
	}
	b.Logf("prefilled %d outbox rows in %s", n, time.Since(start).Round(time.Millisecond))
	return n
}
