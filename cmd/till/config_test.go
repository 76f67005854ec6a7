package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/models/evm"
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
		c.PriceAPIURL != "https://api.coingecko.com/api/v3" || c.PollInterval != 2*time.Second || c.WebhookAllowPrivate || !c.KaspaFollow {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = LoadConfig(env("TILL_KASPA_NETWORK", "testnet-10"))
	if err != nil || c.KaspaAPIURL != "https://api-tn10.kaspa.org" {
		t.Fatalf("testnet default API: %v %v", c, err)
	}
	if c, err = LoadConfig(env("TILL_KASPA_FOLLOW", "false")); err != nil || c.KaspaFollow {
		t.Fatalf("TILL_KASPA_FOLLOW=false: %v %v", c, err)
	}
}

// TestConfigRetention: TILL_RETENTION takes days (90d), Go durations, or
// 0/off to turn pruning off; the default is 90 days.
func TestConfigRetention(t *testing.T) {
	cases := []struct {
		value string
		want  time.Duration
	}{
		{"", 90 * 24 * time.Hour},
		{"90d", 90 * 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"36h", 36 * time.Hour},
		{"2160h", 90 * 24 * time.Hour},
		{"0", 0},
		{"off", 0},
		{"OFF", 0},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			c, err := LoadConfig(env("TILL_RETENTION", tc.value))
			if err != nil {
				t.Fatal(err)
			}
			if c.Retention != tc.want {
				t.Fatalf("TILL_RETENTION=%q: %s, want %s", tc.value, c.Retention, tc.want)
			}
		})
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
		{"kaspa follow", "TILL_KASPA_FOLLOW", "sometimes", "TILL_KASPA_FOLLOW"},
		{"secret short", "TILL_SECRET", "short", "at least 32 characters"},
		{"proxies", "TILL_TRUSTED_PROXIES", "10.0.0.0/8,banana", "TILL_TRUSTED_PROXIES"},
		{"log level", "TILL_LOG_LEVEL", "loud", "TILL_LOG_LEVEL"},
		{"session rate limit", "TILL_SESSION_RATE_LIMIT", "0", "per client IP per minute"},
		{"metrics addr", "TILL_METRICS_ADDR", "9100", "host:port"},
		{"metrics on the app's port", "TILL_METRICS_ADDR", "127.0.0.1:3000", "another port than TILL_ADDR"},
		{"pprof word", "TILL_PPROF", "yes", "must be true or false"},
		{"pprof without metrics", "TILL_PPROF", "true", "needs TILL_METRICS_ADDR"},
		{"retention word", "TILL_RETENTION", "forever", "number of days like 90d"},
		{"retention bare days", "TILL_RETENTION", "90", "number of days like 90d"},
		{"retention too short", "TILL_RETENTION", "30m", "from 1h"},
		{"retention zero days", "TILL_RETENTION", "0d", "0 or off"},
		{"retention negative", "TILL_RETENTION", "-5d", "TILL_RETENTION"},
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

