package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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
// the Kaspa double, pays every session, stops the first process half way,
// and checks that each payment is confirmed exactly once and each event is
// delivered exactly once to the webhook endpoint (DESIGN.md §9).
func TestScaleOut(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "till")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build till: %v", err)
	}
	chain := double.New(double.Options{Clock: time.Now})
	chainURL, stopChain, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer stopChain()
	stopAuto := chain.AutoAdvance(20 * time.Millisecond)
	defer stopAuto()

	var mu sync.Mutex
	deliveries := map[string]int{} // event id → deliveries received
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		deliveries[r.Header.Get("X-KasPay-Event-Id")]++
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
	call(t, "POST", bases[0]+"/api/webhooks", tok, map[string]any{"url": receiver.URL + "/hook", "events": []string{"*"}})

	const n = 12
	ids := make([]string, n)
	for i := range ids {
		p := call(t, "POST", bases[i%len(bases)]+"/api/payments", "", map[string]any{"paymentLinkSlug": link["slug"]})
		ids[i] = p["id"].(string)
		sompi, err := double.ParseKAS(p["amountExpected"].(string))
		if err != nil {
			t.Fatal(err)
		}
		chain.Pay(merchantAddr, sompi, "")
		if i == n/2 && len(cmds) > 1 {
			// The first process (likely the watcher's leader) stops; the
			// others take over its locks and its queue.
			_ = cmds[0].Process.Signal(syscall.SIGTERM)
			_, _ = cmds[0].Process.Wait()
			bases = bases[1:]
		}
	}

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
		got := len(deliveries)
		mu.Unlock()
		if confirmed == n && got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: %d of %d confirmed, %d events delivered", confirmed, n, got)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Exactly one payment.confirmed event per payment, one delivery each.
	db, err := models.Open(context.Background(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := models.NewStore(db, models.StoreOptions{Network: kaspa.Mainnet})
	for _, id := range ids {
		evs, err := store.EventsForPayment(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Type != models.EventPaymentConfirmed {
			t.Fatalf("payment %s has events %v, want one payment.confirmed", id, evs)
		}
		mu.Lock()
		c := deliveries[evs[0].ID]
		mu.Unlock()
		if c != 1 {
			t.Fatalf("event %s delivered %d times", evs[0].ID, c)
		}
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
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return out
}
