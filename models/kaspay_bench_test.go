package models

import "testing"

// BenchmarkKasPayCreated: presenting a new session (POST /api/payments's
// body) on each chain. A USDC session shows its receiver and token
// contract in EIP-55 form six times (evm.Address.Hex, memoized).
func BenchmarkKasPayCreated(b *testing.B) {
	for _, p := range []*Payment{
		{ID: "x", Chain: "base", PayAddress: "0x52908400098527886e0f7030069857d2e4169ee7", TokenAddress: "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913",
			AmountExpected: 10_001_234, PriceCurrency: "USDC", Status: StatusPending},
		{ID: "x", Chain: "kaspa", PayAddress: "kaspa:qypr7ayn2qjxg9q3s7l5y7g2gjz7g0z0g5y7g2gjz7g0z0g5y7g2gjz7g0z0g",
			AmountExpected: 1_000_001_234, PriceCurrency: "KAS", Status: StatusPending},
	} {
		b.Run(p.Chain, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = p.KasPayCreated()
			}
		})
	}
}
