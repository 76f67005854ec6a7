package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/workers/kaspa/double"
)

// pollInterval is TILL_POLL_INTERVAL for the server under test (the default).
const pollInterval = 2 * time.Second

// BenchmarkServe runs the real `till serve` binary (built like `make build`)
// as a child process against the Kaspa REST double, over loopback, on a
// fresh SQLite file or Postgres database:
//
//   - open=10000/…: peak and settled memory (VmHWM, VmRSS from
//     /proc/<pid>/status) with 10,000 open sessions created through its API
//     and the watcher cycling over them; also the rate of that creation and
//     a burst of status polls, with the watcher, expirer and access log on.
//     One op is one poll interval of idling with the sessions open.
//   - open=100000/prefilled: the same memory figures with 100,000 open
//     sessions on the shop's one address (one through the API, the rest
//     copies of it inserted with SQL), the chain calls per cycle, and how
//     long after a payment the status endpoint says confirming (seen-s:
//     within one poll interval plus a cycle).
//   - detection: how long after a payment reaches the double the status
//     endpoint says confirmed, with the chain at 10 blocks/s, a 2 s poll
//     interval and the default depth of 100 (bound: interval + depth/10 s +
//     1 s = 13 s). Nobody polls but the harness, every 50 ms, to time it;
//     status polls never reach the chain. One op pays 5 sessions 400 ms apart.
func BenchmarkServe(b *testing.B) {
	bin := buildTill(b)
	b.Run("open=10000/single-address", func(b *testing.B) { benchServeMemory(b, bin, false) })
	b.Run("open=10000/per-payment-address", func(b *testing.B) { benchServeMemory(b, bin, true) })
	b.Run("detection", func(b *testing.B) { benchDetection(b, bin) })
	b.Run("open=100000/prefilled", func(b *testing.B) { benchServePrefilled(b, bin, 100_000) })
}

// buildTill builds ./cmd/till as `make build` does (static, stripped).
func buildTill(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "till")
	cmd := exec.Command("go", "build", "-ldflags", "-s -w", "-o", bin, "../till")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/till: %v\n%s", err, out)
	}
	return bin
}

// tillProc is a running till serve.
type tillProc struct {
	cmd  *exec.Cmd
	base string
	host string
	log  string
	db   string // TILL_DATABASE_URL
}

