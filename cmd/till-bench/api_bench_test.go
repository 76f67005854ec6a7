package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/web"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
	"till/workers/price"
)

// benchClients is how many keep-alive connections drive the API at once.
const benchClients = 32

// BenchmarkPayments measures the public payment API of the full Fiber
// stack over loopback TCP, with benchClients keep-alive clients, on an
// empty database and on ones prefilled with 100k and 1M past sessions, each
// with 1,000 open sessions besides:
//
//   - watcher-cycle: one Kaspa watcher cycle (those 1,000 sessions are
//     watched; the past ones must cost nothing);
//   - polls: GET /api/payments/:id/status over the 1,000 open sessions;
//   - sessions: POST /api/payments on a single-address merchant (unique amounts);
//   - sessions-per-address: the same on a merchant with a kpub (one derived
//     address per session);
//   - sessions-usdc: the same for USDC links on one EVM receiver
//     (base-sepolia enabled, its chain state seeded through the store: a
//     USDC session reads chain_states, never the chain).
//
// The HTTP ones report requests/s, p50/p99 latency seen by the client, and
// how many requests the Kaspa REST double (wired in as Till's chain API, as
// in `till serve`) received during the run: it must be 0. The load
// generator runs in the same process, so client and server share the
// machine's cores.
func BenchmarkPayments(b *testing.B) {
	for _, size := range []struct {
		name string
		rows int
	}{{"0", 0}, {"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run("rows="+size.name, func(b *testing.B) {
			f := newAPIFixture(b)
			f.prefill(b, size.rows)
			f.open = openSessions(b, f, f.slug, 1000)
			b.Run("watcher-cycle", f.benchCycle)
			b.Run("polls", f.benchPolls)
			b.Run("sessions", func(b *testing.B) { f.benchSessions(b, f.slug) })
			b.Run("sessions-per-address", func(b *testing.B) { f.benchSessions(b, f.hdSlug) })
			b.Run("sessions-usdc", func(b *testing.B) { f.benchSessions(b, f.usdcSlugs...) })
		})
	}
}

type apiFixture struct {
	env    *webtest.Env
	chain  *double.Chain
	client *kaspa.Client
	host   string
	shop   webtest.Merchant
	slug   string
	linkID string
	hdSlug string
	// usdcSlugs are USDC links of the single-address shop on one receiver,
	// one per whole-USDC price: each price has 9,999 unique offsets, so
	// several keep the random draw quick over a long run.
	usdcSlugs []string
	open      []*models.Payment // open sessions to poll
}

