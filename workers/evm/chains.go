package evm

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"till/models"
	chains "till/models/evm"
	"till/workers"
)

// DefaultRecheck is how often a chain that failed its start-up check is
// checked again: a provider outage at boot must not disable a chain until
// the next restart.
const DefaultRecheck = time.Minute

// Chain states reported by Chains.Status.
const (
	StateChecking = "checking"
	StateWatching = "watching"
	StateDisabled = "disabled"
)

// ChainStatus is one chain's line in /readyz.
type ChainStatus struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Chains runs one Watcher per enabled EVM chain. Before watching, each chain
// checks that eth_chainId is its configured ID and that decimals() of its
// USDC contract is 6. A chain failing either is not watched: it logs one
// error naming the variable to fix (TILL_EVM_<NAME>_CHAIN_ID, _USDC, or
// _RPC_URL when the node cannot be reached), Status reports it disabled,
// and it is checked again every Recheck (logging again only when the reason
// changes); the other chains run meanwhile.
type Chains struct {
	Configs []chains.ChainConfig
	Store   *models.Store
	Log     *slog.Logger
	// Recheck is the wait before a failed chain is checked again
	// (default DefaultRecheck).
	Recheck time.Duration
	// ClientTimeout bounds each JSON-RPC call (default DefaultTimeout).
	ClientTimeout time.Duration
	// MaxBackoff caps a watcher's wait after failures.
	MaxBackoff time.Duration
	// Observer, when set, is told of every chain's calls, cycles and heads
	// (metrics).
	Observer workers.ChainObserver

	mu     sync.Mutex
	status map[string]ChainStatus
}

// Name identifies the worker in logs.
func (m *Chains) Name() string { return "evm-watchers" }

// Status is every configured chain's state, by name.
func (m *Chains) Status() map[string]ChainStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]ChainStatus, len(m.Configs))
	for _, c := range m.Configs {
		st, ok := m.status[c.Name]
		if !ok {
			st = ChainStatus{Status: StateChecking}
		}
		out[c.Name] = st
	}
	return out
}

func (m *Chains) set(name string, st ChainStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status == nil {
		m.status = map[string]ChainStatus{}
	}
	m.status[name] = st
}

// Run checks and watches every chain until ctx ends.
func (m *Chains) Run(ctx context.Context) error {
	if m.Log == nil {
		m.Log = slog.Default()
	}
	var wg sync.WaitGroup
	for _, c := range m.Configs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.runChain(ctx, c)
		}()
	}
	wg.Wait()
	return nil
}

func (m *Chains) runChain(ctx context.Context, c chains.ChainConfig) {
	recheck := m.Recheck
	if recheck <= 0 {
		recheck = DefaultRecheck
	}
	client, err := Dial(c.RPCURL, ClientOptions{Timeout: m.ClientTimeout, Observer: m.Observer, Chain: c.Name})
	if err != nil {
		msg := envVar(c.Name, "RPC_URL") + ": " + err.Error()
		m.set(c.Name, ChainStatus{Status: StateDisabled, Error: msg})
		m.Log.Error("evm chain "+c.Name+" disabled", slog.String("error", msg))
		return
	}
	defer client.Close()
	last := ""
	for {
		err := Check(ctx, client, c)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		m.set(c.Name, ChainStatus{Status: StateDisabled, Error: err.Error()})
		if err.Error() != last {
			m.Log.Error("evm chain "+c.Name+" disabled; checking again periodically", slog.String("error", err.Error()),
				slog.Duration("recheck", recheck))
			last = err.Error()
		}
		t := time.NewTimer(recheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	m.set(c.Name, ChainStatus{Status: StateWatching})
	m.Log.Info("evm chain "+c.Name+" watched", slog.Uint64("chain_id", c.ChainID), slog.String("usdc", c.USDC.Hex()),
		slog.String("via", c.RPCHost))
	w := &Watcher{Config: c, Client: client, Store: m.Store, Log: m.Log, MaxBackoff: m.MaxBackoff, Observer: m.Observer}
	_ = w.Run(ctx)
}

// Check verifies that the node serves chain c (eth_chainId) and that c's
// USDC contract has 6 decimals; its error names the variable to fix.
func Check(ctx context.Context, client *Client, c chains.ChainConfig) error {
	id, err := client.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("%s: node unreachable or not answering eth_chainId: %w", envVar(c.Name, "RPC_URL"), err)
	}
	if id != c.ChainID {
		return fmt.Errorf("%s: the node at %s serves chain %d, configured %d", envVar(c.Name, "CHAIN_ID"), c.RPCHost, id, c.ChainID)
	}
	dec, err := client.Decimals(ctx, common.Address(c.USDC))
	if err != nil {
		return fmt.Errorf("%s: decimals() of %s failed (not a token on chain %d?): %w", envVar(c.Name, "USDC"), c.USDC.Hex(), c.ChainID, err)
	}
	if dec != chains.USDCDecimals {
		return fmt.Errorf("%s: %s has %d decimals, USDC has %d", envVar(c.Name, "USDC"), c.USDC.Hex(), dec, chains.USDCDecimals)
	}
	return nil
}

// envVar is the configuration variable of chain name's field
// (TILL_EVM_<NAME>_<FIELD>).
func envVar(name, field string) string {
	return "TILL_EVM_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + field
}

// StoreChains is StoreOptions.EVMChains for configs, registering each
// chain's explorer.
func StoreChains(configs []chains.ChainConfig) map[string]models.EVMChain {
	out := make(map[string]models.EVMChain, len(configs))
	for _, c := range configs {
		out[c.Name] = models.EVMChain{ChainID: int64(c.ChainID), USDC: c.USDC.Lower(), Confirmations: int(c.Confirmations)} //nolint:gosec // config allows 1 to 100000 (cmd/till/config.go)
		if c.Explorer != "" {
			models.RegisterEVMExplorer(c.Name, c.Explorer+"/tx/")
		}
	}
	return out
}
