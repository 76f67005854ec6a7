package evm

import (
	"fmt"
	"time"
)

// Finality selects what confirms a transfer on a chain.
type Finality string

const (
	// FinalityDepth confirms at Chain.Confirmations blocks of depth.
	FinalityDepth Finality = "depth"
	// FinalitySafe confirms once the block is at or below the node's
	// "safe" block.
	FinalitySafe Finality = "safe"
	// FinalityFinalized confirms once the block is at or below the node's
	// "finalized" block (L1 finality on rollups).
	FinalityFinalized Finality = "finalized"
)

// ParseFinality reads "depth", "safe" or "finalized" (exact spelling).
func ParseFinality(s string) (Finality, error) {
	switch f := Finality(s); f {
	case FinalityDepth, FinalitySafe, FinalityFinalized:
		return f, nil
	}
	return "", fmt.Errorf("finality %.20q: want depth, safe or finalized", s)
}

// DefaultMaxRange is the default number of blocks per eth_getLogs call
// (public providers allow 1,000 at least on paid plans; the watcher halves
// it on a "range too large" answer).
const DefaultMaxRange = 1000

// ChainConfig is one enabled chain as configured (TILL_EVM_<NAME>_*): the
// chain's values, with the operator's overrides applied, plus how to reach
// and poll it. Chain.Confirmations is the effective depth.
type ChainConfig struct {
	Chain
	// RPCURL is the JSON-RPC endpoint (http or https). It often carries an
	// API key: log RPCHost, never this.
	RPCURL string
	// RPCHost is RPCURL's host, safe to log.
	RPCHost string
	// Finality selects depth, safe or finalized confirmation.
	Finality Finality
	// MaxRange is the largest block range of one eth_getLogs call.
	MaxRange uint64
	// PollInterval is the watcher's cycle.
	PollInterval time.Duration
	// Builtin is false for a chain outside the built-in table (a local or
	// private chain configured entirely by its variables).
	Builtin bool
}
