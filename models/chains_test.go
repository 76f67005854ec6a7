package models_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"till/models"
)

func TestParamsOf(t *testing.T) {
	cases := []struct {
		chain    string
		want     models.ChainParams
		lockKey  int64
		kaspaish bool
	}{
		{"kaspa", models.ChainParams{Chain: "kaspa", Asset: models.KAS, MinPayable: 20_000_000, OffsetRange: 99_999, Position: models.PositionDAAScore}, models.LockKaspaWatcher, true},
		{"", models.ChainParams{Chain: "kaspa", Asset: models.KAS, MinPayable: 20_000_000, OffsetRange: 99_999, Position: models.PositionDAAScore}, models.LockKaspaWatcher, true},
		{"base", models.ChainParams{Chain: "base", Asset: models.USDC, MinPayable: 10_000, OffsetRange: 9_999, Position: models.PositionBlock}, models.EVMWatcherLockKey("base"), false},
		{"ethereum", models.ChainParams{Chain: "ethereum", Asset: models.USDC, MinPayable: 10_000, OffsetRange: 9_999, Position: models.PositionBlock}, models.EVMWatcherLockKey("ethereum"), false},
		{"local", models.ChainParams{Chain: "local", Asset: models.USDC, MinPayable: 10_000, OffsetRange: 9_999, Position: models.PositionBlock}, models.EVMWatcherLockKey("local"), false},
	}
	for _, tc := range cases {
		t.Run(tc.chain, func(t *testing.T) {
			if got := models.ParamsOf(tc.chain); got != tc.want {
				t.Errorf("ParamsOf(%q) = %+v, want %+v", tc.chain, got, tc.want)
			}
			if got := models.WatcherLockKey(tc.chain); got != tc.lockKey {
				t.Errorf("WatcherLockKey(%q) = %d, want %d", tc.chain, got, tc.lockKey)
			}
			if models.IsKaspa(tc.chain) != tc.kaspaish {
				t.Errorf("IsKaspa(%q) = %v", tc.chain, !tc.kaspaish)
			}
		})
	}
	// The offset stays below the asset's smallest meaningful step: one
	// thousandth of a KAS, one cent of USDC.
	if k := models.ParamsOf("kaspa"); k.OffsetRange >= models.SompiPerKAS/1000 {
		t.Errorf("Kaspa offset range %d reaches 0.001 KAS", k.OffsetRange)
	}
	if u := models.ParamsOf("base"); u.OffsetRange >= 10_000 {
		t.Errorf("USDC offset range %d reaches one cent", u.OffsetRange)
	}
}

func TestEVMWatcherLockKey(t *testing.T) {
	chains := []string{"ethereum", "base", "arbitrum", "optimism", "polygon", "sepolia", "base-sepolia",
		"arbitrum-sepolia", "optimism-sepolia", "polygon-amoy", "local", "a", ""}
	fixed := map[int64]bool{models.LockKaspaWatcher: true, models.LockExpirer: true, 7_114_111_001: true}
	seen := map[int64]string{}
	for _, c := range chains {
		k := models.EVMWatcherLockKey(c)
		if k <= 0 {
			t.Errorf("key of %q = %d, not positive", c, k)
		}
		if k >= 7_114_111_000 && k < 7_114_112_000 || fixed[k] {
			t.Errorf("key of %q = %d collides with the fixed keys' range", c, k)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("chains %q and %q share key %d", c, other, k)
		}
		seen[k] = c
		if again := models.EVMWatcherLockKey(c); again != k {
			t.Errorf("key of %q not stable: %d then %d", c, k, again)
		}
	}
	// Pinned: every process and every release must derive the same key.
	if got := models.EVMWatcherLockKey("base"); got != evmBaseKey {
		t.Errorf("EVMWatcherLockKey(base) = %d, want %d (it must never change)", got, evmBaseKey)
	}
}

