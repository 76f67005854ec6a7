package evm

import "testing"

func TestPaymentURI(t *testing.T) {
	base, _ := Builtin("base")
	recv := MustParseAddress("0x54235780057cc828c92aa40e3b02053881990153")
	cases := []struct {
		name  string
		units int64
		want  string
	}{
		// research/evm.md §4g: 12.34 USDC on Base.
		{"12.34 USDC", 12_340_000, "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x54235780057CC828C92aA40e3b02053881990153&uint256=12340000"},
		{"one micro", 1, "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x54235780057CC828C92aA40e3b02053881990153&uint256=1"},
		{"large, no exponent", 4_000_000_000_000_000, "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x54235780057CC828C92aA40e3b02053881990153&uint256=4000000000000000"},
		{"open amount", 0, "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x54235780057CC828C92aA40e3b02053881990153"},
	}
	for _, tc := range cases {
		if got := PaymentURI(base.USDC, base.ChainID, recv, tc.units); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	sep, _ := Builtin("sepolia")
	if got, want := PaymentURI(sep.USDC, sep.ChainID, recv, 5), "ethereum:0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238@11155111/transfer?address=0x54235780057CC828C92aA40e3b02053881990153&uint256=5"; got != want {
		t.Errorf("sepolia: %s", got)
	}
}
