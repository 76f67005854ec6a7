package evm

import (
	"strings"
	"testing"
	"time"
)

// nativeUSDC is research/evm.md §5, copied as text: each must pass EIP-55
// and be the table's USDC for its chain.
var nativeUSDC = []struct {
	name    string
	chainID uint64
	usdc    string
	domain  uint32
	testnet bool
}{
	{"ethereum", 1, "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 0, false},
	{"base", 8453, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", 6, false},
	{"arbitrum", 42161, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", 3, false},
	{"optimism", 10, "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", 2, false},
	{"polygon", 137, "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", 7, false},
	{"sepolia", 11155111, "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238", 0, true},
	{"base-sepolia", 84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e", 6, true},
	{"arbitrum-sepolia", 421614, "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d", 3, true},
	{"optimism-sepolia", 11155420, "0x5fd84259d66Cd46123540766Be93DFE6D43130D7", 2, true},
	{"polygon-amoy", 80002, "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582", 7, true},
}

// bridged are the look-alikes of research/evm.md §5, as text.
var bridged = []string{
	"0xFF970A61A04b1cA14834A43f5dE4533eBDDB5CC8", // Arbitrum USDC.e
	"0x7F5c764cBc14f9669B88837ca1490cCa17c31607", // OP USDC.e
	"0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174", // Polygon USDC.e
	"0xd9aAEc86B65D86f6A7B5B1b0c42FFA531710b6CA", // Base USDbC
}

func TestBuiltinTable(t *testing.T) {
	if got := strings.Join(BuiltinNames(), ","); got != "ethereum,base,arbitrum,optimism,polygon,sepolia,base-sepolia,arbitrum-sepolia,optimism-sepolia,polygon-amoy" {
		t.Fatalf("names %s", got)
	}
	for _, want := range nativeUSDC {
		t.Run(want.name, func(t *testing.T) {
			a, err := ParseAddress(want.usdc, Strict)
			if err != nil {
				t.Fatalf("USDC address fails EIP-55: %v", err)
			}
			c, ok := Builtin(want.name)
			if !ok {
				t.Fatal("missing")
			}
			if c.ChainID != want.chainID || c.USDC != a || c.USDC.Hex() != want.usdc || c.Testnet != want.testnet ||
				!c.HasCCTP || c.CCTPDomain != want.domain {
				t.Fatalf("got %+v", c)
			}
			if byID, ok := BuiltinByID(want.chainID); !ok || byID.Name != want.name {
				t.Fatalf("BuiltinByID(%d) = %v %v", want.chainID, byID.Name, ok)
			}
			if !ValidChainName(c.Name) || c.DisplayName == "" || c.Confirmations == 0 || c.BlockTime <= 0 ||
				!strings.HasPrefix(c.Explorer, "https://") || strings.HasSuffix(c.Explorer, "/") {
				t.Fatalf("incomplete row %+v", c)
			}
			for _, b := range bridged {
				if strings.EqualFold(c.USDC.Lower(), b) {
					t.Fatalf("configured USDC is the bridged look-alike %s", b)
				}
			}
		})
	}
	if len(Builtins()) != len(nativeUSDC) {
		t.Fatalf("table has %d chains, the test %d", len(Builtins()), len(nativeUSDC))
	}
	// Builtins returns a copy: changing it does not change the table.
	bs := Builtins()
	bs[0].Confirmations = 1
	if c, _ := Builtin("ethereum"); c.Confirmations != confEthereum {
		t.Fatal("Builtins exposed the table")
	}
	if _, ok := Builtin("Base"); ok {
		t.Fatal("names are exact and lower-case")
	}
	if _, ok := BuiltinByID(1337); ok {
		t.Fatal("1337 is not built in")
	}
}

func TestBridgedLookalikes(t *testing.T) {
	if len(BridgedUSDC) != len(bridged) {
		t.Fatalf("BridgedUSDC has %d entries", len(BridgedUSDC))
	}
	for _, s := range bridged {
		a, err := ParseAddress(s, Strict)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if BridgedUSDC[a] == "" {
			t.Fatalf("%s not listed", s)
		}
	}
}

func TestDefaultConfirmationsAndPolling(t *testing.T) {
	cases := []struct {
		name string
		conf uint64
		poll time.Duration
	}{
		{"ethereum", 12, 12 * time.Second},
		{"base", 60, 2 * time.Second},
		{"optimism", 60, 2 * time.Second},
		{"arbitrum", 480, 2 * time.Second}, // 0.25 s blocks, floored
		{"polygon", 128, 2 * time.Second},
		{"sepolia", 3, 12 * time.Second},
	}
	for _, tc := range cases {
		c, _ := Builtin(tc.name)
		if c.Confirmations != tc.conf || c.DefaultPollInterval() != tc.poll {
			t.Errorf("%s: confirmations %d poll %s, want %d %s", tc.name, c.Confirmations, c.DefaultPollInterval(), tc.conf, tc.poll)
		}
	}
	if p := (Chain{Name: "local"}).DefaultPollInterval(); p != MinPollInterval {
		t.Errorf("local chain poll %s", p)
	}
	// Every mainnet waits at least about two minutes of blocks.
	for _, c := range Builtins() {
		if wait := time.Duration(c.Confirmations) * c.BlockTime; !c.Testnet && wait < 2*time.Minute {
			t.Errorf("%s confirms after %s only", c.Name, wait)
		}
	}
}

func TestExplorerURLs(t *testing.T) {
	base, _ := Builtin("base")
	recv := MustParseAddress("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
	tx := "0xABCDEF0000000000000000000000000000000000000000000000000000000001"
	cases := []struct{ got, want string }{
		{base.TxURL(tx), "https://basescan.org/tx/0xabcdef0000000000000000000000000000000000000000000000000000000001"},
		{base.AddressURL(recv), "https://basescan.org/address/0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"},
		{base.TokenURL(), "https://basescan.org/token/0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"},
		{base.TxURL(""), ""},
	}
	for _, c := range Builtins() {
		cases = append(cases, struct{ got, want string }{c.TxURL("0x01"), c.Explorer + "/tx/0x01"})
	}
	local := Chain{Name: "local", USDC: recv}
	cases = append(cases,
		struct{ got, want string }{local.TxURL(tx), ""},
		struct{ got, want string }{local.AddressURL(recv), ""},
		struct{ got, want string }{local.TokenURL(), ""})
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestValidChainName(t *testing.T) {
	for name, want := range map[string]bool{
		"base": true, "base-sepolia": true, "local": true, "l2": true, "a": true,
		"": false, "Base": false, "base_sepolia": false, "2chain": false, "-x": false, "base sepolia": false,
		strings.Repeat("a", 32): true, strings.Repeat("a", 33): false,
	} {
		if ValidChainName(name) != want {
			t.Errorf("ValidChainName(%q) != %v", name, want)
		}
	}
}

func TestParseFinality(t *testing.T) {
	for _, s := range []string{"depth", "safe", "finalized"} {
		if f, err := ParseFinality(s); err != nil || string(f) != s {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"", "Finalized", "latest", "final"} {
		if _, err := ParseFinality(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