func TestFormatAsset(t *testing.T) {
	cases := []struct {
		v       int64
		asset   models.Currency
		human   string
		kaspay8 string
	}{
		{0, models.KAS, "0", "0.00000000"},
		{1, models.KAS, "0.00000001", "0.00000001"},
		{1_000_012_345, models.KAS, "10.00012345", "10.00012345"},
		{1, models.USDC, "0.000001", "0.00000100"},
		{10_000, models.USDC, "0.01", "0.01000000"},
		{12_345_678, models.USDC, "12.345678", "12.34567800"},
		{100_000_000, models.USDC, "100", "100.00000000"},
		{math.MaxInt64, models.USDC, "9223372036854.775807", "9223372036854.77580700"},
		{math.MaxInt64, models.KAS, "92233720368.54775807", "92233720368.54775807"},
		{-1_500_000, models.USDC, "-1.5", "-1.50000000"},
	}
	for _, tc := range cases {
		if got := models.FormatAsset(tc.v, tc.asset); got != tc.human {
			t.Errorf("FormatAsset(%d, %s) = %q, want %q", tc.v, tc.asset, got, tc.human)
		}
		if got := models.FormatAmount8(tc.v, tc.asset); got != tc.kaspay8 {
			t.Errorf("FormatAmount8(%d, %s) = %q, want %q", tc.v, tc.asset, got, tc.kaspay8)
		}
	}
	for _, p := range []models.Payment{{Chain: "kaspa", Asset: "KAS"}, {Chain: "kaspa"}, {Chain: "base", Asset: "USDC"}, {Chain: "base"}} {
		want := models.ParamsOf(p.Chain).Asset
		if got := p.AssetOf(); got != want {
			t.Errorf("AssetOf(%+v) = %s, want %s", p, got, want)
		}
	}
}

func TestExplorerTxURLPerChain(t *testing.T) {
	tx := strings.Repeat("ab", 32)
	models.RegisterEVMExplorer("test-evm", "https://scan.example/tx/")
	cases := []struct {
		chain, network, txid, want string
	}{
		{"kaspa", "mainnet", tx, "https://explorer.kaspa.org/txs/" + tx},
		{"kaspa", "testnet-10", tx, "https://explorer-tn10.kaspa.org/txs/" + tx},
		{"kaspa", "testnet-11", tx, ""},
		{"kaspa", "mainnet", "0x" + tx, ""},
		{"kaspa", "mainnet", strings.ToUpper(tx), ""},
		{"kaspa", "mainnet", tx[:63], ""},
		{"kaspa", "mainnet", tx[:62], ""},
		{"kaspa", "mainnet", tx + "00", ""},
		{"kaspa", "mainnet", tx[:62] + `"/`, ""},
		{"kaspa", "mainnet", tx[:60] + `"><a`, ""},
		{"kaspa", "mainnet", "../../" + tx[:58], ""},
		{"kaspa", "mainnet", "javascript:alert(1)", ""},
		{"kaspa", "mainnet", "", ""},
		{"", "mainnet", tx, "https://explorer.kaspa.org/txs/" + tx},
		{"test-evm", "", "0x" + tx, "https://scan.example/tx/0x" + tx},
		{"test-evm", "", tx, ""},
		{"test-evm", "", "0x" + tx[:62] + `"/`, ""},
		{"unknown-evm", "", "0x" + tx, ""},
	}
	for _, tc := range cases {
		if got := models.ExplorerTxURL(tc.chain, tc.network, tc.txid); got != tc.want {
			t.Errorf("ExplorerTxURL(%q, %q, %q) = %q, want %q", tc.chain, tc.network, tc.txid, got, tc.want)
		}
	}
}

// evmBaseKey is FNV-64a("till-evm-watcher:base") & 0x7fff…, computed
// outside Go.
const evmBaseKey int64 = 9160303062769207055

const (
	usdcBase     = "0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"
	evmReceiver  = "0x1111111111111111111111111111111111111111"
	evmMerchant  = "0x2222222222222222222222222222222222222222"
	baseChainID  = 8453
	usdcPriceStr = "25"
)

// usdcFixture is the Kaspa fixture with base enabled, the merchant's EVM
// address set and a USDC link on base (written directly: links get their
// USDC form elsewhere).
func usdcFixture(t *testing.T, receiver string) (*fixture, *models.PaymentLink) {
	f := newFixture(t, func(o *models.StoreOptions) {
		o.EVMChains = map[string]models.EVMChain{"base": {ChainID: baseChainID, USDC: usdcBase, Confirmations: 3}}
	})
	db := f.s.DB().W(f.ctx)
	if err := db.Model(&models.Merchant{}).Where("id = ?", f.m.ID).Update("evm_address", evmMerchant).Error; err != nil {
		t.Fatal(err)
	}
	l := f.newLink(usdcPriceStr, nil)
	if err := db.Model(&models.PaymentLink{}).Where("id = ?", l.ID).
		Updates(map[string]any{"chain": "base", "currency": "USDC", "amount": 25_000_000, "receiver": receiver}).Error; err != nil {
		t.Fatal(err)
	}
	f.setEVMState("base", 500, f.clock.Now())
	l.Chain, l.Currency, l.Amount, l.Receiver = "base", models.USDC, 25_000_000, receiver
	return f, l
}

