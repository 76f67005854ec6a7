package webhooks_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/workers/webhooks"
)

// helperEnv names the database a helper dispatcher process serves.
const helperEnv = "TILL_WEBHOOK_HELPER_DB"

// TestMain doubles as a dispatcher process for TestKilledDispatcherProcess:
// started with TILL_WEBHOOK_HELPER_DB set, the test binary runs one
// dispatcher on that database until it is killed.
func TestMain(m *testing.M) {
	if url := os.Getenv(helperEnv); url != "" {
		os.Exit(runHelperDispatcher(url))
	}
	os.Exit(m.Run())
}

func runHelperDispatcher(url string) int {
	ctx := context.Background()
	db, err := models.Open(ctx, url, nil)
	if err != nil {
		return 2
	}
	sealer, err := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
	if err != nil {
		return 2
	}
	d := &webhooks.Dispatcher{
		Store: models.NewStore(db, models.StoreOptions{Sealer: sealer, BcryptCost: 4}), Policy: allowPrivate(),
		Interval: 5 * time.Millisecond, Timeout: time.Minute, Lease: time.Minute,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	_ = d.Run(ctx) // until SIGKILL
	return 0
}

// TestKilledDispatcherProcess kills (SIGKILL) a dispatcher process while
// its request is in flight, before it can record anything. The delivery
// stays leased until the lease runs out, then another dispatcher sends it:
// nothing is lost, and the receiver can tell the two sends apart only by
// timestamp (same delivery id, event id, body and signature).
func TestKilledDispatcherProcess(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Microsecond)
	clk := &fakeClock{t: start} // the helper process runs on the real clock
	url, stores := storesOnOneDatabase(t, 1, clk)
	e := setupEnv(t, stores[0], clk)
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			arrived <- struct{}{}
			<-r.Context().Done() // held until the process dies and its connection drops
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep, _ := e.endpoint(rc.URL)
	e.confirm(e.payment("Ann", `{"orderId":"k-1"}`))

	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+url)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	select {
	case <-arrived:
	case <-time.After(60 * time.Second):
		t.Fatalf("the helper dispatcher never sent the delivery; its output:\n%s", out.String())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true

	rec := e.deliveries(ep)[0]
	if rec.Status != models.DeliveryPending || rec.Attempts != 0 || len(rec.AttemptLog) != 0 || rec.LockedUntil == nil {
		t.Fatalf("after the kill: %+v", rec.WebhookDelivery)
	}
	// Until the dead process's lease runs out nobody sends it again…
	d := e.dispatcher()
	clk.Add(rec.LockedUntil.Sub(clk.Now()) - time.Second)
	if n := e.deliverDue(d); n != 0 {
		t.Fatal("sent while the dead dispatcher's lease held")
	}
	// …and then the next dispatcher does.
	clk.Add(2 * time.Second)
	if n := e.deliverDue(d); n != 1 {
		t.Fatalf("after the lease ran out: sent %d", n)
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(reqs))
	}
	for _, h := range []string{"X-KasPay-Delivery", "X-KasPay-Event-Id", "X-KasPay-Signature"} {
		if reqs[0].Header.Get(h) != reqs[1].Header.Get(h) {
			t.Errorf("%s differs between the killed send and the resend", h)
		}
	}
	if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Error("the resend's body differs")
	}
	if rec := e.deliveries(ep)[0]; rec.Status != models.DeliveryDelivered || rec.Attempts != 1 || rec.LockedUntil != nil {
		t.Fatalf("final: %+v", rec.WebhookDelivery)
	}
}
