package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"till/web/webtest"
	"till/workers"
	"till/workers/kaspa/double"
)

// runWorkers runs the Kaspa watcher and the expirer against h until the test
// ends, with the double's DAG advancing at the real block rate, so
// confirmations accrue by themselves.
func (h *checkoutHarness) runWorkers(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = h.watcher.Run(ctx); done <- struct{}{} }()
	exp := &workers.Expirer{Store: h.env.Store, Interval: 100 * time.Millisecond}
	go func() { _ = exp.Run(ctx); done <- struct{}{} }()
	stop := h.chain.AutoAdvance(100 * time.Millisecond)
	t.Cleanup(func() {
		stop()
		cancel()
		<-done
		<-done
	})
}

// customerPage opens a page in a fresh incognito context: no cookie of any
// merchant page reaches the customer.
func customerPage(t *testing.T, b *rod.Browser) (*rod.Page, func() []string) {
	t.Helper()
	p := b.MustIncognito().MustPage("")
	errs := webtest.ConsoleErrors(t, p)
	p.MustSetViewport(390, 844, 2, true)
	return p, errs
}

func textOf(p *rod.Page, sel string) string {
	return strings.Join(strings.Fields(p.MustElement(sel).MustText()), " ")
}

var countdownText = regexp.MustCompile(`^\d+:\d\d$`)

func TestBrowserCheckoutPayConfirmRedirect(t *testing.T) {
	h := newCheckoutHarness(t)
	h.settings(map[string]any{"requiredConfirmations": 50})

	var arrived atomic.Int32
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/thanks" {
			arrived.Add(1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Thanks</title><h1 id="thanks">Thanks from the shop</h1>`))
	}))
	t.Cleanup(shop.Close)
	slug := h.link(map[string]any{"successMessage": "Thanks! Your beans ship tomorrow.", "redirectUrl": shop.URL + "/thanks", "expiryMinutes": 15})
	h.runWorkers(t)

	b := webtest.Browser(t)
	// The merchant is signed in to the dashboard in the default context...
	merchant := b.MustPage(h.env.URL + "/login").MustWaitLoad()
	merchant.MustElement("#email").MustInput(h.m.Email)
	merchant.MustElement("#password").MustInput(h.m.Password)
	webtest.Navigate(t, merchant, func() { merchant.MustElement(`[data-testid="login-submit"]`).MustClick() }, `/dashboard`, 20*time.Second)
	// ...and the customer uses a separate, incognito context.
	page, consoleErrors := customerPage(t, b)
	page.MustNavigate(h.env.URL + "/pay/" + slug).MustWaitLoad()
	if got := textOf(page, `[data-testid="checkout-title"]`); got != "Single-origin beans" {
		t.Fatalf("title %q", got)
	}
	if n := h.payments(); n != 0 {
		t.Fatalf("opening the checkout created %d sessions", n)
	}
	webtest.Screenshot(t, page, "checkout-link-phone")

	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="pay-start"]`).MustClick() }, `/pay/[^/]+/p/`, 20*time.Second)
	if !strings.Contains(page.MustInfo().URL, "/pay/"+slug+"/p/") {
		t.Fatalf("after Pay at %s", page.MustInfo().URL)
	}
	id := *page.MustElement(`[data-testid="checkout-session"]`).MustAttribute("data-payment-id")
	address := textOf(page, `[data-testid="pay-address"]`)
	amount := textOf(page, `[data-testid="pay-amount"]`)
	if !strings.HasPrefix(address, "kaspa:") || !strings.HasPrefix(amount, "100.") {
		t.Fatalf("address %q amount %q", address, amount)
	}
	qr := page.MustElement(`[data-testid="pay-qr"]`).MustWaitLoad()
	if w := qr.MustEval(`() => this.naturalWidth`).Int(); w < 300 {
		t.Fatalf("QR image not loaded (naturalWidth %d)", w)
	}
	if href := *page.MustElement(`[data-testid="pay-wallet"]`).MustAttribute("href"); href != address+"?amount="+amount {
		t.Fatalf("wallet link %q", href)
	}
	// The countdown runs (app.js replaces the server-rendered value).
	cd := page.MustElement(`[data-testid="pay-countdown"]`)
	first := cd.MustText()
	page.MustWait(`(first) => document.querySelector('[data-testid="pay-countdown"]').textContent !== first`, first)
	if got := cd.MustText(); !countdownText.MatchString(got) || !strings.HasPrefix(got, "14:") {
		t.Fatalf("countdown %q", got)
	}
	webtest.Screenshot(t, page, "checkout-phone")
	page.MustSetViewport(1280, 900, 1, false)
	webtest.Screenshot(t, page, "checkout-desktop")
	darkMode(t, page, true)
	page.MustSetViewport(390, 844, 2, true)
	webtest.Screenshot(t, page, "checkout-dark-phone")
	darkMode(t, page, false)

	// The customer's wallet sends exactly the amount shown.
	sompi, err := double.ParseKAS(amount)
	if err != nil {
		t.Fatal(err)
	}
	tx := h.chain.Pay(address, sompi, "")

	page.MustElement(`#pay-panel[data-phase="confirming"]`)
	if got := textOf(page, "#pay-status"); !strings.Contains(got, "of 50 confirmations") {
		t.Errorf("confirming status %q", got)
	}
	page.MustElement(`#pay-panel[data-phase="confirmed"]`)
	if got := textOf(page, `[data-testid="success-message"]`); got != "Thanks! Your beans ship tomorrow." {
		t.Errorf("success message %q", got)
	}
	if got := textOf(page, `[data-testid="pay-continue"]`); got != "Continue to 127.0.0.1" {
		t.Errorf("continue link %q", got)
	}
	if page.MustHas(`#pay-poll[hx-trigger]`) {
		t.Error("still polling after confirmation")
	}
	webtest.Screenshot(t, page, "checkout-confirmed-phone")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors on the checkout: %v", errs)
	}

	// After a short delay the browser goes back to the merchant's site.
	webtest.Arrive(t, page, shop.URL+"/thanks", "#thanks", 20*time.Second)
	if u := page.MustInfo().URL; u != shop.URL+"/thanks" || arrived.Load() != 1 {
		t.Fatalf("redirected to %s (%d arrivals)", u, arrived.Load())
	}

	page.MustNavigate(h.env.URL + "/pay/receipt/" + id).MustWaitLoad()
	if got := textOf(page, `[data-testid="receipt-amount"]`); got != amount+" KAS" {
		t.Errorf("receipt amount %q", got)
	}
	if got := textOf(page, `[data-testid="receipt-txid"]`); got != tx {
		t.Errorf("receipt tx %q, want %s", got, tx)
	}
	if page.MustElement(`[data-print]`).MustVisible() == false {
		t.Error("print button hidden with JavaScript on")
	}
	webtest.Screenshot(t, page, "checkout-receipt-phone")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
}

