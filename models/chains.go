package models

import (
	"regexp"

	"till/models/kaspa"
)

// The chain seam. Payments, transfers, events and the webhook outbox are
// shared by every chain; what differs per chain is kept in this small table
// (and in the per-chain watcher halves: kaspawatch.go / kaspabacking.go for
// Kaspa, evmwatch.go for EVM chains). A chain is "kaspa" or the name of an
// EVM chain ("base", "ethereum", "sepolia", a local chain, …): every
// non-Kaspa chain pays USDC.

// ChainKaspa is the Kaspa chain's name in payments.chain and chain_states.
const ChainKaspa = chainKaspa

// Position says how a chain places a credit relative to a session's start.
type Position string

// Positions: Kaspa sessions record the virtual DAA score observed when they
// opened (payments.start_daa_score); EVM sessions the last observed head
// block (payments.start_block).
const (
	PositionDAAScore Position = "daa-score"
	PositionBlock    Position = "block"
)

// ChainParams is what a session on a chain is made of.
type ChainParams struct {
	Chain string
	// Asset is what the chain's sessions are paid in; amounts are integers
	// in its base unit (sompi for KAS, micro-USDC for USDC).
	Asset Currency
	// MinPayable is the smallest amount Till asks a customer to send.
	MinPayable int64
	// OffsetRange is the unique-amount offset range 1…OffsetRange added to
	// a shared-address session's price (below the asset's smallest
	// meaningful unit: 0.001 KAS, one cent of USDC).
	OffsetRange int64
	// Position is the scale of the session's start.
	Position Position
}

// USDC parameters: 6 decimals; at least one cent; offsets below a cent.
const (
	MinPayableMicroUSDC   = 10_000 // 0.01 USDC
	usdcUniqueOffsetRange = 9_999
)

// ParamsOf returns the parameters of chain: Kaspa's for "kaspa" (and for
// rows written before chains had names), USDC on an EVM chain otherwise.
func ParamsOf(chain string) ChainParams {
	if IsKaspa(chain) {
		return ChainParams{Chain: chainKaspa, Asset: KAS, MinPayable: MinPayableSompi,
			OffsetRange: uniqueOffsetRange, Position: PositionDAAScore}
	}
	return ChainParams{Chain: chain, Asset: USDC, MinPayable: MinPayableMicroUSDC,
		OffsetRange: usdcUniqueOffsetRange, Position: PositionBlock}
}

// IsKaspa reports whether chain is Kaspa ("" counts as Kaspa: links and
// payments made before the chain column was filled).
func IsKaspa(chain string) bool { return chain == chainKaspa || chain == "" }

// AssetOf is the currency a payment's amounts are in (its asset), KAS for
// rows without one.
func (p *Payment) AssetOf() Currency {
	if c := Currency(p.Asset); c.Valid() && c != USD {
		return c
	}
	return ParamsOf(p.Chain).Asset
}

// AssetOf is the asset a transfer moved: its chain's.
func (t *Transfer) AssetOf() Currency { return ParamsOf(t.Chain).Asset }

// FormatAsset prints base units of asset exactly, trailing zeros trimmed
// ("1.5", "0.000001"), never through a float. It is the one human-facing
// amount printer; FormatAmount8 is the KasPay API's 8-place form.
func FormatAsset(v int64, asset Currency) string { return FormatUnits(v, asset.Decimals(), 0) }

// Explorers, per chain: a transaction URL prefix by network (Kaspa) or by
// chain name (EVM chains join this table with their own explorers).
var (
	kaspaExplorers = map[string]string{
		string(kaspa.Mainnet):   "https://explorer.kaspa.org/txs/",
		string(kaspa.Testnet10): "https://explorer-tn10.kaspa.org/txs/",
	}
	// evmExplorers is filled by the EVM chain table (by chain name).
	evmExplorers = map[string]string{}
	kaspaTxID    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	evmTxHash    = regexp.MustCompile(`^0x[0-9a-f]{64}$`)
)

// RegisterEVMExplorer sets the transaction URL prefix of an EVM chain
// (e.g. "https://basescan.org/tx/"); call it at start-up only.
func RegisterEVMExplorer(chain, txPrefix string) { evmExplorers[chain] = txPrefix }

// ExplorerTxURL links a transaction on the public explorer of its chain, or
// returns "" when the chain (or Kaspa network) has no known explorer or txid
// is not a well-formed id of that chain (64 lower-case hex digits, with 0x
// on EVM chains): nothing else is ever put into the URL.
func ExplorerTxURL(chain, network, txid string) string {
	if IsKaspa(chain) {
		if base := kaspaExplorers[network]; base != "" && kaspaTxID.MatchString(txid) {
			return base + txid
		}
		return ""
	}
	if base := evmExplorers[chain]; base != "" && evmTxHash.MatchString(txid) {
		return base + txid
	}
	return ""
}

// EVMChain is what the domain needs to know of an enabled EVM chain
// (StoreOptions.EVMChains, filled from configuration).
type EVMChain struct {
	ChainID int64
	// USDC is the chain's USDC contract, lower-case hex.
	USDC string
	// Confirmations is the depth a USDC payment needs on this chain.
	Confirmations int
}

// defaultEVMConfirmations is the depth used when a chain's configuration
// gives none.
const defaultEVMConfirmations = 12