// setEVMState records chain's head (and cursor) with the cursor block's time.
func (f *fixture) setEVMState(chain string, head int64, cursorTime time.Time) {
	f.t.Helper()
	ct := cursorTime
	st := models.ChainState{Chain: chain, ChainID: baseChainID, Head: head, Cursor: head, CursorHash: "0xc", CursorTime: &ct, ObservedAt: f.clock.Now()}
	if err := f.s.DB().W(f.ctx).Save(&st).Error; err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) usdcSession(slug string) *models.Payment {
	f.t.Helper()
	p, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: slug})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func TestCreatePaymentUSDC(t *testing.T) {
	cases := []struct {
		name, receiver, wantAddr string
	}{
		{"link receiver", strings.ToUpper(evmReceiver[:2]) + evmReceiver[2:], evmReceiver},
		{"merchant default", "", evmMerchant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, l := usdcFixture(t, tc.receiver)
			p := f.usdcSession(l.Slug)
			if p.Chain != "base" || p.Asset != "USDC" || p.PayAddress != tc.wantAddr || p.TokenAddress != usdcBase {
				t.Fatalf("session = chain %q asset %q pay %q token %q", p.Chain, p.Asset, p.PayAddress, p.TokenAddress)
			}
			if off := p.AmountExpected - 25_000_000; off < 1 || off > 9_999 {
				t.Fatalf("unique offset %d outside 1…9,999 micro-USDC", off)
			}
			if p.StartBlock != 500 || p.StartDaaScore != 0 || p.RequiredConfirmations != 3 || p.DerivationIndex != nil {
				t.Fatalf("start block %d, start daa %d, confirmations %d", p.StartBlock, p.StartDaaScore, p.RequiredConfirmations)
			}
			if p.USDCents == nil || *p.USDCents != 2500 {
				t.Fatalf("usd cents = %v", p.USDCents)
			}
			// Kaspa sessions of the same merchant are untouched by it.
			k := f.session()
			if k.Chain != "kaspa" || k.Asset != "KAS" || k.PayAddress != merchantAddr || k.StartBlock != 0 {
				t.Fatalf("kaspa session = %+v", k)
			}
		})
	}
}

func TestCreatePaymentUSDCRefusals(t *testing.T) {
	f, l := usdcFixture(t, evmReceiver)
	db := f.s.DB().W(f.ctx)
	// Below 0.01 USDC.
	if err := db.Model(&models.PaymentLink{}).Where("id = ?", l.ID).Update("amount", 9_999).Error; err != nil {
		t.Fatal(err)
	}
	_, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: l.Slug})
	var ve *models.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Message, "0.01 USDC") {
		t.Fatalf("below minimum: %v", err)
	}
	// Exactly the minimum is payable.
	if err := db.Model(&models.PaymentLink{}).Where("id = ?", l.ID).Update("amount", 10_000).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: l.Slug}); err != nil {
		t.Fatalf("at the minimum: %v", err)
	}
	// A chain this server does not watch.
	if err := db.Model(&models.PaymentLink{}).Where("id = ?", l.ID).Update("chain", "polygon").Error; err != nil {
		t.Fatal(err)
	}
	_, err = f.s.CreatePayment(f.ctx, models.CreatePaymentInput{LinkSlug: l.Slug})
	var se *models.StateError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "polygon") {
		t.Fatalf("disabled chain: %v", err)
	}
}

// TestUSDCUniqueAmounts fills a shrunk offset range: the same insertion
// path keeps amounts unique per (chain, receiver), and a Kaspa session's
// amounts are independent of it.
func TestUSDCUniqueAmounts(t *testing.T) {
	f2 := newFixture(t, func(o *models.StoreOptions) {
		o.UniqueOffsetRange = 3
		o.EVMChains = map[string]models.EVMChain{"base": {ChainID: baseChainID, USDC: usdcBase}}
	})
	db := f2.s.DB().W(f2.ctx)
	ul := f2.newLink(usdcPriceStr, nil)
	if err := db.Model(&models.PaymentLink{}).Where("id = ?", ul.ID).
		Updates(map[string]any{"chain": "base", "currency": "USDC", "amount": 1_000_000, "receiver": evmReceiver}).Error; err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for i := 0; i < 3; i++ {
		p := f2.usdcSession(ul.Slug)
		if seen[p.AmountExpected] || p.AmountExpected < 1_000_001 || p.AmountExpected > 1_000_003 {
			t.Fatalf("session %d amount %d (seen %v)", i, p.AmountExpected, seen)
		}
		seen[p.AmountExpected] = true
	}
	_, err := f2.s.CreatePayment(f2.ctx, models.CreatePaymentInput{LinkSlug: ul.Slug})
	var ue *models.UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("fourth session on a full range: %v", err)
	}
	if k := f2.session(); k.Chain != "kaspa" {
		t.Fatalf("kaspa session after a full USDC range: %+v", k)
	}
}
