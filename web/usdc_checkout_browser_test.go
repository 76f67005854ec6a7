package web_test

import (
	"encoding/hex"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/models/evm"
	"till/web/webtest"
)

// fakeWallet is an EIP-1193 provider standing in for a browser wallet
// extension (Chromium has none): it records every request and answers
// eth_sendTransaction with a fixed hash.
const fakeWallet = `(() => {
  window.__walletCalls = [];
  window.ethereum = { request: (req) => {
    window.__walletCalls.push(JSON.parse(JSON.stringify(req)));
    switch (req.method) {
      case "eth_requestAccounts": return Promise.resolve(["0x00000000000000000000000000000000000000f1"]);
      case "wallet_switchEthereumChain": return Promise.resolve(null);
      case "eth_sendTransaction": return Promise.resolve("0x` + walletTxHash + `");
    }
    return Promise.reject(new Error("unexpected " + req.method));
  } };
})()`

const walletTxHash = "5e" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"

func TestBrowserUSDCCheckoutWalletPaidRedirect(t *testing.T) {
	h := newUSDCHarness(t)
	var arrived atomic.Int32
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/thanks" {
			arrived.Add(1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Thanks</title><h1 id="thanks">Thanks from the shop</h1>`))
	}))
	t.Cleanup(shop.Close)
	l := h.insertUSDCLinkFixture(19_990_000, shop.URL+"/thanks")

	b := webtest.Browser(t)
	page, consoleErrors := customerPage(t, b)
	page.MustEvalOnNewDocument(fakeWallet)
	page.MustNavigate(h.env.URL + "/pay/" + l.Slug).MustWaitLoad()
	if got := textOf(page, `[data-testid="checkout-amount"]`); got != "19.99 USDC" {
		t.Fatalf("link amount %q", got)
	}
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="pay-start"]`).MustClick() }, `/pay/[^/]+/p/`, 20*time.Second)
	id := *page.MustElement(`[data-testid="checkout-session"]`).MustAttribute("data-payment-id")
	p := h.payment(id)
	receiver := evm.MustParseAddress(usdcReceiver)
	for sel, want := range map[string]string{
		`[data-testid="pay-network"]`:  "Base",
		`[data-testid="pay-chain-id"]`: "8453",
		`[data-testid="pay-amount"]`:   models.FormatAsset(p.AmountExpected, models.USDC),
		`[data-testid="pay-address"]`:  receiver.Hex(),
		`[data-testid="pay-token"]`:    usdcBaseToken.Hex(),
	} {
		if got := textOf(page, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if !strings.Contains(textOf(page, `[data-testid="pay-warning"]`), "on Base only") {
		t.Error("no network warning")
	}
	qr := page.MustElement(`[data-testid="pay-qr"]`).MustWaitLoad()
	if w := qr.MustEval(`() => this.naturalWidth`).Int(); w < 300 {
		t.Fatalf("QR image not loaded (naturalWidth %d)", w)
	}
	if strings.Contains(page.MustElement("main").MustText(), "KAS") {
		t.Error("the USDC checkout mentions KAS")
	}
	webtest.Screenshot(t, page, "usdc-checkout-phone")

	// Pay with the browser wallet: the page asks for accounts, switches to
	// Base and sends transfer(receiver, units) to the USDC contract; the
	// hash is reported and shown as sent, but nothing is credited.
	btn := page.MustElement(`[data-testid="pay-browser-wallet"]`)
	if !btn.MustVisible() {
		t.Fatal("browser wallet button hidden although a wallet is present")
	}
	btn.MustClick()
	if _, err := page.Timeout(15 * time.Second).Element(`[data-testid="pay-tx-sent"]`); err != nil {
		t.Fatalf("no \"sent\" notice: wallet status %q, calls %s, errors %v", textOf(page, `[data-testid="wallet-status"]`),
			page.MustEval(`() => JSON.stringify(window.__walletCalls)`).Str(), consoleErrors())
	}
	calls := page.MustEval(`() => JSON.stringify(window.__walletCalls)`).Str()
	units := new(big.Int).SetInt64(p.AmountExpected).FillBytes(make([]byte, 32))
	word := receiver.Word()
	data := "0xa9059cbb" + hex.EncodeToString(word[:]) + hex.EncodeToString(units)
	for _, want := range []string{`{"method":"eth_requestAccounts"}`,
		`{"method":"wallet_switchEthereumChain","params":[{"chainId":"0x2105"}]}`,
		`"to":"` + usdcBaseToken.Hex() + `","data":"` + data + `"`} {
		if !strings.Contains(calls, want) {
			t.Errorf("wallet calls %s lack %s", calls, want)
		}
	}
	if got := h.payment(id); got.SubmittedTxHash != "0x"+walletTxHash || got.Status != models.StatusPending || got.AmountReceived != 0 {
		t.Fatalf("after the wallet: submitted %q, %s, received %d", got.SubmittedTxHash, got.Status, got.AmountReceived)
	}

	// The transfer is seen on chain at the required depth: Paid, then back
	// to the shop.
	h.payUSDC(p, p.AmountExpected, int64(p.RequiredConfirmations))
	page.MustElement(`#pay-panel[data-phase="confirmed"]`)
	if got := textOf(page, `[data-testid="pay-status-line"]`); got != "Paid Confirmed on Base" {
		t.Errorf("status %q", got)
	}
	webtest.Screenshot(t, page, "usdc-checkout-paid-phone")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
	webtest.Arrive(t, page, shop.URL+"/thanks", "#thanks", 20*time.Second)
	if u := page.MustInfo().URL; u != shop.URL+"/thanks" || arrived.Load() != 1 {
		t.Fatalf("redirected to %s (%d arrivals)", u, arrived.Load())
	}
}
