// Package evm holds the pure values Till needs to take USDC on EVM chains:
// addresses (EIP-55), the built-in chain table with its native USDC
// contracts, the per-chain configuration type, EIP-681 payment URIs and
// exact micro-USDC amounts.
//
// Nothing here performs I/O or touches the database; the JSON-RPC client
// and the watcher live in workers/evm. Keccak-256 comes from
// golang.org/x/crypto/sha3 so this package stays light (go-ethereum is not
// needed to check a checksum).
package evm