// startTill starts bin serving on a free loopback port with the Kaspa API
// (and price feed) at chainURL, and waits until it answers.
func startTill(b *testing.B, bin, chainURL string) *tillProc {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "till.db")
	if modeltest.Engine() == models.Postgres {
		dbURL = modeltest.URL(b)
	}
	logPath := filepath.Join(dir, "till.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"TILL_ADDR="+host,
		"TILL_BASE_URL=http://"+host,
		"TILL_DATABASE_URL="+dbURL,
		"TILL_DATA_DIR="+dir,
		"TILL_SECRET=till-bench-secret-0123456789abcdef0123",
		"TILL_KASPA_API_URL="+chainURL,
		"TILL_PRICE_API_URL="+chainURL+"/coingecko",
		"TILL_POLL_INTERVAL="+pollInterval.String(),
		// The harness plays many customers from one loopback address; as a
		// trusted proxy it names them in X-Forwarded-For, so the per-IP
		// limit on new sessions applies per customer as it would live.
		"TILL_TRUSTED_PROXIES=127.0.0.1",
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p := &tillProc{cmd: cmd, base: "http://" + host, host: host, log: logPath, db: dbURL}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-exited:
			b.Fatalf("till exited during start-up; log:\n%s", p.tail())
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("till did not become ready; log:\n%s", p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the end of the server's log.
func (p *tillProc) tail() string {
	raw, _ := os.ReadFile(p.log)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// call sends one JSON request and decodes the JSON answer.
func (p *tillProc) call(b *testing.B, method, path, token string, body any) map[string]any {
	b.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, p.base+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s %s: status %d, %v %v", method, path, resp.StatusCode, out, err)
	}
	return out
}

// shop registers a merchant (with a kpub when perAddress) and returns a
// KAS link's slug.
func (p *tillProc) shop(b *testing.B, perAddress bool) string {
	b.Helper()
	r := p.call(b, "POST", "/api/auth/register", "", map[string]any{
		"email": "shop@example.com", "password": "correct horse battery", "name": "Bench Shop",
		"kaspaAddress": "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73",
	})
	token := r["token"].(string)
	if perAddress {
		p.call(b, "PATCH", "/api/settings", token, map[string]any{"kaspaKpub": hdKpub})
	}
	return p.call(b, "POST", "/api/links", token, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})["slug"].(string)
}

// session is what POST /api/payments answered.
type session struct {
	ID             string `json:"id"`
	KaspaAddress   string `json:"kaspaAddress"`
	AmountExpected string `json:"amountExpected"`
}

// openSessions creates n sessions on slug through the API with
// benchClients connections, each 50 from another customer address.
func (p *tillProc) openSessions(b *testing.B, slug string, n, firstCustomer int) ([]session, Result) {
	b.Helper()
	body := []byte(fmt.Sprintf(`{"paymentLinkSlug":%q}`, slug))
	var mu sync.Mutex
	out := make([]session, 0, n)
	l := &Load{Addr: p.host, Clients: benchClients,
		Request: func(i int) []byte {
			return RawRequest("POST", p.host, "/api/payments", body, "X-Forwarded-For", FakeIP(firstCustomer+i/50))
		},
		Check: func(status int, body []byte) error {
			var s session
			if status != http.StatusOK || json.Unmarshal(body, &s) != nil || s.ID == "" {
				return fmt.Errorf("status %d: %s", status, truncate(body, 200))
			}
			mu.Lock()
			out = append(out, s)
			mu.Unlock()
			return nil
		},
	}
	res, err := l.Run(Count(n))
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 {
		b.Fatalf("%d of %d sessions failed; first: %v", res.Errors, n, res.FirstErr)
	}
	return out, res
}

// memory reads VmHWM and VmRSS of pid in MiB.
func memory(pid int) (hwm, rss float64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rss, hwm, err = procMemory(raw)
	return hwm, rss, err
}

// startShop starts till serve against a Kaspa double making 10 blocks a
// second, sets up a shop (one address, or a kpub when perAddress) and
// returns once a first watcher cycle has seen the chain.
func startShop(b *testing.B, bin string, perAddress bool) (chain *double.Chain, p *tillProc, pid int, slug string) {
	b.Helper()
	chain = double.New(double.Options{Clock: time.Now})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	b.Cleanup(chain.AutoAdvance(100 * time.Millisecond)) // 10 blocks/s
	p = startTill(b, bin, url)
	slug = p.shop(b, perAddress)
	time.Sleep(pollInterval) // a first cycle has seen the chain
	return chain, p, p.cmd.Process.Pid, slug
}

func benchServeMemory(b *testing.B, bin string, perAddress bool) {
	const open = 10_000
	chain, p, pid, slug := startShop(b, bin, perAddress)

	sessions, created := p.openSessions(b, slug, open, 0)
	// A burst of customer polls over the open sessions.
	reqs := make([][]byte, 1000)
	for i := range reqs {
		reqs[i] = RawRequest("GET", p.host, "/api/payments/"+sessions[i*len(sessions)/len(reqs)].ID+"/status", nil)
	}
	polls, err := (&Load{Addr: p.host, Clients: benchClients, Request: func(i int) []byte { return reqs[i%len(reqs)] }}).Run(Until(2 * time.Second))
	if err != nil || polls.Errors > 0 {
		b.Fatalf("polls: %v %v", err, polls.FirstErr)
	}
	// Let the watcher cycle over the sessions a few times.
	chain.ResetCalls()
	time.Sleep(3 * pollInterval)
	for b.Loop() {
		time.Sleep(pollInterval)
	}
	hwm, rss, err := memory(pid)
	if err != nil {
		b.Fatal(err)
	}
	calls := chain.Calls()
	cycles := calls["GET /info/blockdag"]
	if cycles == 0 {
		b.Fatalf("the watcher made no cycle; log:\n%s", p.tail())
	}
	wantUTXO := 1
	if perAddress {
		wantUTXO = open / 1000
	}
	if got := calls["POST /addresses/utxos"]; got < cycles*wantUTXO {
		b.Fatalf("%d UTXO calls in %d cycles, want %d per cycle: the sessions are not watched? %v", got, cycles, wantUTXO, calls)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(hwm, "peak-rss-MiB")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(created.Rate(), "sessions/s")
	b.ReportMetric(Ms(created.Percentile(99)), "sessions-p99-ms")
	b.ReportMetric(polls.Rate(), "polls/s")
	b.ReportMetric(Ms(polls.Percentile(99)), "polls-p99-ms")
	b.Logf("chain calls while idling (%d cycles): %v", cycles, calls)
}

func benchDetection(b *testing.B, bin string) {
	const (
		depth = 100 // the default required confirmations
		bps   = 10
		batch = 5
	)
	chain := double.New(double.Options{Clock: time.Now, BPS: bps})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	b.Cleanup(chain.AutoAdvance(time.Second / bps))
	p := startTill(b, bin, url)
	slug := p.shop(b, false)
	time.Sleep(pollInterval) // a first cycle has seen the chain
	status := func(id string) string {
		resp, err := http.Get(p.base + "/api/payments/" + id + "/status")
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		// The stage tells confirming from awaiting payment (both "pending").
		var s struct{ Stage string }
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			b.Fatal(err)
		}
		return s.Stage
	}
	var seen, confirmed []time.Duration
	customer := 0
	for b.Loop() {
		sessions, _ := p.openSessions(b, slug, batch, customer)
		customer += batch
		paidAt := make([]time.Time, batch)
		done := make([]bool, batch)
		detected := make([]bool, batch)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		next := 0
		for left := batch; left > 0; {
			if ctx.Err() != nil {
				cancel()
				b.Fatalf("not all payments confirmed within 60 s; log:\n%s", p.tail())
			}
			if next < batch && (next == 0 || time.Since(paidAt[next-1]) >= 400*time.Millisecond) { //nolint:gosec // G602: 0 < next < batch = len(paidAt)
				sompi, err := double.ParseKAS(sessions[next].AmountExpected)
				if err != nil {
					b.Fatal(err)
				}
				chain.Pay(sessions[next].KaspaAddress, sompi, "")
				paidAt[next] = time.Now()
				next++
			}
			for i := 0; i < next; i++ {
				if done[i] {
					continue
				}
				switch st := status(sessions[i].ID); st {
				case "awaiting_payment":
				case "confirming":
					if !detected[i] {
						detected[i] = true
						seen = append(seen, time.Since(paidAt[i]))
					}
				case "confirmed":
					if !detected[i] {
						detected[i] = true
						seen = append(seen, time.Since(paidAt[i]))
					}
					done[i] = true
					confirmed = append(confirmed, time.Since(paidAt[i]))
					left--
				default:
					b.Fatalf("session %s is %s", sessions[i].ID, st)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}
	mean := func(ds []time.Duration) float64 {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum.Seconds() / float64(len(ds))
	}
	worst := 0.0
	for _, d := range confirmed {
		worst = max(worst, d.Seconds())
	}
	bound := pollInterval.Seconds() + float64(depth)/bps + 1
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(mean(seen), "seen-s")
	b.ReportMetric(mean(confirmed), "confirmed-s")
	b.ReportMetric(worst, "max-confirmed-s")
	b.ReportMetric(bound, "bound-s")
	if worst > bound {
		b.Errorf("a payment took %.1f s to confirm, over the bound of %.1f s", worst, bound)
	}
}

func benchServePrefilled(b *testing.B, bin string, open int) {
	ctx := context.Background()
	chain, p, pid, slug := startShop(b, bin, false)
	first, _ := p.openSessions(b, slug, 1, 0)
	db, err := models.Open(ctx, p.db, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	newID, seq := `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' ||
		substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`, `(WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) SELECT n FROM seq) AS s`
	if modeltest.Engine() == models.Postgres {
		newID, seq = `gen_random_uuid()::text`, `generate_series(1, ?::bigint) AS s(n)`
	}
	if err := db.W(ctx).Exec(`INSERT INTO payments (id, merchant_id, link_id, chain, asset, pay_address, amount_expected, amount_received,
	price_currency, price_amount, status, confirmations, required_confirmations, start_daa_score, tx_id, metadata,
	expires_at, created_at, updated_at)
SELECT `+newID+`, merchant_id, link_id, chain, asset, pay_address, amount_expected + s.n, 0,
	price_currency, price_amount, 'pending', 0, required_confirmations, start_daa_score, '', '{}', expires_at, created_at, updated_at
FROM payments, `+seq+` WHERE id = ?`, open-1, first[0].ID).Error; err != nil {
		b.Fatalf("prefill %d open sessions: %v", open-1, err)
	}
	// Let the watcher cycle over the sessions a few times.
	time.Sleep(3 * pollInterval)
	chain.ResetCalls()
	for b.Loop() {
		time.Sleep(pollInterval)
	}
	hwm, rss, err := memory(pid)
	if err != nil {
		b.Fatal(err)
	}
	calls := chain.Calls()
	cycles := calls["GET /info/blockdag"]
	if got := calls["POST /addresses/utxos"]; cycles == 0 || got < cycles-1 || got > cycles+1 { // ±1: a cycle under way at either end
		b.Fatalf("%d cycles, want one UTXO call each: %v; log:\n%s", cycles, calls, p.tail())
	}
	// A payment to the API's session: seen (confirming) within a poll
	// interval and the cycle's own time.
	sompi, err := double.ParseKAS(first[0].AmountExpected)
	if err != nil {
		b.Fatal(err)
	}
	chain.Pay(first[0].KaspaAddress, sompi, "")
	paid := time.Now()
	for {
		var st struct{ Stage string }
		resp, err := http.Get(p.base + "/api/payments/" + first[0].ID + "/status")
		if err != nil {
			b.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		if st.Stage != "awaiting_payment" {
			break
		}
		if time.Since(paid) > 30*time.Second {
			b.Fatalf("the payment was not seen within 30 s; log:\n%s", p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(hwm, "peak-rss-MiB")
	b.ReportMetric(rss, "rss-MiB")
	b.ReportMetric(float64(cycles), "cycles")
	b.ReportMetric(float64(calls["POST /addresses/utxos"])/float64(cycles), "utxos/cycle")
	b.ReportMetric(time.Since(paid).Seconds(), "seen-s")
}
