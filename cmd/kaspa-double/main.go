// Command kaspa-double runs the Kaspa REST API test double
// (till/workers/kaspa/double) as a standalone server, so Till can be run and
// clicked through locally against a fake chain that really confirms
// payments: point TILL's Kaspa API URL at it and pay invoice addresses with
// curl against the /_double/ control API.
//
// Flags (each also readable from the environment variable in brackets):
//
//	-addr          listen address (KASPA_DOUBLE_ADDR, default 127.0.0.1:18080)
//	-network       mainnet or testnet-10 (KASPA_DOUBLE_NETWORK, default mainnet)
//	-auto-advance  advance the DAG at 10 blocks/s (KASPA_DOUBLE_AUTO_ADVANCE, default true)
//	-price         KAS/USD price served by /info/price (KASPA_DOUBLE_PRICE, default 0.1)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"till/workers/kaspa/double"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kaspa-double:", err)
		stop()
		os.Exit(1)
	}
}

// run serves until ctx is cancelled (SIGINT/SIGTERM in main), then shuts
// down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	autoDef, err := strconv.ParseBool(env("KASPA_DOUBLE_AUTO_ADVANCE", "true"))
	if err != nil {
		return fmt.Errorf("KASPA_DOUBLE_AUTO_ADVANCE: %w", err)
	}
	fs := flag.NewFlagSet("kaspa-double", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("KASPA_DOUBLE_ADDR", "127.0.0.1:18080"), "listen address")
	network := fs.String("network", env("KASPA_DOUBLE_NETWORK", "mainnet"), "mainnet or testnet-10")
	auto := fs.Bool("auto-advance", autoDef, "advance the DAG in real time (10 DAA/s at 10 BPS)")
	price := fs.String("price", env("KASPA_DOUBLE_PRICE", double.DefaultPrice), "KAS/USD price (decimal)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *network != "mainnet" && *network != "testnet-10" {
		return fmt.Errorf("-network %q: want mainnet or testnet-10", *network)
	}
	if _, err := strconv.ParseFloat(*price, 64); err != nil {
		return fmt.Errorf("-price %q: want a decimal", *price)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	chain := double.New(double.Options{Network: *network, Clock: time.Now, Price: *price})
	defer chain.Close()
	if *auto {
		stop := chain.AutoAdvance(100 * time.Millisecond)
		defer stop()
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	log.Info("kaspa double listening",
		slog.String("url", url),
		slog.String("network", *network),
		slog.Bool("auto_advance", *auto),
		slog.String("control", url+"/_double"))
	example := fmt.Sprintf(`curl -X POST %s/_double/pay -d '{"address":"%s","amount":"1.5"}'`,
		ln.Addr().String(), chain.AddressFor("example"))
	log.Info("pay an address with the curl line below", slog.String("curl", example))
	fmt.Fprintln(stderr, example) // unquoted, ready to copy

	srv := &http.Server{Handler: chain.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	chain.Close() // release requests held by an injected timeout
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
