package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"till/models/modeltest"
)

func TestConfigMetricsAddr(t *testing.T) {
	c, err := LoadConfig(env())
	if err != nil || c.MetricsAddr != "" {
		t.Fatalf("metrics must be off by default: %v %q", err, c.MetricsAddr)
	}
	c, err = LoadConfig(env("TILL_METRICS_ADDR", "127.0.0.1:9100"))
	if err != nil || c.MetricsAddr != "127.0.0.1:9100" {
		t.Fatalf("metrics addr: %v %+v", err, c)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeMetricsListener starts `till serve` with TILL_METRICS_ADDR and
// scrapes /metrics from that listener, not from the app's, and sees it
// closed after shutdown.
func TestServeMetricsListener(t *testing.T) {
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, env("TILL_ADDR", addr, "TILL_METRICS_ADDR", metricsAddr,
			"TILL_DATABASE_URL", modeltest.URL(t), "TILL_DATA_DIR", t.TempDir(), "TILL_LOG_LEVEL", "error",
			"TILL_KASPA_API_URL", "http://127.0.0.1:1", "TILL_PRICE_API_URL", "http://127.0.0.1:1"), io.Discard)
	}()
	waitReady(t, "http://"+addr)
	status, body := get(t, "http://"+metricsAddr+"/metrics")
	for _, want := range []string{
		`till_http_requests_total{method="GET",route="/readyz",status="200"}`,
		`till_build_info{version="dev"} 1`,
		`go_sql_max_open_connections{db_name="write"}`,
		`till_webhook_queue_depth 0`,
	} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("metrics listener: %d, missing %s in:\n%s", status, want, body)
		}
	}
	if status, body := get(t, "http://"+addr+"/metrics"); status != http.StatusNotFound || strings.Contains(body, "till_") {
		t.Fatalf("app listener serves metrics: %d", status)
	}
	if status, _ := get(t, "http://"+metricsAddr+"/"); status != http.StatusNotFound {
		t.Fatalf("metrics listener serves more than /metrics: %d", status)
	}
	stopServe(t, cancel, done)
	if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatal("metrics still served after shutdown")
	}
}

// stopServe cancels a running `till serve` (as SIGTERM would) and expects a
// clean exit on done.
func stopServe(t *testing.T, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
}
