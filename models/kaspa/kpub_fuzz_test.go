package kaspa

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseExtendedPublicKey feeds arbitrary text to the kpub parser on
// both networks. A key it accepts serializes to the canonical kpub/ktub,
// which parses again to the same key (a fixed point), and derives receive
// addresses that the strict decoder accepts for that network and that the
// re-parsed key derives identically. A refusal wraps ErrInvalidExtendedKey
// and never echoes a key-sized input.
func FuzzParseExtendedPublicKey(f *testing.F) {
	for _, s := range []string{
		accountKpub, accountKtub, fringeKpub, golangKpub, huntKtub,
		"  " + accountKpub + "\n", // surrounding whitespace is ignored
		masterKprv, huntKtrv,      // private keys
		accountKpub[:len(accountKpub)-1] + "w", // checksum typo
		accountKpub[:60],                       // truncated
		"abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",                   // seed phrase
		"xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8", // depth 0
		"", "kpub", "0OIl", strings.Repeat("1", 300),
	} {
		f.Add(s, uint32(0), true)
		f.Add(s, uint32(1<<31-1), false)
	}
	f.Fuzz(func(t *testing.T, s string, index uint32, mainnet bool) {
		n := Testnet10
		if mainnet {
			n = Mainnet
		}
		k, err := ParseExtendedPublicKey(s, n)
		if err != nil {
			if !errors.Is(err, ErrInvalidExtendedKey) {
				t.Fatalf("ParseExtendedPublicKey(%q, %s): %v does not wrap ErrInvalidExtendedKey", s, n, err)
			}
			if key := strings.TrimSpace(s); len(key) >= 100 && !strings.ContainsAny(key, " \t\n") && strings.Contains(err.Error(), key) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if k.Network() != n {
			t.Fatalf("key parsed for %s reports %s", n, k.Network())
		}
		canon := k.String()
		if want := publicName(n); !strings.HasPrefix(canon, want) {
			t.Fatalf("String() = %q, want a %s", canon, want)
		}
		k2, err := ParseExtendedPublicKey(canon, n)
		if err != nil || k2.String() != canon {
			t.Fatalf("canonical form %q does not parse to itself: %v", canon, err)
		}

		index %= 1 << 31
		for _, i := range []uint32{0, index} {
			a, err := k.ReceiveAddress(i)
			if errors.Is(err, ErrUnusableIndex) {
				continue // probability < 2^-127
			}
			if err != nil {
				t.Fatalf("ReceiveAddress(%d): %v", i, err)
			}
			d, err := ParseAddress(a.String(), n)
			if err != nil || d.Version != VersionPubKey || len(d.Payload) != 32 {
				t.Fatalf("derived address %q does not parse as a %s pubkey address: %v", a, n, err)
			}
			b, err := k2.ReceiveAddress(i)
			if err != nil || b.String() != a.String() {
				t.Fatalf("re-parsed key derives %q at %d, want %q (%v)", b, i, a, err)
			}
		}
		if _, err := k.ReceiveAddress(1<<31 + index%(1<<31)); !errors.Is(err, ErrInvalidIndex) {
			t.Fatalf("hardened index derived: %v", err)
		}
	})
}
