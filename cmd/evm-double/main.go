// Command evm-double runs a local EVM chain for development: go-ethereum's simulated backend
// (till/workers/evm/evmsim, chain ID 1337) with a 6-decimal MockUSDC standing in for USDC, a funded payer, and
// a block mined every -block-time. JSON-RPC is served at / and a control API beside it:
//
//	GET  /_double          {"rpcUrl", "chainId": 1337, "usdc": "0x…", "head": n}
//	POST /_double/pay      {"to": "0x…", "amount": "12.345678"} → {"txHash", "blockNumber"} (mined at once)
//	POST /_double/mine     {"blocks": n} → {"head"}
//	POST /_double/reorg    {"depth": n} → {"head"} (drops the last n blocks, mines n empty ones; the first 3
//	                       blocks, which deploy and mint the token, stay)
//	GET  /_double/calls    {"requests": n, "calls": {"eth_blockNumber": n, …}}: JSON-RPC received since start or
//	                       the last reset (each batch element counts as a call)
//	POST /_double/calls/reset
//
// Flags (each also readable from the environment variable in brackets):
//
//	-addr        listen address (EVM_DOUBLE_ADDR, default 127.0.0.1:8545)
//	-block-time  mine a block this often; 0 mines only on request (EVM_DOUBLE_BLOCK_TIME, default 1s)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/shopspring/decimal"

	"till/workers/evm/evmsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "evm-double:", err)
		stop()
		os.Exit(1)
	}
}

// run serves until ctx is cancelled, then shuts down. ready, when set, receives the base URL once listening.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(string)) error {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("evm-double", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("EVM_DOUBLE_ADDR", "127.0.0.1:8545"), "listen address")
	blockTimeText := fs.String("block-time", env("EVM_DOUBLE_BLOCK_TIME", "1s"), "mine a block this often (0: only on request)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	blockTime, err := time.ParseDuration(*blockTimeText)
	if err != nil || blockTime < 0 {
		return fmt.Errorf("-block-time %q: want a duration such as 1s, or 0", *blockTimeText)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	sim, err := evmsim.Start(evmsim.Options{})
	if err != nil {
		return err
	}
	defer sim.Close()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	log.Info("evm double listening", slog.String("rpc_url", base), slog.Int("chain_id", evmsim.ChainID),
		slog.String("usdc", sim.USDC().Hex()), slog.Duration("block_time", blockTime),
		slog.String("control", base+"/_double"))
	fmt.Fprintf(stderr, "curl -X POST %s/_double/pay -d '{\"to\":\"0x…\",\"amount\":\"12.345678\"}'\n", base)

	handler, err := newHandler(sim)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if blockTime > 0 {
		go autoMine(ctx, sim, blockTime, log)
	}
	if ready != nil {
		ready(base)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
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

func autoMine(ctx context.Context, sim *evmsim.Sim, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := sim.Mine(1); err != nil {
				log.Error("mine", slog.Any("err", err))
				return
			}
		}
	}
}

// newHandler serves the chain's JSON-RPC at / (proxied to the node) and the control API under /_double.
func newHandler(sim *evmsim.Sim) (http.Handler, error) {
	target, err := url.Parse(sim.URL())
	if err != nil {
		return nil, err
	}
	rpcProxy := httputil.NewSingleHostReverseProxy(target)
	counter := &rpcCounter{calls: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("/", counter.wrap(rpcProxy))
	mux.HandleFunc("GET /_double/calls", func(w http.ResponseWriter, r *http.Request) {
		requests, calls := counter.snapshot()
		writeJSON(w, map[string]any{"requests": requests, "calls": calls})
	})
	mux.HandleFunc("POST /_double/calls/reset", func(w http.ResponseWriter, r *http.Request) {
		counter.reset()
		writeJSON(w, map[string]any{})
	})
	mux.HandleFunc("GET /_double", func(w http.ResponseWriter, r *http.Request) {
		head, err := sim.Head()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, map[string]any{
			"rpcUrl": "http://" + r.Host + "/", "chainId": evmsim.ChainID, "usdc": sim.USDC().Hex(), "head": head.Number,
		})
	})
	mux.HandleFunc("POST /_double/pay", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			To     string `json:"to"`
			Amount string `json:"amount"`
		}
		if err := decode(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if !common.IsHexAddress(req.To) || len(req.To) != 42 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("to %q: want 0x and 40 hex digits", req.To))
			return
		}
		units, err := parseUSDC(req.Amount)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		tx, err := sim.Pay(common.HexToAddress(req.To), units)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, map[string]any{"txHash": tx.Hash.Hex(), "blockNumber": tx.BlockNumber})
	})
	mux.HandleFunc("POST /_double/mine", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Blocks int `json:"blocks"`
		}
		if err := decode(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		if req.Blocks < 1 || req.Blocks > 10_000 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("blocks %d: want 1 to 10000", req.Blocks))
			return
		}
		head, err := sim.Mine(req.Blocks)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, map[string]any{"head": head})
	})
	mux.HandleFunc("POST /_double/reorg", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Depth int `json:"depth"`
		}
		if err := decode(r, &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		head, err := sim.Head()
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		if req.Depth < 1 || uint64(req.Depth) > head.Number-evmsim.SetupBlocks {
			writeError(w, http.StatusBadRequest, fmt.Errorf("depth %d: want 1 to %d (the token's blocks stay)", req.Depth, head.Number-evmsim.SetupBlocks))
			return
		}
		if err := sim.Reorg(req.Depth); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		writeJSON(w, map[string]any{"head": head.Number})
	})
	return mux, nil
}

// rpcCounter counts the JSON-RPC requests and calls per method that reach the node, so a benchmark can tell
// how many chain calls a workload caused.
type rpcCounter struct {
	mu       sync.Mutex
	requests int
	calls    map[string]int
}

func (c *rpcCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var batch []struct{ Method string }
		if err := json.Unmarshal(body, &batch); err != nil {
			var one struct{ Method string }
			_ = json.Unmarshal(body, &one)
			batch = append(batch[:0], one)
		}
		c.mu.Lock()
		c.requests++
		for _, call := range batch {
			c.calls[call.Method]++
		}
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (c *rpcCounter) snapshot() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, maps.Clone(c.calls)
}

func (c *rpcCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests, c.calls = 0, map[string]int{}
}

// parseUSDC reads a positive decimal USDC amount exactly into micro-USDC (at most 6 decimal places).
func parseUSDC(s string) (*big.Int, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return nil, fmt.Errorf("amount %q: want a decimal such as 12.345678", s)
	}
	units := d.Shift(6)
	if !units.IsInteger() {
		return nil, fmt.Errorf("amount %q: USDC has 6 decimal places", s)
	}
	if units.Sign() <= 0 {
		return nil, fmt.Errorf("amount %q: must be positive", s)
	}
	return units.BigInt(), nil
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