// TestBackupCommand: `till backup <file>` copies a migrated SQLite database
// into a new file that opens with nothing pending; it needs the file name,
// and on Postgres it points at pg_dump.
func TestBackupCommand(t *testing.T) {
	dbURL := modeltest.URL(t)
	if modeltest.Engine() == models.SQLite {
		dbURL = "sqlite://" + filepath.Join(t.TempDir(), "till.db")
	}
	if err := run(context.Background(), []string{"migrate"}, env("TILL_DATABASE_URL", dbURL), io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"backup"}, env("TILL_DATABASE_URL", dbURL), io.Discard); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("backup without a file: %v", err)
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	err := run(context.Background(), []string{"backup", out}, env("TILL_DATABASE_URL", dbURL), io.Discard)
	if modeltest.Engine() == models.Postgres {
		if !errors.Is(err, models.ErrBackupPostgres) {
			t.Fatalf("postgres backup: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	db, err := models.Open(context.Background(), "sqlite://"+out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if pending, err := db.PendingMigrations(context.Background()); err != nil || len(pending) != 0 {
		t.Fatalf("pending in the backup: %v %v", pending, err)
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
	stopServe(t, cancel, done)
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("still serving after shutdown")
	}
}

func TestConfigEVMOffByDefault(t *testing.T) {
	c, err := LoadConfig(env())
	if err != nil || len(c.EVMChains) != 0 || c.EVMDefaultChain != "" {
		t.Fatalf("EVM must be off without TILL_EVM_CHAINS: %v %+v", err, c)
	}
}

func TestConfigEVMChains(t *testing.T) {
	const localUSDC = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	c, err := LoadConfig(env(
		"TILL_EVM_CHAINS", " base, base-sepolia ,local",
		"TILL_EVM_BASE_RPC_URL", "https://base-mainnet.g.alchemy.com/v2/SECRETKEY",
		"TILL_EVM_BASE_SEPOLIA_RPC_URL", "https://sepolia.base.org",
		"TILL_EVM_BASE_SEPOLIA_CONFIRMATIONS", "3",
		"TILL_EVM_BASE_SEPOLIA_FINALITY", "finalized",
		"TILL_EVM_BASE_SEPOLIA_MAX_RANGE", "10",
		"TILL_EVM_BASE_SEPOLIA_POLL_INTERVAL", "5s",
		"TILL_EVM_LOCAL_RPC_URL", "http://127.0.0.1:8545",
		"TILL_EVM_LOCAL_CHAIN_ID", "1337",
		"TILL_EVM_LOCAL_USDC", strings.ToLower(localUSDC),
		"TILL_EVM_LOCAL_CONFIRMATIONS", "2",
		"TILL_EVM_DEFAULT_CHAIN", "local",
	))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.EVMChains) != 3 || c.EVMDefaultChain != "local" {
		t.Fatalf("chains %+v default %q", c.EVMChains, c.EVMDefaultChain)
	}
	base, sep, local := c.EVMChains[0], c.EVMChains[1], c.EVMChains[2]
	// A built-in chain with only its RPC URL takes the table's values.
	if base.Name != "base" || !base.Builtin || base.ChainID != 8453 || base.USDC.Hex() != "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" ||
		base.Confirmations != 60 || base.Finality != evm.FinalityDepth || base.MaxRange != 1000 || base.PollInterval != 2*time.Second ||
		base.RPCURL != "https://base-mainnet.g.alchemy.com/v2/SECRETKEY" || base.RPCHost != "base-mainnet.g.alchemy.com" ||
		base.Explorer != "https://basescan.org" {
		t.Fatalf("base: %+v", base)
	}
	// Overrides apply.
	if sep.Name != "base-sepolia" || sep.ChainID != 84532 || sep.Confirmations != 3 || sep.Finality != evm.FinalityFinalized ||
		sep.MaxRange != 10 || sep.PollInterval != 5*time.Second {
		t.Fatalf("base-sepolia: %+v", sep)
	}
	// A local chain is entirely configured; its address is stored canonically.
	if local.Name != "local" || local.Builtin || local.ChainID != 1337 || local.USDC.Hex() != localUSDC ||
		local.Confirmations != 2 || local.Finality != evm.FinalityDepth || local.MaxRange != 1000 ||
		local.PollInterval != evm.MinPollInterval || local.Explorer != "" || local.TxURL("0x01") != "" {
		t.Fatalf("local: %+v", local)
	}

	// The default chain is the first enabled one; Ethereum polls at its block time.
	c, err = LoadConfig(env("TILL_EVM_CHAINS", "ethereum,polygon", "TILL_EVM_ETHEREUM_RPC_URL", "https://eth.example",
		"TILL_EVM_POLYGON_RPC_URL", "https://polygon.example", "TILL_EVM_ETHEREUM_CHAIN_ID", "1",
		"TILL_EVM_ETHEREUM_USDC", "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"))
	if err != nil || c.EVMDefaultChain != "ethereum" || c.EVMChains[0].PollInterval != 12*time.Second || c.EVMChains[1].Confirmations != 128 {
		t.Fatalf("defaults: %v %+v", err, c)
	}
}

