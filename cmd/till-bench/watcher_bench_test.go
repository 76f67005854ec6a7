package main

import (
	"context"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// BenchmarkWatcherCycle measures one Kaspa watcher cycle against the REST
// double over loopback with many open sessions: its wall time and the chain
// calls it makes, per route. One op is one cycle.
//
//   - single-address: every session pays the merchant's one address (unique
//     amounts), so the UTXO poll is one call whatever the session count;
//   - per-payment-address: every session has its own derived address, so the
//     poll is one POST /addresses/utxos per body the server's cap allows (about
//     2,600 addresses, kaspa.Client.UTXOBatches);
//   - per-payment-address/follow: the same, with the chain follower on
//     (kaspa.Watcher.Follow, TILL_KASPA_FOLLOW), at 30,000 open only: the
//     follower waits for more than four request bodies (about 10,400
//     addresses), then only the addresses it must are polled;
//   - single-address/confirming=1000: 1,000 of the sessions were paid and are
//     confirming while the chain moves one block per cycle (the work of a
//     busy shop: depth updates and sender lookups).
//
// reconcile-calls is what a cycle that also reconciles spent coins makes
// (`till serve` does so every 15th cycle, up to 10 history reads).
func BenchmarkWatcherCycle(b *testing.B) {
	for _, open := range []int{100, 10_000, 30_000} {
		b.Run("open="+strconv.Itoa(open), func(b *testing.B) {
			if open == 30_000 {
				b.Run("per-payment-address", func(b *testing.B) { benchCycle(b, open, true, 0) })
				b.Run("per-payment-address/follow", func(b *testing.B) { benchCycle(b, open, true, 0, true) })
				return
			}
			b.Run("single-address", func(b *testing.B) { benchCycle(b, open, false, 0) })
			b.Run("per-payment-address", func(b *testing.B) { benchCycle(b, open, true, 0) })
			if open == 10_000 {
				b.Run("single-address/confirming=1000", func(b *testing.B) { benchCycle(b, open, false, 1000) })
			}
		})
	}
}

func benchCycle(b *testing.B, open int, perAddress bool, paid int, follow ...bool) {
	f := newAPIFixture(b)
	ctx := context.Background()
	slug := f.slug
	if perAddress {
		slug = f.hdSlug
	}
	if paid > 0 {
		// Deep enough that the paid sessions stay confirming for the run.
		mustJSON(b, f.env.Do("PATCH", "/api/settings", map[string]any{"requiredConfirmations": models.MaxConfirmations}, f.shop.Bearer()...))
	}
	sessions := openSessions(b, f, slug, open)
	w := &kaspa.Watcher{Client: f.client, Store: f.env.Store, Follow: len(follow) > 0 && follow[0]}
	var detectMs float64
	if paid > 0 {
		// All in one block after the sessions' start, as separate transactions.
		f.chain.Advance(1)
		for i, p := range sessions[:paid] {
			if _, err := f.chain.Submit(double.TxSpec{Outputs: []double.Output{{Address: p.PayAddress, Sompi: p.AmountExpected}}, SameBlock: i > 0}); err != nil {
				b.Fatal(err)
			}
		}
		t := time.Now()
		res, err := w.Cycle(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if res.Matched != paid {
			b.Fatalf("the detecting cycle matched %d of %d payments", res.Matched, paid)
		}
		detectMs = Ms(time.Since(t))
	}
	if _, err := w.Cycle(ctx); err != nil { // settle: nothing left over from set-up
		b.Fatal(err)
	}
	f.chain.ResetCalls()
	cycles := 0
	for b.Loop() {
		if paid > 0 {
			f.chain.Advance(1)
		}
		if _, err := w.Cycle(ctx); err != nil {
			b.Fatal(err)
		}
		cycles++
	}
	reportCycles(b, f.chain.Calls(), cycles)
	if paid > 0 {
		b.ReportMetric(detectMs, "detect-cycle-ms") // the cycle that recorded the payments
	}

	// One more cycle that also reconciles.
	w.ReconcileEvery = 1
	f.chain.ResetCalls()
	if _, err := w.Cycle(ctx); err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, n := range f.chain.Calls() {
		total += n
	}
	b.ReportMetric(float64(total), "reconcile-calls")
	if paid > 0 {
		var n int64
		f.env.Store.DB().R(ctx).Model(&models.Payment{}).Where("status = ?", models.StatusConfirming).Count(&n)
		if n != int64(paid) {
			b.Fatalf("%d payments confirming after the run, want %d", n, paid)
		}
	}
}

// reportCycles reports ms/cycle and calls per cycle, in total and per route.
func reportCycles(b *testing.B, calls map[string]int, cycles int) {
	b.Helper()
	if cycles == 0 {
		return
	}
	per := func(n int) float64 { return float64(n) / float64(cycles) }
	total := 0
	routes := make([]string, 0, len(calls))
	for r, n := range calls {
		total += n
		routes = append(routes, r)
	}
	sort.Strings(routes)
	var other int
	for _, r := range routes {
		switch r {
		case "GET /info/blockdag":
			b.ReportMetric(per(calls[r]), "blockdag/cycle")
		case "POST /addresses/utxos":
			b.ReportMetric(per(calls[r]), "utxos/cycle")
		case "GET /transactions/{transaction_id}":
			b.ReportMetric(per(calls[r]), "tx-lookups/cycle")
		default:
			other += calls[r]
		}
	}
	if other > 0 {
		b.ReportMetric(per(other), "other-calls/cycle")
	}
	b.ReportMetric(per(total), "calls/cycle")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(cycles), "ms/cycle")
	b.ReportMetric(0, "ns/op")
	b.Logf("calls in %d cycles: %v", cycles, calls)
}

// openSessions opens n sessions on the link slug through the domain call the
// API uses (CreatePayment), from 8 goroutines, and returns them.
func openSessions(b *testing.B, f *apiFixture, slug string, n int) []*models.Payment {
	b.Helper()
	ctx := context.Background()
	out := make([]*models.Payment, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				p, err := f.env.Store.CreatePayment(ctx, models.CreatePaymentInput{LinkSlug: slug})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				out[i] = p
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatalf("open sessions: %v", firstErr)
	}
	addrs := map[string]bool{}
	for _, p := range out {
		addrs[p.PayAddress] = true
	}
	want := 1 // one shared address …
	if slug == f.hdSlug {
		want = n // … or one each
	}
	if len(addrs) != want {
		b.Fatalf("%d sessions on %d addresses, want %d", n, len(addrs), want)
	}
	return out
}

// BenchmarkWatcherScale measures one Kaspa watcher cycle with 100 to 100,000
// open sessions on the shop's one address (prefilled with SQL: creating
// 100,000 through the API takes too long): ms, chain calls and allocations
// per cycle, the heap the watcher keeps between cycles per open session,
// and the cycle that detects a payment to one of them (detect-cycle-ms; it
// must be the first cycle after the payment, well within the 2 s poll
// interval). One op is one idle cycle.
func BenchmarkWatcherScale(b *testing.B) {
	for _, open := range []int{100, 1_000, 10_000, 100_000} {
		b.Run("open="+strconv.Itoa(open), func(b *testing.B) {
			f := newAPIFixture(b)
			ctx := context.Background()
			f.prefillOpen(b, open)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			w := &kaspa.Watcher{Client: f.client, Store: f.env.Store}
			for range 2 { // the first cycle builds whatever the watcher keeps
				if _, err := w.Cycle(ctx); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			kept := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(open)
			f.chain.ResetCalls()
			cycles := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Cycle(ctx); err != nil {
					b.Fatal(err)
				}
				cycles++
			}
			reportCycles(b, f.chain.Calls(), cycles)
			b.ReportMetric(kept, "kept-B/session")

			// A payment to the middle session: the next cycle records it.
			const amount = 10 * models.SompiPerKAS
			k := int64(open / 2)
			f.chain.Advance(1)
			f.chain.Pay(webtest.AddrA, amount+1+k, "")
			t := time.Now()
			res, err := w.Cycle(ctx)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(Ms(time.Since(t)), "detect-cycle-ms")
			var st string
			if err := f.env.Store.DB().R(ctx).Raw("SELECT status FROM payments WHERE chain = 'kaspa' AND pay_address = ? AND amount_expected = ?",
				webtest.AddrA, amount+1+k).Scan(&st).Error; err != nil {
				b.Fatal(err)
			}
			if res.Matched != 1 || st != string(models.StatusConfirming) {
				b.Fatalf("the cycle after the payment matched %d, session %s", res.Matched, st)
			}
		})
	}
}

// prefillOpen inserts n open (pending) sessions on the single-address shop
// with SQL, amounts 10 KAS + 1 … n sompi, started at the chain's recorded
// position, created over the 25 minutes up to a minute ago (as a shop taking
// them steadily would have) and expiring in a day.
func (f *apiFixture) prefillOpen(b *testing.B, n int) {
	b.Helper()
	ctx := context.Background()
	db := f.env.Store.DB().W(ctx)
	var daa int64
	if err := db.Raw("SELECT daa_score FROM chain_states WHERE chain = 'kaspa'").Scan(&daa).Error; err != nil || daa == 0 {
		b.Fatalf("chain state: %d %v", daa, err)
	}
	const amount = 10 * models.SompiPerKAS
	var err error
	if modeltest.Engine() == models.Postgres {
		err = db.Exec(`
INSERT INTO payments (id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received,
	price_currency, price_amount, status, confirmations, required_confirmations, start_daa_score, tx_id, metadata,
	expires_at, created_at, updated_at)
SELECT gen_random_uuid()::text, ?::text, ?::text, 'kaspa', 'KAS', ?::text, ?::bigint + n, 0, 'KAS', ?::bigint,
	'pending', 0, 100, ?::bigint, '', '{}', now() + interval '1 day',
	now() - (60 + n % 1500) * interval '1 second', now() - (60 + n % 1500) * interval '1 second'
FROM generate_series(1, ?::bigint) AS n`, f.shop.ID, f.linkID, webtest.AddrA, amount, amount, daa, n).Error
		if err == nil {
			err = db.Exec("VACUUM ANALYZE payments").Error
		}
	} else {
		err = db.Exec(`
INSERT INTO payments (id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received,
	price_currency, price_amount, status, confirmations, required_confirmations, start_daa_score, tx_id, metadata,
	expires_at, created_at, updated_at)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
		substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
	?, ?, 'kaspa', 'KAS', ?, ? + n, 0, 'KAS', ?, 'pending', 0, 100, ?, '', '{}',
	strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 day') || '+00:00',
	strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (60 + n % 1500) || ' seconds') || '+00:00',
	strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (60 + n % 1500) || ' seconds') || '+00:00'
FROM seq`, n, f.shop.ID, f.linkID, webtest.AddrA, amount, amount, daa).Error
		if err == nil {
			err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
		}
	}
	if err != nil {
		b.Fatalf("prefill %d open sessions: %v", n, err)
	}
}
