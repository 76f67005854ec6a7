package evm

import (
	"strings"
	"time"
)

// Chain is one EVM network Till knows: its name in configuration and in
// the database (payments.chain, links.chain), its EIP-155 chain ID, the
// native USDC contract Circle issues there and Till's default depth.
type Chain struct {
	// Name is the lower-case identifier ("base", "base-sepolia", "local").
	Name string
	// DisplayName is what the checkout and dashboard show ("Base").
	DisplayName string
	// ChainID is the EIP-155 chain ID, checked against eth_chainId at start.
	ChainID uint64
	// USDC is the native USDC contract (Circle's FiatTokenProxy), the only
	// token whose Transfer logs are credited on this chain.
	USDC Address
	// Confirmations is the block depth at which a transfer is confirmed
	// (a transfer in the head block has depth 1).
	Confirmations uint64
	// BlockTime is the chain's typical block interval; the default poll
	// interval derives from it (DefaultPollInterval).
	BlockTime time.Duration
	// Explorer is the block explorer's base URL without a trailing slash,
	// or "" when there is none (a local chain).
	Explorer string
	// CCTPDomain is Circle's CCTP domain of the chain (not its chain ID);
	// meaningful only when HasCCTP.
	CCTPDomain uint32
	HasCCTP    bool
	// Testnet marks chains whose USDC has no value.
	Testnet bool
}

// Default confirmation depths (finality "depth"). A transfer is shown as
// detected at depth 1 and confirmed at these depths; each aims at a few
// minutes, beyond any reorg seen on that chain in normal operation
// (research/evm.md §4c). Merchants who want L1 finality set
// TILL_EVM_<NAME>_FINALITY=finalized instead.
//   - Ethereum: 12 blocks ≈ 2.4 min. Since the Merge reorgs deeper than one
//     or two blocks have not happened outside incidents; 12 is the figure
//     exchanges used for years (full finality is ~64–95 blocks, ~15 min).
//   - Base and OP Mainnet (2 s blocks): 60 blocks ≈ 2 min. The sequencer's
//     unsafe head only reorgs if its batch fails to reach L1.
//   - Arbitrum One (~0.25 s blocks): 480 blocks ≈ 2 min, for the same reason.
//   - Polygon PoS (2 s blocks): 128 blocks ≈ 4.3 min. Polygon had reorgs of
//     tens of blocks (157 in 2023) before milestone finality; 128 stays
//     clear of them.
//   - Testnets: their USDC is worthless and merchants try Till on them, so
//     the depths are short (≈ 30 s) to keep trials quick.
const (
	confEthereum = 12
	confOPStack  = 60
	confArbitrum = 480
	confPolygon  = 128
)

// builtinChains is the table, in the order shown to merchants (mainnets,
// then testnets). USDC addresses: research/evm.md §5 (Circle's list), each
// checked against EIP-55 by the tests.
var builtinChains = []Chain{
	{Name: "ethereum", DisplayName: "Ethereum", ChainID: 1,
		USDC: MustParseAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"), Confirmations: confEthereum,
		BlockTime: 12 * time.Second, Explorer: "https://etherscan.io", CCTPDomain: 0, HasCCTP: true},
	{Name: "base", DisplayName: "Base", ChainID: 8453,
		USDC: MustParseAddress("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"), Confirmations: confOPStack,
		BlockTime: 2 * time.Second, Explorer: "https://basescan.org", CCTPDomain: 6, HasCCTP: true},
	{Name: "arbitrum", DisplayName: "Arbitrum One", ChainID: 42161,
		USDC: MustParseAddress("0xaf88d065e77c8cC2239327C5EDb3A432268e5831"), Confirmations: confArbitrum,
		BlockTime: 250 * time.Millisecond, Explorer: "https://arbiscan.io", CCTPDomain: 3, HasCCTP: true},
	{Name: "optimism", DisplayName: "OP Mainnet", ChainID: 10,
		USDC: MustParseAddress("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85"), Confirmations: confOPStack,
		BlockTime: 2 * time.Second, Explorer: "https://optimistic.etherscan.io", CCTPDomain: 2, HasCCTP: true},
	{Name: "polygon", DisplayName: "Polygon PoS", ChainID: 137,
		USDC: MustParseAddress("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"), Confirmations: confPolygon,
		BlockTime: 2 * time.Second, Explorer: "https://polygonscan.com", CCTPDomain: 7, HasCCTP: true},
	{Name: "sepolia", DisplayName: "Ethereum Sepolia", ChainID: 11155111,
		USDC: MustParseAddress("0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238"), Confirmations: 3,
		BlockTime: 12 * time.Second, Explorer: "https://sepolia.etherscan.io", CCTPDomain: 0, HasCCTP: true, Testnet: true},
	{Name: "base-sepolia", DisplayName: "Base Sepolia", ChainID: 84532,
		USDC: MustParseAddress("0x036CbD53842c5426634e7929541eC2318f3dCF7e"), Confirmations: 15,
		BlockTime: 2 * time.Second, Explorer: "https://sepolia.basescan.org", CCTPDomain: 6, HasCCTP: true, Testnet: true},
	{Name: "arbitrum-sepolia", DisplayName: "Arbitrum Sepolia", ChainID: 421614,
		USDC: MustParseAddress("0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d"), Confirmations: 120,
		BlockTime: 250 * time.Millisecond, Explorer: "https://sepolia.arbiscan.io", CCTPDomain: 3, HasCCTP: true, Testnet: true},
	{Name: "optimism-sepolia", DisplayName: "OP Sepolia", ChainID: 11155420,
		USDC: MustParseAddress("0x5fd84259d66Cd46123540766Be93DFE6D43130D7"), Confirmations: 15,
		BlockTime: 2 * time.Second, Explorer: "https://sepolia-optimism.etherscan.io", CCTPDomain: 2, HasCCTP: true, Testnet: true},
	{Name: "polygon-amoy", DisplayName: "Polygon Amoy", ChainID: 80002,
		USDC: MustParseAddress("0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582"), Confirmations: 15,
		BlockTime: 2 * time.Second, Explorer: "https://amoy.polygonscan.com", CCTPDomain: 7, HasCCTP: true, Testnet: true},
}

