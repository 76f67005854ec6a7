package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"till/models"
	"till/models/kaspa"
	"till/models/modeltest"
	"till/workers/kaspa/double"
)

// TestScaleOut runs several real `till serve` processes on one database
// (three on Postgres; one on SQLite, which serves a single process) against
// the Kaspa double and a local EVM chain (the cmd/evm-double binary, mining
// only on request), pays every KAS and USDC session, stops the first process
// half way, and checks that each payment is confirmed exactly once and each
// event is delivered exactly once to the webhook endpoint (DESIGN.md §9).
func TestScaleOut(t *testing.T) {
	dir := t.TempDir()
	bin, evmBin := filepath.Join(dir, "till"), filepath.Join(dir, "evm-double")
	builds := map[string]*exec.Cmd{}
	for out, pkg := range map[string]string{bin: ".", evmBin: "../evm-double"} {
		build := exec.Command("go", "build", "-o", out, pkg) // both at once: linking go-ethereum takes seconds
		build.Stderr = os.Stderr
		if err := build.Start(); err != nil {
			t.Fatal(err)
		}
		builds[pkg] = build
	}
	for pkg, build := range builds {
		if err := build.Wait(); err != nil {
			t.Fatalf("build %s: %v", pkg, err)
		}
	}
	start := time.Now()
	defer func() { t.Logf("ran in %s after the builds", time.Since(start).Round(time.Millisecond)) }()
	evmChain := startEVMDouble(t, evmBin)
	chain := double.New(double.Options{Clock: time.Now})
	chainURL, stopChain, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer stopChain()
	stopAuto := chain.AutoAdvance(20 * time.Millisecond)
	defer stopAuto()

	var mu sync.Mutex
	deliveries := map[string]int{}     // KasPay event id → deliveries received
	kiraDeliveries := map[string]int{} // KiraPay event id → deliveries received
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.URL.Path == "/kirapay" {
			kiraDeliveries[r.Header.Get("X-KiraPay-Id")]++
		} else {
			deliveries[r.Header.Get("X-KasPay-Event-Id")]++
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	dbURL := modeltest.URL(t)
	procs := 3
	if modeltest.Engine() == models.SQLite {
		procs = 1
	}
	var bases []string
	var cmds []*exec.Cmd
	for i := 0; i < procs; i++ {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve")
		cmd.Env = append(os.Environ(),
			"TILL_ADDR="+addr, "TILL_DATABASE_URL="+dbURL, "TILL_SECRET=scale-out-test-secret-0123456789abcdef",
			"TILL_KASPA_API_URL="+chainURL, "TILL_PRICE_API_URL="+chainURL+"/coingecko", "TILL_POLL_INTERVAL=200ms",
			"TILL_WEBHOOK_ALLOW_PRIVATE=true", "TILL_LOG_LEVEL=warn", "TILL_DATA_DIR="+t.TempDir(),
			"TILL_EVM_CHAINS=local", "TILL_EVM_LOCAL_RPC_URL="+evmChain.base, "TILL_EVM_LOCAL_CHAIN_ID=1337",
			"TILL_EVM_LOCAL_USDC="+evmChain.usdc, "TILL_EVM_LOCAL_CONFIRMATIONS="+strconv.Itoa(evmConfirmations),
			"TILL_EVM_LOCAL_POLL_INTERVAL=200ms",
		)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("process %s log:\n%s", addr, logs.String())
			}
		})
		base := "http://" + addr
		waitReady(t, base)
		bases = append(bases, base)
		cmds = append(cmds, cmd)
	}

	merchantAddr := "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"
	reg := call(t, "POST", bases[0]+"/api/auth/register", "", map[string]any{"email": "scale@example.com", "password": "securepassword", "name": "Scale", "kaspaAddress": merchantAddr})
	tok := reg["token"].(string)
	call(t, "PATCH", bases[len(bases)-1]+"/api/settings", tok, map[string]any{"requiredConfirmations": 20})
	link := call(t, "POST", bases[0]+"/api/links", tok, map[string]any{"title": "Scale", "amount": 1})
	usdcLink := call(t, "POST", bases[len(bases)-1]+"/api/links", tok, map[string]any{"title": "Scale USDC", "amount": 2.5,
		"currency": "USDC", "chain": "local", "receiver": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"})
	call(t, "POST", bases[0]+"/api/webhooks", tok, map[string]any{"url": receiver.URL + "/hook", "events": []string{"*"}})
	// A KiraPay endpoint of the same merchant, through the KiraPay API.
	if kira := call(t, "POST", bases[len(bases)-1]+"/api/admin/webhooks/endpoints", tok, map[string]any{"url": receiver.URL + "/kirapay"}); kira["code"] != float64(201) {
		t.Fatalf("KiraPay endpoint: %v", kira)
	}

	const n = 12
	ids := make([]string, 0, 2*n) // n KAS payments, then n USDC payments
	var usdcIDs []string
	for i := 0; i < n; i++ {
		p := call(t, "POST", bases[i%len(bases)]+"/api/payments", "", map[string]any{"paymentLinkSlug": link["slug"]})
		ids = append(ids, p["id"].(string))
		sompi, err := double.ParseKAS(p["amountExpected"].(string))
		if err != nil {
			t.Fatal(err)
		}
		chain.Pay(merchantAddr, sompi, "")
		// A USDC session on another process, paid on the EVM chain (each
		// payment is mined in its own block).
		u := call(t, "POST", bases[(i+1)%len(bases)]+"/api/payments", "", map[string]any{"paymentLinkSlug": usdcLink["slug"]})
		if u["asset"] != "USDC" || u["chain"] != "local" {
			t.Fatalf("USDC session %v", u)
		}
		usdcIDs = append(usdcIDs, u["id"].(string))
		call(t, "POST", evmChain.base+"/_double/pay", "", map[string]any{"to": u["payAddress"], "amount": u["assetAmount"]})
		if i == n/2 && len(cmds) > 1 {
			// The first process (likely the watcher's leader) stops; the
			// others take over its locks and its queue.
			_ = cmds[0].Process.Signal(syscall.SIGTERM)
			_, _ = cmds[0].Process.Wait()
			bases = bases[1:]
		}
	}

	ids = append(ids, usdcIDs...)
	// Every USDC transfer is now at least evmConfirmations deep.
	call(t, "POST", evmChain.base+"/_double/mine", "", map[string]any{"blocks": evmConfirmations})

	deadline := time.Now().Add(90 * time.Second)
	for {
		confirmed := 0
		for _, id := range ids {
			st := call(t, "GET", bases[0]+"/api/payments/"+id+"/status", "", nil)
			if st["status"] == "confirmed" {
				confirmed++
			}
		}
		mu.Lock()
		got, gotKira := len(deliveries), len(kiraDeliveries)
		mu.Unlock()
		if confirmed == len(ids) && got >= len(ids) && gotKira >= 2*len(usdcIDs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: %d of %d confirmed, %d KasPay and %d KiraPay events delivered", confirmed, len(ids), got, gotKira)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Exactly one payment.confirmed event per payment, and for USDC one
	// transaction.created and one transaction.succeeded, one delivery each
	// to the endpoint of their dialect.
	db, err := models.Open(context.Background(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := models.NewStore(db, models.StoreOptions{Network: kaspa.Mainnet})
	for i, id := range ids {
		all, err := store.EventsForPayment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var evs []models.Event
		kiraTypes := map[string]int{}
		for _, e := range all {
			if e.Dialect == models.DialectKasPay {
				evs = append(evs, e)
				continue
			}
			kiraTypes[e.Type]++
			mu.Lock()
			c := kiraDeliveries[e.ID]
			mu.Unlock()
			if c != 1 {
				t.Fatalf("KiraPay event %s (%s) delivered %d times", e.ID, e.Type, c)
			}
		}
		wantKira := map[string]int{}
		if i >= n { // the USDC payments
			wantKira = map[string]int{models.EventTransactionCreated: 1, models.EventTransactionSucceeded: 1}
		}
		if fmt.Sprint(kiraTypes) != fmt.Sprint(wantKira) {
			t.Fatalf("payment %s has KiraPay events %v, want %v", id, kiraTypes, wantKira)
		}
		if len(evs) != 1 || evs[0].Type != models.EventPaymentConfirmed {
			t.Fatalf("payment %s has events %v, want one payment.confirmed", id, evs)
		}
		p, err := store.Payment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != models.StatusConfirmed || p.AmountReceived != p.AmountExpected {
			t.Fatalf("payment %s (%s) %s, received %d of %d", id, p.Chain, p.Status, p.AmountReceived, p.AmountExpected)
		}
		mu.Lock()
		c := deliveries[evs[0].ID]
		mu.Unlock()
		if c != 1 {
			t.Fatalf("event %s delivered %d times", evs[0].ID, c)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(kiraDeliveries) != 2*len(usdcIDs) {
		t.Fatalf("KiraPay endpoint received %d distinct events, want %d", len(kiraDeliveries), 2*len(usdcIDs))
	}
}

// evmConfirmations is the local EVM chain's required depth.
const evmConfirmations = 3

// evmDouble is a running cmd/evm-double process.
type evmDouble struct {
	base string // JSON-RPC at /, controls at /_double
	usdc string // its MockUSDC contract
}

// startEVMDouble runs the evm-double binary on a free port, mining only
// when asked, until the test ends.
func startEVMDouble(t *testing.T, bin string) evmDouble {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "-addr", addr, "-block-time", "0")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("evm-double log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/_double")
		if err == nil {
			var info struct {
				ChainID uint64 `json:"chainId"`
				USDC    string `json:"usdc"`
			}
			err = json.NewDecoder(resp.Body).Decode(&info)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK && info.ChainID == 1337 && info.USDC != "" {
				return evmDouble{base: base, usdc: info.USDC}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("evm-double at %s never answered: %v\n%s", base, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", base)
}

func call(t *testing.T, method, url, token string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return out
}
