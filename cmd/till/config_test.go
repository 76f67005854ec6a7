package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/models/kaspa"
	"till/models/modeltest"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":3000" || c.BaseURL != "http://localhost:3000" || c.DatabaseURL != "sqlite://data/till.db" ||
		c.KaspaNetwork != kaspa.Mainnet || c.KaspaAPIURL != "https://api.kaspa.org" ||
		c.PriceAPIURL != "https://api.coingecko.com/api/v3" || c.PollInterval != 2*time.Second || c.WebhookAllowPrivate {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = LoadConfig(env("TILL_KASPA_NETWORK", "testnet-10"))
	if err != nil || c.KaspaAPIURL != "https://api-tn10.kaspa.org" {
		t.Fatalf("testnet default API: %v %v", c, err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, key, value, want string
	}{
		{"addr", "TILL_ADDR", "3000", "TILL_ADDR"},
		{"base url scheme", "TILL_BASE_URL", "ftp://x", "TILL_BASE_URL"},
		{"base url relative", "TILL_BASE_URL", "/pay", "TILL_BASE_URL"},
		{"database", "TILL_DATABASE_URL", "mysql://x", "must start with sqlite:// or postgres://"},
		{"network", "TILL_KASPA_NETWORK", "testnet-11", "must be mainnet or testnet-10"},
		{"kaspa api", "TILL_KASPA_API_URL", "api.kaspa.org", "TILL_KASPA_API_URL"},
		{"price api", "TILL_PRICE_API_URL", "nope", "TILL_PRICE_API_URL"},
		{"poll interval", "TILL_POLL_INTERVAL", "fast", "TILL_POLL_INTERVAL"},
		{"poll interval too small", "TILL_POLL_INTERVAL", "1ms", "between"},
		{"allow private", "TILL_WEBHOOK_ALLOW_PRIVATE", "maybe", "must be true or false"},
		{"secret short", "TILL_SECRET", "short", "at least 32 characters"},
		{"proxies", "TILL_TRUSTED_PROXIES", "10.0.0.0/8,banana", "TILL_TRUSTED_PROXIES"},
		{"log level", "TILL_LOG_LEVEL", "loud", "TILL_LOG_LEVEL"},
		{"session rate limit", "TILL_SESSION_RATE_LIMIT", "0", "per client IP per minute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(env(tc.key, tc.value))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q must be one line naming %s and saying %q", msg, tc.key, tc.want)
			}
			if tc.key == "TILL_SECRET" && strings.Contains(msg, tc.value) {
				t.Fatal("the secret value was echoed")
			}
		})
	}
}

func TestSecretGeneratedOnce(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadConfig(env("TILL_DATA_DIR", dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadOrCreateSecret(); err != nil || !c.SecretGenerated || len(c.Secret) < 32 {
		t.Fatalf("generate: %v %+v", err, c)
	}
	info, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", info, err)
	}
	c2, _ := LoadConfig(env("TILL_DATA_DIR", dir))
	if err := c2.LoadOrCreateSecret(); err != nil || c2.SecretGenerated || string(c2.Secret) != string(c.Secret) {
		t.Fatalf("second start must reuse the secret: %v", err)
	}
}

func TestRunVersionAndUnknown(t *testing.T) {
	if err := run(context.Background(), []string{"version"}, env(), os.Stderr); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, env(), os.Stderr); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("err = %v", err)
	}
	if err := run(context.Background(), []string{"migrate"}, env("TILL_POLL_INTERVAL", "soon"), os.Stderr); err == nil || !strings.Contains(err.Error(), "TILL_POLL_INTERVAL") {
		t.Fatalf("a bad value must stop start-up: %v", err)
	}
}

func TestMigrateCommand(t *testing.T) {
	dbURL := modeltest.URL(t)
	if modeltest.Engine() == models.SQLite {
		dbURL = "sqlite://" + filepath.Join(t.TempDir(), "sub", "till.db") // the folder is created
	}
	for i := 0; i < 2; i++ { // the second run finds nothing pending and succeeds
		if err := run(context.Background(), []string{"migrate"}, env("TILL_DATABASE_URL", dbURL), io.Discard); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
	}
	db, err := models.Open(context.Background(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if pending, err := db.PendingMigrations(context.Background()); err != nil || len(pending) != 0 {
		t.Fatalf("pending after migrate: %v %v", pending, err)
	}
}

// TestServeAndGracefulShutdown starts `till serve` on a free port, waits for
// /readyz, then cancels the context as SIGTERM would and expects a clean exit.
func TestServeAndGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, env("TILL_ADDR", addr, "TILL_DATABASE_URL", modeltest.URL(t),
			"TILL_DATA_DIR", t.TempDir(), "TILL_LOG_LEVEL", "error"), io.Discard)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