func TestConfigEVMErrors(t *testing.T) {
	baseOK := []string{"TILL_EVM_CHAINS", "base", "TILL_EVM_BASE_RPC_URL", "https://mainnet.base.org"}
	localOK := []string{"TILL_EVM_CHAINS", "local", "TILL_EVM_LOCAL_RPC_URL", "http://127.0.0.1:8545", "TILL_EVM_LOCAL_CHAIN_ID", "1337",
		"TILL_EVM_LOCAL_USDC", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "TILL_EVM_LOCAL_CONFIRMATIONS", "2"}
	with := func(base []string, kv ...string) []string {
		out := append([]string(nil), base...)
		for i := 0; i+1 < len(kv); i += 2 {
			replaced := false
			for j := 0; j+1 < len(out); j += 2 {
				if out[j] == kv[i] {
					out[j+1], replaced = kv[i+1], true
				}
			}
			if !replaced {
				out = append(out, kv[i], kv[i+1])
			}
		}
		return out
	}
	cases := []struct {
		name string
		kv   []string
		key  string // the variable the one-line error must name
		want string
	}{
		{"bad name", with(baseOK, "TILL_EVM_CHAINS", "base,Base_Sepolia"), "TILL_EVM_CHAINS", `"Base_Sepolia" is not a chain name`},
		{"empty name", with(baseOK, "TILL_EVM_CHAINS", "base,"), "TILL_EVM_CHAINS", `"" is not a chain name`},
		{"duplicate", with(baseOK, "TILL_EVM_CHAINS", "base,base"), "TILL_EVM_CHAINS", "lists base twice"},
		{"bad name after a chain without variables", []string{"TILL_EVM_CHAINS", "base,Foo"}, "TILL_EVM_CHAINS", `"Foo" is not a chain name`},
		{"rpc missing", []string{"TILL_EVM_CHAINS", "base"}, "TILL_EVM_BASE_RPC_URL", "required"},
		{"rpc not http", with(baseOK, "TILL_EVM_BASE_RPC_URL", "wss://base.example/v2/KEY"), "TILL_EVM_BASE_RPC_URL", "http(s) URL"},
		{"rpc relative", with(baseOK, "TILL_EVM_BASE_RPC_URL", "base.example/v2/KEY"), "TILL_EVM_BASE_RPC_URL", "http(s) URL"},
		{"dashed name maps to underscores", []string{"TILL_EVM_CHAINS", "base-sepolia"}, "TILL_EVM_BASE_SEPOLIA_RPC_URL", "required"},
		{"builtin chain id differs", with(baseOK, "TILL_EVM_BASE_CHAIN_ID", "84532"), "TILL_EVM_BASE_CHAIN_ID", "base is chain 8453"},
		{"chain id zero", with(localOK, "TILL_EVM_LOCAL_CHAIN_ID", "0"), "TILL_EVM_LOCAL_CHAIN_ID", "positive whole number"},
		{"chain id text", with(localOK, "TILL_EVM_LOCAL_CHAIN_ID", "dev"), "TILL_EVM_LOCAL_CHAIN_ID", "positive whole number"},
		{"usdc bad checksum", with(localOK, "TILL_EVM_LOCAL_USDC", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed"), "TILL_EVM_LOCAL_USDC", "copy the address again"},
		{"usdc short", with(localOK, "TILL_EVM_LOCAL_USDC", "0x5aaeb6053f3e94c9"), "TILL_EVM_LOCAL_USDC", "40 hexadecimal characters"},
		{"usdc zero", with(localOK, "TILL_EVM_LOCAL_USDC", "0x0000000000000000000000000000000000000000"), "TILL_EVM_LOCAL_USDC", "zero address"},
		{"usdc bridged", with(baseOK, "TILL_EVM_BASE_USDC", "0xd9aAEc86B65D86f6A7B5B1b0c42FFA531710b6CA"), "TILL_EVM_BASE_USDC", "USDbC (bridged) on Base, not native USDC"},
		{"usdc bridged on local", with(localOK, "TILL_EVM_LOCAL_USDC", "0xFF970A61A04b1cA14834A43f5dE4533eBDDB5CC8"), "TILL_EVM_LOCAL_USDC", "USDC.e (bridged) on Arbitrum"},
		{"usdc other token on a mainnet", with(baseOK, "TILL_EVM_BASE_USDC", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"), "TILL_EVM_BASE_USDC", "only Circle's native USDC on base"},
		{"confirmations zero", with(baseOK, "TILL_EVM_BASE_CONFIRMATIONS", "0"), "TILL_EVM_BASE_CONFIRMATIONS", "from 1 to 100000"},
		{"confirmations negative", with(baseOK, "TILL_EVM_BASE_CONFIRMATIONS", "-3"), "TILL_EVM_BASE_CONFIRMATIONS", "from 1 to 100000"},
		{"finality", with(baseOK, "TILL_EVM_BASE_FINALITY", "latest"), "TILL_EVM_BASE_FINALITY", "depth, safe or finalized"},
		{"max range zero", with(baseOK, "TILL_EVM_BASE_MAX_RANGE", "0"), "TILL_EVM_BASE_MAX_RANGE", "eth_getLogs"},
		{"max range text", with(baseOK, "TILL_EVM_BASE_MAX_RANGE", "lots"), "TILL_EVM_BASE_MAX_RANGE", "eth_getLogs"},
		{"poll interval", with(baseOK, "TILL_EVM_BASE_POLL_INTERVAL", "1ms"), "TILL_EVM_BASE_POLL_INTERVAL", "between"},
		{"local without rpc", with(localOK, "TILL_EVM_LOCAL_RPC_URL", ""), "TILL_EVM_LOCAL_RPC_URL", "required because local is not a built-in chain"},
		{"local without chain id", with(localOK, "TILL_EVM_LOCAL_CHAIN_ID", ""), "TILL_EVM_LOCAL_CHAIN_ID", "required because local is not a built-in chain"},
		{"local without usdc", with(localOK, "TILL_EVM_LOCAL_USDC", ""), "TILL_EVM_LOCAL_USDC", "required because local is not a built-in chain"},
		{"local without confirmations", with(localOK, "TILL_EVM_LOCAL_CONFIRMATIONS", ""), "TILL_EVM_LOCAL_CONFIRMATIONS", "required because local is not a built-in chain"},
		{"same chain id twice", with(localOK, "TILL_EVM_CHAINS", "base,local", "TILL_EVM_BASE_RPC_URL", "https://mainnet.base.org", "TILL_EVM_LOCAL_CHAIN_ID", "8453"), "TILL_EVM_LOCAL_CHAIN_ID", "already enabled as base"},
		{"default not enabled", with(baseOK, "TILL_EVM_DEFAULT_CHAIN", "polygon"), "TILL_EVM_DEFAULT_CHAIN", "one of the enabled chains: base"},
		{"default with EVM off", []string{"TILL_EVM_DEFAULT_CHAIN", "base"}, "TILL_EVM_DEFAULT_CHAIN", "EVM is off"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(env(tc.kv...))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key+"=") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q must be one line naming %s and saying %q", msg, tc.key, tc.want)
			}
			if strings.Contains(msg, "KEY") {
				t.Fatalf("the RPC URL's key was echoed: %q", msg)
			}
		})
	}
}

func TestLogEVMHidesRPCKeys(t *testing.T) {
	c, err := LoadConfig(env("TILL_EVM_CHAINS", "base,sepolia", "TILL_EVM_BASE_RPC_URL", "https://user:pw@base.example/v2/SECRETKEY?k=SECRETQ",
		"TILL_EVM_SEPOLIA_RPC_URL", "https://sepolia.example"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c.logEVM(slog.New(slog.NewTextHandler(&b, nil)))
	out := b.String()
	for _, want := range []string{"evm chains enabled", "base(chain 8453, 60 confirmations, finality depth, via base.example)", "sepolia(chain 11155111", "default=base"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "SECRET") || strings.Contains(out, "pw") {
		t.Fatalf("log leaks credentials: %q", out)
	}
}
