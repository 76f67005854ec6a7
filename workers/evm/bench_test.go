package evm_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"till/models"
	chains "till/models/evm"
	"till/models/modeltest"
	"till/models/netguard"
	"till/workers/evm"
	"till/workers/evm/evmsim"
	"till/workers/webhooks"
)

// The EVM watcher's benchmarks (docs/BENCHMARKS.md explains each figure).
// Each runs Till's own watcher and client against the simulated chain
// through evmsim.Proxy, which counts the calls: real JSON-RPC over loopback
// HTTP, on the database TILL_TEST_DB names. Sessions are opened through
// Store.CreatePayment, the domain call of the API and the checkout.

const benchKaspaAddr = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"

// sessionsPerLink bounds the open sessions of one link: a receiver has
// 9,999 unique offsets per price, and a fuller range needs more random
// draws per session.
const sessionsPerLink = 2500

// benchChain is one simulated chain behind a counting proxy, a store with
// the chain enabled, a merchant and a watcher of the proxy.
type benchChain struct {
	ctx   context.Context
	sim   *evmsim.Sim
	proxy *evmsim.Proxy
	cfg   chains.ChainConfig
	store *models.Store
	m     *models.Merchant
	w     *evm.Watcher
}

// newBenchChain opens a fresh store on sim (through a new proxy) and
// observes the chain once, so sessions record its head as their start.
func newBenchChain(b *testing.B, sim *evmsim.Sim, edit func(*chains.ChainConfig)) *benchChain {
	b.Helper()
	proxy := evmsim.NewProxyT(b, sim.URL())
	cfg := chains.ChainConfig{
		Chain: chains.Chain{Name: "local", DisplayName: "Local", ChainID: sim.ChainID(), USDC: chains.Address(sim.USDC()),
			Confirmations: 1},
		RPCURL: proxy.URL(), RPCHost: "127.0.0.1", Finality: chains.FinalityDepth, MaxRange: chains.DefaultMaxRange,
	}
	if edit != nil {
		edit(&cfg)
	}
	store := modeltest.Store(b, func(o *models.StoreOptions) { o.EVMChains = evm.StoreChains([]chains.ChainConfig{cfg}) })
	ctx := context.Background()
	m, err := store.Register(ctx, models.RegisterInput{Email: "bench@example.com", Password: "securepassword", Name: "Bench", KaspaAddress: benchKaspaAddr})
	if err != nil {
		b.Fatal(err)
	}
	cl, err := evm.Dial(cfg.RPCURL, evm.ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	c := &benchChain{ctx: ctx, sim: sim, proxy: proxy, cfg: cfg, store: store, m: m,
		w: &evm.Watcher{Config: cfg, Client: cl, Store: store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	c.cycle(b)
	return c
}

func (c *benchChain) cycle(b *testing.B) models.EVMApplyResult {
	b.Helper()
	r, err := c.w.Cycle(c.ctx)
	if err != nil {
		b.Fatalf("cycle: %v", err)
	}
	return r
}

func (c *benchChain) mine(b *testing.B, n int) {
	b.Helper()
	if _, err := c.sim.Mine(n); err != nil {
		b.Fatal(err)
	}
}

// benchReceiver is the i-th receiver address (never the zero address).
func benchReceiver(i int) common.Address {
	return common.BigToAddress(big.NewInt(int64(0xbe0000 + i)))
}

// openSessions opens n sessions spread round-robin over receivers
// addresses, through Store.CreatePayment on USDC links (one link per
// receiver and price; a price takes at most sessionsPerLink sessions). It
// returns them in creation order.
func (c *benchChain) openSessions(b *testing.B, n, receivers int) []*models.Payment {
	b.Helper()
	start := time.Now()
	perReceiver := (n + receivers - 1) / receivers
	prices := (perReceiver + sessionsPerLink - 1) / sessionsPerLink
	slugs := make([][]string, receivers) // receiver → one link per price
	usdc := "USDC"
	for r := range receivers {
		recv := benchReceiver(r).Hex()
		for p := range prices {
			title, amount := fmt.Sprintf("Item %d/%d", r, p), strconv.Itoa(10+p)
			l, err := c.store.CreateLink(c.ctx, c.m.ID, models.LinkInput{Title: &title, Amount: &amount, Currency: &usdc,
				Chain: &c.cfg.Name, Receiver: &recv})
			if err != nil {
				b.Fatal(err)
			}
			slugs[r] = append(slugs[r], l.Slug)
		}
	}
	out := make([]*models.Payment, n)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				r := i % receivers
				slug := slugs[r][(i/receivers)/sessionsPerLink]
				p, err := c.store.CreatePayment(c.ctx, models.CreatePaymentInput{LinkSlug: slug})
				if err != nil {
					errs <- fmt.Errorf("session %d: %w", i, err)
					return
				}
				out[i] = p
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.Logf("opened %d sessions on %d receivers (%d links) in %s", n, receivers, receivers*prices, time.Since(start).Round(time.Millisecond))
	return out
}

// procStatus reads VmRSS and VmHWM (peak) of this process in MiB.
func procStatus(b *testing.B) (rss, hwm float64) {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// BenchmarkEVMWatcherRSS is the memory of this process (the simulated
// chain, the proxy, the database driver — on SQLite the database's page
// cache too — and the watcher) with 10,000 open USDC sessions on 100
// receivers after 20 cycles. It comes first in the file so that, run
// alone or first, no other benchmark's garbage is in it; the peak is reset
// (/proc/self/clear_refs) before the sessions are opened. base-MiB is the
// RSS before: chain and store already running, no session.
func BenchmarkEVMWatcherRSS(b *testing.B) {
	sim := evmsim.StartT(b)
	c := newBenchChain(b, sim, nil)
	runtime.GC()
	base, _ := procStatus(b)
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM where the kernel allows it
	c.openSessions(b, 10_000, 100)
	c.proxy.ResetCounts()
	for range 20 {
		c.mine(b, 1)
		c.cycle(b)
	}
	if got := c.proxy.Calls("eth_getLogs"); got != 20 {
		b.Fatalf("20 cycles made %d eth_getLogs calls, want 20", got)
	}
	rss, hwm := procStatus(b)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for b.Loop() {
		// The figures are states, not rates: nothing to repeat.
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(base, "base-MiB")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(hwm, "peak-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
}

// BenchmarkEVMWatcherCycle is one watcher cycle (one op) with 1,000 and
// 10,000 open sessions spread over 1, 100 and 1,001 receivers; one block is
// mined before each cycle (outside the timer), so each cycle scans one new
// block as it does live. calls/cycle counts HTTP requests to the provider
// (a JSON-RPC batch is one), getLogs/cycle the eth_getLogs calls among them;
// both must not depend on the number of sessions. With 1,000 sessions on
// 1,001 receivers every receiver gets one session (1,001 sessions).
func BenchmarkEVMWatcherCycle(b *testing.B) {
	sim := evmsim.StartT(b)
	for _, sessions := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			for _, receivers := range []int{1, 100, 1001} {
				b.Run(fmt.Sprintf("receivers=%d", receivers), func(b *testing.B) {
					c := newBenchChain(b, sim, nil)
					c.openSessions(b, max(sessions, receivers), receivers)
					st, err := c.store.EVMWatchState(c.ctx, c.cfg.Name)
					if err != nil || len(st.Receivers) != receivers {
						b.Fatalf("watch state: %d receivers (%v), want %d", len(st.Receivers), err, receivers)
					}
					b.Run("cycle", func(b *testing.B) { c.benchCycles(b, receivers) })
				})
			}
		})
	}
}

// BenchmarkEVMWatcherScale is one watcher cycle (one op, one new block
// each) with 100 to 100,000 open sessions on one receiver (prefilled with
// SQL), with its allocations, then the cycle that detects a payment to one
// of them (detect-cycle-ms: the first after the payment). Calls per cycle
// are checked to be 3 whatever the count.
func BenchmarkEVMWatcherScale(b *testing.B) {
	sim := evmsim.StartT(b)
	for _, open := range []int{100, 1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("open=%d", open), func(b *testing.B) {
			c := newBenchChain(b, sim, nil)
			first := c.openSessions(b, 1, 1)[0]
			c.prefillOpen(b, first.ID, open-1)
			b.ReportAllocs()
			c.benchCycles(b, 1)
			if _, err := sim.Pay(common.HexToAddress(first.PayAddress), big.NewInt(first.AmountExpected)); err != nil {
				b.Fatal(err)
			}
			t := time.Now()
			r := c.cycle(b)
			b.ReportMetric(float64(time.Since(t).Microseconds())/1000, "detect-cycle-ms")
			if r.Matched != 1 {
				b.Fatalf("the cycle after the payment: %+v", r)
			}
		})
	}
}

// BenchmarkEVMWatcherHistory is one watcher cycle (one op, one new block
// each) with 1,000 open sessions on one receiver and rows past sessions of
// the same chain and receiver (70% confirmed, 30% expired long ago, beyond
// the late window), and rows settled transfers (credited to a confirmed
// session, in blocks before the reorg window): the watcher must not read
// them, so the cycle should cost what
// BenchmarkEVMWatcherCycle/sessions=1000/receivers=1 costs.
func BenchmarkEVMWatcherHistory(b *testing.B) {
	sim := evmsim.StartT(b)
	for _, size := range []struct {
		name string
		rows int
	}{{"100k", 100_000}} {
		b.Run("rows="+size.name, func(b *testing.B) {
			c := newBenchChain(b, sim, nil)
			open := c.openSessions(b, 1001, 1)
			// open[0] is paid and confirmed: the model of the past rows,
			// each with its transfer.
			if _, err := sim.Pay(common.HexToAddress(open[0].PayAddress), big.NewInt(open[0].AmountExpected)); err != nil {
				b.Fatal(err)
			}
			c.cycle(b)
			c.prefillPast(b, "payments", open[0].ID, size.rows)
			c.prefillPast(b, "transfers", open[0].ID, size.rows)
			b.Run("cycle", func(b *testing.B) { c.benchCycles(b, 1) })
		})
	}
}

// prefillPast copies the row of table ("payments" or "transfers") whose id
// (for transfers: payment_id) is id into rows closed ones with one
// INSERT … SELECT (generate_series on Postgres, a recursive CTE on SQLite):
// every column as the original but the id, a payment's status (70%
// confirmed, 30% expired), amount and times (created and expired two days
// ago and more), a transfer's tx hash and block. Postgres then gets VACUUM ANALYZE,
// SQLite no ANALYZE (Till never runs one), as BenchmarkPayments does.
func (c *benchChain) prefillPast(b *testing.B, table, id string, rows int) {
	b.Helper()
	pg := modeltest.Engine() == models.Postgres
	ts := `strftime('%Y-%m-%d %H:%M:%f', CAST(strftime('%s', 'now') AS INTEGER) - 172800 - n, 'unixepoch') || '+00:00'`
	if pg {
		ts = `now() - interval '2 days' - n * interval '1 second'`
	}
	override := map[string]string{"status": `CASE WHEN n % 10 < 7 THEN 'confirmed' ELSE 'expired' END`,
		"amount_expected": "amount_expected + 10000 + n", "expires_at": ts, "created_at": ts, "updated_at": ts}
	if table == "transfers" {
		// Past transfers lie before the reorg window; the simulated chain
		// being young, below its genesis.
		override = map[string]string{"tx_id": "tx_id || '-' || n", "block_number": "block_number - 1000 - n"}
	}
	c.prefillCopy(b, table, id, rows, override)
}

// prefillOpen copies the open session id into rows more on its receiver,
// as prefillPast does: pending, amounts above it, created over the 25
// minutes up to a minute ago (a shop taking them steadily) and expiring in
// a day.
func (c *benchChain) prefillOpen(b *testing.B, id string, rows int) {
	b.Helper()
	created, expires := `strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (60 + n % 1500) || ' seconds') || '+00:00'`,
		`strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 day') || '+00:00'`
	if modeltest.Engine() == models.Postgres {
		created, expires = `now() - (60 + n % 1500) * interval '1 second'`, `now() + interval '1 day'`
	}
	c.prefillCopy(b, "payments", id, rows, map[string]string{"amount_expected": "amount_expected + n",
		"expires_at": expires, "created_at": created, "updated_at": created})
}

// prefillCopy copies the row of table whose id (for transfers: payment_id)
// is id into rows new ones, each column as the original but a fresh id and
// the overridden ones (expressions of n, 1 … rows).
func (c *benchChain) prefillCopy(b *testing.B, table, id string, rows int, override map[string]string) {
	b.Helper()
	start := time.Now()
	db := c.store.DB().W(c.ctx)
	var model any = &models.Payment{}
	key := "id"
	if table == "transfers" {
		model, key = &models.Transfer{}, "payment_id"
	}
	cols, err := db.Migrator().ColumnTypes(model)
	if err != nil {
		b.Fatal(err)
	}
	pg := modeltest.Engine() == models.Postgres
	idExpr, from := `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
		substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`,
		`WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) SELECT %s FROM %s, seq WHERE %[2]s.%s = ?`
	if pg {
		idExpr, from = `gen_random_uuid()::text`, `SELECT %s FROM %s, generate_series(1, ?::bigint) AS n WHERE %[2]s.%s = ?`
	}
	override = maps.Clone(override)
	override["id"] = idExpr
	var names, exprs []string
	for _, col := range cols {
		n := col.Name()
		names = append(names, `"`+n+`"`)
		if e, ok := override[n]; ok {
			exprs = append(exprs, e)
		} else {
			exprs = append(exprs, `"`+n+`"`)
		}
	}
	q := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") " + fmt.Sprintf(from, strings.Join(exprs, ", "), table, key)
	if err := db.Exec(q, rows, id).Error; err != nil {
		b.Fatalf("prefill %d rows: %v", rows, err)
	}
	if pg {
		err = db.Exec("VACUUM ANALYZE " + table).Error
	} else {
		err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("prefilled %d %s in %s", rows, table, time.Since(start).Round(time.Millisecond))
}

// benchCycles times cycles, mining one block before each outside the timer.
func (c *benchChain) benchCycles(b *testing.B, receivers int) {
	c.mine(b, 1)
	c.cycle(b)
	c.proxy.ResetCounts()
	cycles := 0
	for b.Loop() {
		b.StopTimer()
		c.mine(b, 1)
		b.StartTimer()
		c.cycle(b)
		cycles++
	}
	calls, logs := c.proxy.Requests(), c.proxy.Calls("eth_getLogs")
	b.ReportMetric(float64(calls)/float64(cycles), "calls/cycle")
	b.ReportMetric(float64(logs)/float64(cycles), "getLogs/cycle")
	// 1 eth_blockNumber + 1 batch + ⌈receivers/1000⌉ eth_getLogs for one block.
	if want := 2 + (receivers+evm.MaxReceiversPerCall-1)/evm.MaxReceiversPerCall; calls != want*cycles {
		b.Errorf("%d calls in %d cycles, want %d per cycle: %v", calls, cycles, want, c.proxy.AllCalls())
	}
}

// BenchmarkEVMCatchUp is the first cycle after a 10,000-block outage (one
// op): the watcher's cursor stands 10,000 blocks behind the head, 100 open
// sessions on one receiver, 10 of them paid in the first blocks of the
// outage. It scans with _MAX_RANGE 10 and 1,000 (the default) and reports
// blocks/s and the calls of the catch-up. Each op puts the cursor back
// (outside the timer) and scans again; the first finds the 10 payments,
// later ones find the same logs already recorded.
func BenchmarkEVMCatchUp(b *testing.B) {
	const outage = 10_000
	sim := evmsim.StartT(b)
	for _, maxRange := range []uint64{10, 1000} {
		b.Run(fmt.Sprintf("max-range=%d", maxRange), func(b *testing.B) {
			c := newBenchChain(b, sim, func(cfg *chains.ChainConfig) { cfg.MaxRange = maxRange })
			open := c.openSessions(b, 100, 1)
			start, err := sim.Head() // the cursor and the sessions' start block

			if err != nil {
				b.Fatal(err)
			}
			for _, p := range open[:10] {
				if _, err := sim.Pay(common.HexToAddress(p.PayAddress), big.NewInt(p.AmountExpected)); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("mining the %d-block outage", outage)
			t0 := time.Now()
			c.mine(b, outage-10)
			b.Logf("mined in %s", time.Since(t0).Round(time.Millisecond))
			head, err := sim.Head()
			if err != nil {
				b.Fatal(err)
			}
			if head.Number-start.Number != outage {
				b.Fatalf("outage of %d blocks, want %d", head.Number-start.Number, outage)
			}
			calls, ops := 0, 0
			for b.Loop() {
				b.StopTimer()
				if err := c.store.DB().W(c.ctx).Model(&models.ChainState{}).Where("chain = ?", c.cfg.Name).
					Updates(map[string]any{"cursor": start.Number, "cursor_hash": strings.ToLower(start.Hash.Hex()),
						"cursor_time": time.Unix(int64(start.Time), 0).UTC()}).Error; err != nil {
					b.Fatal(err)
				}
				c.proxy.ResetCounts()
				b.StartTimer()
				c.cycle(b)
				calls += c.proxy.Requests()
				ops++
			}
			var confirmed int64
			if err := c.store.DB().W(c.ctx).Model(&models.Payment{}).Where("status = ?", models.StatusConfirmed).Count(&confirmed).Error; err != nil {
				b.Fatal(err)
			}
			if confirmed != 10 {
				b.Errorf("%d payments confirmed after the catch-up, want 10", confirmed)
			}
			// ⌈10,000 / range⌉ eth_getLogs + eth_blockNumber + one batch.
			if want := int(outage/maxRange) + 2; calls != want*ops {
				b.Errorf("%d calls in %d catch-ups, want %d each", calls, ops, want)
			}
			b.ReportMetric(float64(outage)*float64(ops)/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(float64(calls)/float64(ops), "calls/catch-up")
		})
	}
}

// BenchmarkEVMDetection is the latency of a USDC payment through the real
// loops: the watcher's Run at the default poll interval (2 s for a chain
// without a known block time), and the webhook dispatcher's Run with its
// defaults posting to a local HTTP receiver. 50 sessions are paid one by
// one (one block each, 0.3 poll intervals apart, so blocks land at every
// point of the cycle); for each, the time from its block being mined to
// the payment's confirmed_at in the database (1 confirmation required) and
// to the webhook's arrival. One op is the whole run; p50/p99 are metrics.
func BenchmarkEVMDetection(b *testing.B) {
	const payments = 50
	sim := evmsim.StartT(b)
	for b.Loop() {
		c := newBenchChain(b, sim, nil)
		interval := c.cfg.DefaultPollInterval()
		open := c.openSessions(b, payments, 1)
		var mu sync.Mutex
		arrived := map[string]time.Time{}
		done := make(chan struct{})
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			for _, p := range open {
				if _, ok := arrived[p.ID]; !ok && strings.Contains(string(body), p.ID) {
					arrived[p.ID] = now
					if len(arrived) == payments {
						close(done)
					}
				}
			}
			mu.Unlock()
		}))
		url := recv.URL + "/hook"
		events := []string{models.EventPaymentConfirmed}
		policy := &netguard.Policy{AllowPrivate: true}
		if _, _, err := c.store.CreateWebhook(c.ctx, c.m.ID, models.WebhookInput{URL: &url, Events: &events}, policy); err != nil {
			b.Fatal(err)
		}
		ctx, stop := context.WithCancel(c.ctx)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _ = c.w.Run(ctx) }()
		go func() {
			defer wg.Done()
			_ = (&webhooks.Dispatcher{Store: c.store, Policy: policy, Log: c.w.Log}).Run(ctx)
		}()
		mined := map[string]time.Time{}
		for i, p := range open {
			if i > 0 {
				time.Sleep(interval * 3 / 10) // pacing the customers, not waiting for a result
			}
			if _, err := sim.Pay(common.HexToAddress(p.PayAddress), big.NewInt(p.AmountExpected)); err != nil {
				b.Fatal(err)
			}
			mined[p.ID] = time.Now()
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			mu.Lock()
			b.Fatalf("%d of %d webhooks arrived within a minute of the last payment", len(arrived), payments)
		}
		stop()
		wg.Wait()
		recv.Close()
		var confirmed, hooked []time.Duration
		for _, p := range open {
			var got models.Payment
			if err := c.store.DB().W(c.ctx).Where("id = ?", p.ID).Take(&got).Error; err != nil {
				b.Fatal(err)
			}
			if got.Status != models.StatusConfirmed || got.ConfirmedAt == nil {
				b.Fatalf("payment %s is %s, want confirmed", p.ID, got.Status)
			}
			confirmed = append(confirmed, got.ConfirmedAt.Sub(mined[p.ID]))
			hooked = append(hooked, arrived[p.ID].Sub(mined[p.ID]))
		}
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(percentile(confirmed, 50).Seconds(), "confirmed-p50-s")
		b.ReportMetric(percentile(confirmed, 99).Seconds(), "confirmed-p99-s")
		b.ReportMetric(percentile(hooked, 50).Seconds(), "webhook-p50-s")
		b.ReportMetric(percentile(hooked, 99).Seconds(), "webhook-p99-s")
		b.ReportMetric(interval.Seconds(), "poll-s")
	}
}

// percentile is the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}
