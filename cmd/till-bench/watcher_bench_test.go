package main

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
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
//     poll is one POST /addresses/utxos per 1,000 addresses;
//   - single-address/confirming=1000: 1,000 of the sessions were paid and are
//     confirming while the chain moves one block per cycle (the work of a
//     busy shop: depth updates and sender lookups).
//
// reconcile-calls is what a cycle that also reconciles spent coins makes
// (`till serve` does so every 15th cycle, up to 10 history reads).
func BenchmarkWatcherCycle(b *testing.B) {
	for _, open := range []int{100, 10_000} {
		b.Run("open="+strconv.Itoa(open), func(b *testing.B) {
			b.Run("single-address", func(b *testing.B) { benchCycle(b, open, false, 0) })
			b.Run("per-payment-address", func(b *testing.B) { benchCycle(b, open, true, 0) })
			if open == 10_000 {
				b.Run("single-address/confirming=1000", func(b *testing.B) { benchCycle(b, open, false, 1000) })
			}
		})
	}
}

func benchCycle(b *testing.B, open int, perAddress bool, paid int) {
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
	w := &kaspa.Watcher{Client: f.client, Store: f.env.Store}
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
