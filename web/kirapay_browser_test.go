package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"till/web/webtest"
)

// TestBrowserKiraPayShortURL: the url POST /api/link/generate answers,
// TILL_BASE_URL/<code>, opens the USDC checkout in a browser: the amount,
// then (after starting) the session with its QR code, on /pay/… as usual.
func TestBrowserKiraPayShortURL(t *testing.T) {
	h := newUSDCHarness(t)
	r := h.env.Do("POST", "/api/link/generate", `{"currency":"USDC","receiver":"`+usdcReceiver+`","price":42.5,"name":"Workshop seat","chain":"`+usdcChainBase+`"}`, h.m.Key()...)
	data := kiraOK(t, r, http.StatusCreated)
	code := strings.TrimPrefix(data["url"].(string), kiraBase+"/")
	if !kiraCodeRe.MatchString(code) {
		t.Fatalf("url %v", data["url"])
	}

	b := webtest.Browser(t)
	page, consoleErrors := customerPage(t, b)
	page.MustNavigate(h.env.URL + "/" + code).MustWaitLoad()
	if got := textOf(page, `[data-testid="checkout-amount"]`); got != "42.5 USDC" {
		t.Fatalf("amount %q", got)
	}
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="pay-start"]`).MustClick() }, `/pay/[^/]+/p/`, 20*time.Second)
	if !strings.Contains(page.MustInfo().URL, "/pay/"+code+"/p/") {
		t.Fatalf("session page %s", page.MustInfo().URL)
	}
	// The session asks 42.50… (a unique offset below a cent tells
	// transfers apart).
	if got := textOf(page, `[data-testid="pay-amount"]`); !strings.HasPrefix(got, "42.50") {
		t.Errorf("pay amount %q", got)
	}
	qr := page.MustElement(`[data-testid="pay-qr"]`).MustWaitLoad()
	if w := qr.MustEval(`() => this.naturalWidth`).Int(); w < 300 {
		t.Fatalf("QR image not loaded (naturalWidth %d)", w)
	}
	webtest.Screenshot(t, page, "kirapay-short-url-checkout")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
}