func newAPIFixture(b testing.TB) *apiFixture {
	b.Helper()
	chain := double.New(double.Options{Clock: time.Now})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	client := kaspa.NewClient(url, &http.Client{Timeout: 10 * time.Second})
	feed := &price.Feed{CoinGeckoURL: url + "/coingecko", Fallback: client}
	env := webtest.NewWith(b, []func(*models.StoreOptions){func(o *models.StoreOptions) { o.Rates = feed }, webtest.WithEVMChains(usdcChain)},
		func(o *web.Options) {
			o.Rates = feed
			o.Chain = &kaspa.NetworkStats{Client: client}
			o.PublicRateLimit = 1 << 30 // one IP plays every customer here
		})
	base := env.Listen()
	f := &apiFixture{env: env, chain: chain, client: client, host: strings.TrimPrefix(base, "http://")}

	f.shop = env.Register("shop@example.com", "Bench Shop", webtest.AddrA)
	link := mustJSON(b, env.Do("POST", "/api/links", map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"}, f.shop.Bearer()...))
	f.slug, f.linkID = link["slug"].(string), link["id"].(string)

	hd := env.Register("hd@example.com", "HD Shop", webtest.AddrB)
	mustJSON(b, env.Do("PATCH", "/api/settings", map[string]any{"kaspaKpub": hdKpub}, hd.Bearer()...))
	f.hdSlug = mustJSON(b, env.Do("POST", "/api/links", map[string]any{"title": "Tea", "amount": 10, "currency": "KAS"}, hd.Bearer()...))["slug"].(string)

	// One watcher cycle, as `till serve` runs at start: sessions then record
	// the chain's position.
	w := &kaspa.Watcher{Client: client, Store: env.Store}
	if _, err := w.Cycle(context.Background()); err != nil {
		b.Fatal(err)
	}

	// USDC: the EVM watcher's first observation, as the store records it
	// (no chain here: session creation reads only chain_states).
	if _, err := env.Store.ApplyEVMObservation(context.Background(), models.EVMObservation{Chain: usdcChain, ChainID: usdcChainID,
		Head: 1000, Cursor: 1000, CursorHash: "0x" + strings.Repeat("ab", 32), CursorTime: time.Now()}); err != nil {
		b.Fatal(err)
	}
	for i := range usdcPrices {
		l := mustJSON(b, env.Do("POST", "/api/links", map[string]any{"title": fmt.Sprintf("Coffee %d", i), "amount": 10 + i,
			"currency": "USDC", "chain": usdcChain, "receiver": usdcReceiver}, f.shop.Bearer()...))
		f.usdcSlugs = append(f.usdcSlugs, l["slug"].(string))
	}
	return f
}

// The USDC links of the fixture: a built-in testnet (its chain ID and
// contract from the table), one EIP-55 receiver, usdcPrices prices.
const (
	usdcChain    = "base-sepolia"
	usdcChainID  = 84532
	usdcReceiver = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	usdcPrices   = 10
)

func mustJSON(b testing.TB, r webtest.Response) map[string]any {
	b.Helper()
	if r.Status != http.StatusOK {
		b.Fatalf("status %d: %s", r.Status, r.Body)
	}
	return r.JSON(b)
}

// prefill inserts rows past sessions of the single-address shop with SQL
// (pastPaymentsSQL, shared with till-bench prefill): a year of history, 70%
// confirmed and 30% expired long ago, all on the same address and link.
func (f *apiFixture) prefill(b *testing.B, rows int) {
	b.Helper()
	if rows == 0 {
		return
	}
	ctx := context.Background()
	start := time.Now()
	db := f.env.Store.DB().W(ctx)
	postgres := modeltest.Engine() == models.Postgres
	q, args := pastPaymentsSQL(postgres, pastRows{MerchantID: f.shop.ID, LinkID: f.linkID, Address: webtest.AddrA,
		Amount: 10 * models.SompiPerKAS, Rows: rows})
	err := db.Exec(q, args...).Error
	if err == nil {
		err = db.Exec(afterBulkSQL(postgres)).Error
	}
	if err != nil {
		b.Fatalf("prefill %d rows: %v", rows, err)
	}
	var n int64
	if err := db.Raw("SELECT COUNT(*) FROM payments").Scan(&n).Error; err != nil || n < int64(rows) {
		b.Fatalf("prefill: %d rows (%v)", n, err)
	}
	b.Logf("prefilled %d payments in %s", rows, time.Since(start).Round(time.Millisecond))
}

// benchSessions opens sessions on the link slugs, round-robin; one op is
// one session.
func (f *apiFixture) benchSessions(b *testing.B, slugs ...string) {
	reqs := make([][]byte, len(slugs))
	for i, slug := range slugs {
		reqs[i] = RawRequest("POST", f.host, "/api/payments", []byte(fmt.Sprintf(`{"paymentLinkSlug":%q}`, slug)))
	}
	f.run(b, "sessions/s", &Load{
		Addr: f.host, Clients: benchClients,
		Request: func(i int) []byte { return reqs[i%len(reqs)] },
		Check: func(status int, body []byte) error {
			if status != http.StatusOK || !strings.Contains(string(body), `"status":"pending"`) {
				return fmt.Errorf("status %d: %s", status, truncate(body, 200))
			}
			return nil
		},
	})
}

// benchPolls polls the status of the fixture's open sessions round-robin;
// one op is one poll.
func (f *apiFixture) benchPolls(b *testing.B) { f.run(b, "polls/s", f.polls()) }

// polls is the load of benchPolls: benchClients clients polling the open
// sessions' status, each answer checked to be a pending session.
func (f *apiFixture) polls() *Load {
	reqs := make([][]byte, len(f.open))
	for i, p := range f.open {
		reqs[i] = RawRequest("GET", f.host, "/api/payments/"+p.ID+"/status", nil)
	}
	return &Load{
		Addr: f.host, Clients: benchClients,
		Request: func(i int) []byte { return reqs[i%len(reqs)] },
		Check: func(status int, body []byte) error {
			if status != http.StatusOK || !strings.Contains(string(body), `"status":"pending"`) {
				return fmt.Errorf("status %d: %s", status, truncate(body, 200))
			}
			return nil
		},
	}
}

// run drives l with b.Loop after a short warm-up and reports the rate
// (unit rateUnit), latency percentiles, the chain calls made meanwhile and
// the CPU time this process spent per request (cpu-us/op: client and Till,
// and on SQLite the database too; on Postgres the server's own CPU is not
// in it). On a shared machine the CPU time is steadier than the rate.
func (f *apiFixture) run(b *testing.B, rateUnit string, l *Load) {
	if _, err := l.Run(Count(2 * benchClients)); err != nil { // open connections, warm caches
		b.Fatal(err)
	}
	f.chain.ResetCalls()
	cpu0 := processCPU()
	res, err := l.Run(b.Loop)
	if err != nil {
		b.Fatal(err)
	}
	cpu := processCPU() - cpu0
	calls := 0
	for _, n := range f.chain.Calls() {
		calls += n
	}
	if res.Errors > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", res.Errors, res.N, res.FirstErr)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(res.Rate(), rateUnit)
	b.ReportMetric(Ms(res.Percentile(50)), "p50-ms")
	b.ReportMetric(Ms(res.Percentile(99)), "p99-ms")
	b.ReportMetric(float64(calls), "chain-calls")
	if res.N > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(res.N), "cpu-us/op")
	}
	if calls != 0 {
		b.Errorf("the API made %d chain calls during the run: %v", calls, f.chain.Calls())
	}
}

// benchCycle times watcher cycles on the fixture's database; one op is one
// cycle. watched-addresses is how many addresses the cycle polled.
func (f *apiFixture) benchCycle(b *testing.B) {
	ctx := context.Background()
	w := &kaspa.Watcher{Client: f.client, Store: f.env.Store}
	if _, err := w.Cycle(ctx); err != nil {
		b.Fatal(err)
	}
	watch, err := f.env.Store.KaspaWatchList(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	f.chain.ResetCalls()
	cycles := 0
	for b.Loop() {
		if _, err := w.Cycle(ctx); err != nil {
			b.Fatal(err)
		}
		cycles++
	}
	reportCycles(b, f.chain.Calls(), cycles)
	b.ReportMetric(float64(len(watch.Addresses)), "watched-addresses")
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