func TestBrowserCheckoutExpiredAndDraft(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(map[string]any{"expiryMinutes": 1})
	draft := h.link(map[string]any{"title": "Not yet", "status": "draft"})
	h.runWorkers(t)

	b := webtest.Browser(t)
	page, consoleErrors := customerPage(t, b)
	page.MustNavigate(h.env.URL + "/pay/" + slug).MustWaitLoad()
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="pay-start"]`).MustClick() }, `/pay/[^/]+/p/`, 20*time.Second)
	first := *page.MustElement(`[data-testid="checkout-session"]`).MustAttribute("data-payment-id")
	page.MustElement(`#pay-panel[data-phase="pending"]`)

	// Time runs out (the store clock jumps past the one-minute window): the
	// page shows the expired state by itself, and stops polling once the
	// expirer has marked the session.
	h.shift(61 * time.Second)
	page.MustElement(`#pay-panel[data-phase="expired"]`)
	page.MustElement(`#pay-poll[data-final="true"][data-status="expired"]`)
	if page.MustHas(`[data-testid="pay-wallet"]`) {
		t.Error("an expired request still offers to pay")
	}
	webtest.Screenshot(t, page, "checkout-expired-phone")

	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="pay-new"]`).MustClick() }, `/pay/[^/]+/p/`, 20*time.Second)
	second := *page.MustElement(`[data-testid="checkout-session"]`).MustAttribute("data-payment-id")
	if second == first || h.payments() != 2 {
		t.Fatalf("start a new payment: %s after %s, %d sessions", second, first, h.payments())
	}
	page.MustElement(`#pay-panel[data-phase="pending"]`)

	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}

	// A draft link: the friendly 404 page (whose own 404 is the only
	// resource error Chromium may log).
	page.MustNavigate(h.env.URL + "/pay/" + draft).MustWaitLoad()
	if got := textOf(page, `[data-testid="error-message"]`); got != "This payment link is not available" {
		t.Fatalf("draft link page %q", got)
	}
	if got := *page.MustElement(`[data-testid="checkout-unavailable"]`).MustAttribute("data-status"); got != "404" {
		t.Errorf("draft page status %s", got)
	}
	if strings.Contains(page.MustHTML(), "Not yet") {
		t.Error("the draft's title leaks")
	}
	for _, e := range consoleErrors() {
		if !strings.Contains(e, "status of 404") || !strings.HasSuffix(e, "/pay/"+draft) {
			t.Errorf("console error: %s", e)
		}
	}
}

// darkMode switches prefers-color-scheme for page.
func darkMode(t *testing.T, p *rod.Page, on bool) {
	t.Helper()
	v := "light"
	if on {
		v = "dark"
	}
	// Reduced motion too: no colour transition is caught mid-way.
	err := proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{
		{Name: "prefers-color-scheme", Value: v}, {Name: "prefers-reduced-motion", Value: "reduce"},
	}}.Call(p)
	if err != nil {
		t.Fatal(err)
	}
}
