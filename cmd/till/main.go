// Command till is the Till payment gateway: `till serve` (the default) applies
// pending migrations, serves HTTP and runs the background workers; `till
// migrate` applies migrations and exits; `till backup <file>` copies a SQLite
// database while Till runs; `till version` prints the version.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"till/models"
	"till/models/netguard"
	"till/web"
	"till/web/metrics"
	"till/workers"
	evmwatch "till/workers/evm"
	"till/workers/kaspa"
	"till/workers/price"
	"till/workers/webhooks"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// SIGINT/SIGTERM cancel ctx: HTTP stops, workers stop, the database closes.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "version", "-version", "--version":
		fmt.Println("till", version)
		return nil
	case "serve", "migrate":
	case "backup":
		if len(args) != 2 || args[1] == "" {
			return errors.New("usage: till backup <new-file.db>   (SQLite only; for Postgres use pg_dump, see docs/OPERATIONS.md)")
		}
	case "help", "-h", "--help":
		fmt.Fprintln(stderr, "usage: till [serve|migrate|backup <file>|version]   (configuration comes from TILL_* environment variables; see README.md)")
		return nil
	default:
		return fmt.Errorf("till: unknown command %q (want serve, migrate, backup or version)", cmd)
	}

	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	logs := newLogBuffer(stderr)
	defer logs.Close()
	log := newLogger(cfg, logs)
	slog.SetDefault(log)

	db, err := models.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if cmd == "backup" {
		start := time.Now()
		if err := db.Backup(ctx, args[1]); err != nil {
			return err
		}
		log.Info("backup written", slog.String("file", args[1]), slog.Duration("took", time.Since(start)))
		return nil
	}
	pending, err := db.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	log.Info("database ready", slog.String("engine", string(db.Dialect)), slog.Int("migrations_applied", len(pending)))
	if cmd == "migrate" {
		return nil
	}
	return serve(ctx, cfg, db, log)
}

func serve(ctx context.Context, cfg *Config, db *models.DB, log *slog.Logger) error {
	if err := cfg.LoadOrCreateSecret(); err != nil {
		return err
	}
	if cfg.SecretGenerated {
		log.Warn("TILL_SECRET is not set: generated one and saved it; set TILL_SECRET in production and keep it safe",
			slog.String("path", cfg.SecretPath))
	}
	sealer, err := models.NewSealer(models.DeriveKey(cfg.Secret, "seal"))
	if err != nil {
		return err
	}
	chain := kaspa.NewClient(cfg.KaspaAPIURL, nil)
	rates := &price.Feed{CoinGeckoURL: cfg.PriceAPIURL, Fallback: chain}
	store := models.NewStore(db, models.StoreOptions{
		Sealer: sealer, Network: cfg.KaspaNetwork, Log: log, Rates: rates, LateWindow: cfg.LatePaymentWindow,
		EVMChains:       evmwatch.StoreChains(cfg.EVMChains),
		DefaultEVMChain: cfg.EVMDefaultChain,
	})
	evmChains := &evmwatch.Chains{Configs: cfg.EVMChains, Store: store, Log: log}
	watcher := &kaspa.Watcher{Client: chain, Store: store, Interval: cfg.PollInterval, Log: log, ReconcileEvery: 15,
		Follow: cfg.KaspaFollow}
	dispatcher := &webhooks.Dispatcher{Store: store, Policy: &netguard.Policy{AllowPrivate: cfg.WebhookAllowPrivate}, Log: log}
	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New(metrics.Options{Store: store, Prices: rates, Version: version, Log: log, Pprof: cfg.Pprof})
		chain.Observer, watcher.Observer, evmChains.Observer, dispatcher.Observer = m, m, m, m
	}
	var chainStatus func() any
	if len(cfg.EVMChains) > 0 {
		chainStatus = func() any { return evmChains.Status() }
	}

	srv := web.New(web.Options{
		Store: store, BaseURL: cfg.BaseURL, Secret: cfg.Secret, TokenTTL: cfg.TokenTTL, Log: log,
		Version: version, TrustedProxies: cfg.TrustedProxies, PublicRateLimit: cfg.SessionRateLimit,
		Rates: rates, Chain: &kaspa.NetworkStats{Client: chain},
		WebhookAllowPrivate: cfg.WebhookAllowPrivate,
		ChainStatus:         chainStatus,
		Metrics:             m,
	})
	ws := []workers.Worker{
		watcher,
		&workers.Expirer{Store: store, Interval: time.Second, Log: log},
		rates,
		dispatcher,
	}
	if cfg.Retention > 0 {
		ws = append(ws, &workers.Retention{Store: store, Keep: cfg.Retention, Log: log})
	}
	if len(cfg.EVMChains) > 0 {
		ws = append(ws, evmChains) // one watcher per enabled chain that passes its start-up check
	}
	stopMetrics, err := serveMetrics(ctx, cfg.MetricsAddr, m, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	runner := workers.NewRunner(log, ws...)
	runner.Start(ctx)

	errc := make(chan error, 1)
	go func() { errc <- srv.App.Listen(cfg.Addr) }()
	log.Info("till listening", slog.String("addr", cfg.Addr), slog.String("base_url", cfg.BaseURL),
		slog.String("kaspa_network", string(cfg.KaspaNetwork)), slog.String("version", version))
	cfg.logEVM(log)

	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("till: listen on %s: %w", cfg.Addr, err)
		}
	case <-ctx.Done():
	}
	// Shutdown order: stop taking requests, stop the workers, then the
	// deferred db.Close.
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.App.ShutdownWithContext(shutdownCtx); err != nil {
		log.Error("http shutdown", slog.Any("error", err))
	}
	if err := runner.Stop(shutdownCtx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("workers did not stop in time", slog.Any("error", err))
	}
	log.Info("stopped")
	return nil
}

// serveMetrics serves m on its own listener at addr (TILL_METRICS_ADDR),
// never on the public app; stop closes it. No addr: nothing to serve.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	if addr == "" || m == nil {
		return func() {}, nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("till: metrics listener on %s (TILL_METRICS_ADDR): %w", addr, err)
	}
	srv := m.Server()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", slog.Any("error", err))
		}
	}()
	log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