// BridgedUSDC lists bridged look-alikes of USDC that customers send by
// mistake (research/evm.md §5): they are other tokens, never credited and
// refused as a chain's configured USDC.
var BridgedUSDC = map[Address]string{
	MustParseAddress("0xFF970A61A04b1cA14834A43f5dE4533eBDDB5CC8"): "USDC.e (bridged) on Arbitrum",
	MustParseAddress("0x7F5c764cBc14f9669B88837ca1490cCa17c31607"): "USDC.e (bridged) on OP Mainnet",
	MustParseAddress("0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"): "USDC.e (bridged) on Polygon PoS",
	MustParseAddress("0xd9aAEc86B65D86f6A7B5B1b0c42FFA531710b6CA"): "USDbC (bridged) on Base",
}

// Builtins returns a copy of the built-in table in display order.
func Builtins() []Chain { return append([]Chain(nil), builtinChains...) }

// Builtin returns the built-in chain called name (exact, lower-case).
func Builtin(name string) (Chain, bool) {
	for _, c := range builtinChains {
		if c.Name == name {
			return c, true
		}
	}
	return Chain{}, false
}

// BuiltinByID returns the built-in chain with EIP-155 chain ID id.
func BuiltinByID(id uint64) (Chain, bool) {
	for _, c := range builtinChains {
		if c.ChainID == id {
			return c, true
		}
	}
	return Chain{}, false
}

// BuiltinNames lists the built-in chain names in display order.
func BuiltinNames() []string {
	names := make([]string, len(builtinChains))
	for i, c := range builtinChains {
		names[i] = c.Name
	}
	return names
}

// ValidChainName reports whether name can name a chain: 1 to 32 characters
// of a-z, 0-9 and '-', starting with a letter, so that the configuration
// variable prefix derived from it (upper-cased, '-' → '_') is unique.
func ValidChainName(name string) bool {
	if name == "" || len(name) > 32 || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// MinPollInterval is the floor of the default poll interval: a faster
// chain (Arbitrum's 0.25 s blocks) is still polled at most every 2 s, as
// the Kaspa watcher is, so a free-tier RPC plan is not exhausted.
const MinPollInterval = 2 * time.Second

// DefaultPollInterval is the watcher's cycle when none is configured: one
// block time, at least MinPollInterval (and MinPollInterval for a chain
// without a known block time).
func (c Chain) DefaultPollInterval() time.Duration {
	return max(c.BlockTime, MinPollInterval)
}

// TxURL links a transaction hash on the chain's explorer, or "" when the
// chain has no explorer.
func (c Chain) TxURL(txHash string) string {
	if c.Explorer == "" || txHash == "" {
		return ""
	}
	return c.Explorer + "/tx/" + strings.ToLower(txHash)
}

// AddressURL links an address on the chain's explorer, or "".
func (c Chain) AddressURL(a Address) string {
	if c.Explorer == "" {
		return ""
	}
	return c.Explorer + "/address/" + a.Hex()
}

// TokenURL links the chain's USDC contract on its explorer, or "".
func (c Chain) TokenURL() string {
	if c.Explorer == "" {
		return ""
	}
	return c.Explorer + "/token/" + c.USDC.Hex()
}
