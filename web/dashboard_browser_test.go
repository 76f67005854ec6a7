package web_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"

	"till/models"
	"till/views/pages"
	"till/web/webtest"
	"till/workers/kaspa/double"
)

// waitText waits until the element matching sel shows want (whitespace
// collapsed), failing after a few seconds with what it showed.
func waitText(t *testing.T, p *rod.Page, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if el, err := p.Timeout(time.Second).Element(sel); err == nil {
			if txt, err := el.Text(); err == nil {
				got = strings.Join(strings.Fields(txt), " ")
				if got == want {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s shows %q, want %q", sel, got, want)
}

// htmxIdle waits until the debounced htmx requests of the page have run.
func htmxIdle(p *rod.Page) {
	time.Sleep(450 * time.Millisecond) // longer than the longest hx-trigger delay
	p.MustWait(`() => !document.querySelector(".htmx-request")`)
}

// clickTo clicks sel (after any htmx request in flight has finished:
// leaving a page aborts them) and waits until the browser has loaded a new
// page whose path matches the regular expression path.
func clickTo(t *testing.T, p *rod.Page, sel, path string) {
	t.Helper()
	htmxIdle(p)
	webtest.Navigate(t, p, func() { p.MustElement(sel).MustClick() }, path, 20*time.Second)
	p.MustElement("#main")
}

// TestBrowserDashboardJourney: a merchant signs up, builds a link with the
// live preview, registers a webhook endpoint; a customer opens the checkout
// in a second browser context and pays the exact amount on the chain double;
// the checkout confirms and redirects; the payments table (filtered with htmx) shows
// it confirmed, the CSV fetched with the browser's cookies has its row, and
// the webhook log shows the delivery. Screenshots of the overview, the
// payments table and the links on a phone are saved. With an EVM chain
// enabled, the merchant then sets an EVM address, builds a USDC link, and
// the payments table shows a paid USDC session's chain and explorer link.
func TestBrowserDashboardJourney(t *testing.T) {
	h := newDashEnv(t, webtest.WithEVMChains(usdcTestChain))
	base := h.env.Listen()
	var got atomic.Value
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Thanks</title><h1 id="thanks">Thanks from the shop</h1>`))
	}))
	t.Cleanup(shop.Close)

	b := webtest.Browser(t)
	page := b.MustPage("")
	consoleErrors := webtest.ConsoleErrors(t, page)
	page.MustSetViewport(1280, 900, 1, false)

	// Sign up.
	page.MustNavigate(base + "/signup").MustWaitLoad()
	page.MustElement("#name").MustInput("Kaspa Coffee Roasters")
	page.MustElement("#email").MustInput("roaster@example.com")
	page.MustElement("#password").MustInput("securepassword")
	page.MustElement("#kaspaAddress").MustInput(webtest.AddrA)
	clickTo(t, page, `[data-testid="signup-submit"]`, `^/dashboard$`)
	if !strings.HasSuffix(page.MustInfo().URL, "/dashboard") {
		t.Fatalf("after sign-up at %s", page.MustInfo().URL)
	}

	// Build a link; the preview follows the form.
	clickTo(t, page, `[data-testid="nav-links"]`, `^/dashboard/links$`)
	clickTo(t, page, `[data-testid="empty-state"] a`, `^/dashboard/links/new$`)
	waitText(t, page, `[data-testid="preview-title"]`, "Untitled link")
	page.MustElement("#title").MustInput("Ethiopia Yirgacheffe, 250 g")
	waitText(t, page, `[data-testid="preview-title"]`, "Ethiopia Yirgacheffe, 250 g")
	page.MustElement("#amount").MustInput("12.5")
	waitText(t, page, `[data-testid="preview-amount"]`, "12.5 KAS")
	page.MustElement("#currency").MustSelect("USD (paid in KAS)")
	waitText(t, page, `[data-testid="preview-amount"]`, "$12.50")
	waitText(t, page, `[data-testid="preview-kas"]`, "≈ 100 KAS at 0.125 USD/KAS now")
	page.MustElement("#currency").MustSelect("KAS")
	waitText(t, page, `[data-testid="preview-amount"]`, "12.5 KAS")
	page.MustElement("#description").MustInput("Floral, bright, roasted on Mondays.")
	page.MustElement("#successMessage").MustInput("Thanks! Your beans ship tomorrow.")
	waitText(t, page, `[data-testid="preview-success"]`, "Thanks! Your beans ship tomorrow.")
	page.MustElement("#expiryMinutes").MustInput("20")
	waitText(t, page, `[data-testid="preview-window"]`, "20 minutes to pay")
	if n := linkCount(t, h); n != 0 {
		t.Fatalf("the preview created %d links", n)
	}
	// A mistake first: inline error, then fixed.
	page.MustElement("#redirectUrl").MustInput("javascript:alert(1)")
	page.MustElement(`[data-testid="link-submit"]`).MustClick()
	waitText(t, page, `[data-testid="error-redirectUrl"]`, "redirectUrl must be an absolute http or https URL")
	page.MustElement("#redirectUrl").MustSelectAllText().MustInput(shop.URL + "/thanks")
	page.MustElement("#title").MustSelectAllText().MustInput("Ethiopia Yirgacheffe, 250 g bag")
	waitText(t, page, `[data-testid="preview-title"]`, "Ethiopia Yirgacheffe, 250 g bag") // the preview still listens
	page.MustElement("#title").MustSelectAllText().MustInput("Ethiopia Yirgacheffe, 250 g")
	waitText(t, page, `[data-testid="preview-title"]`, "Ethiopia Yirgacheffe, 250 g")
	webtest.Screenshot(t, page, "dashboard-link-builder-desktop")
	clickTo(t, page, `[data-testid="link-submit"]`, `^/dashboard/links$`)
	if !strings.HasSuffix(page.MustInfo().URL, "/dashboard/links") || !strings.Contains(textOf(page, `[data-testid="flash"]`), "created") {
		t.Fatalf("after create at %s", page.MustInfo().URL)
	}
	linkURL := textOf(page, `[data-testid="link-row"] [data-testid="link-url"]`)
	slug := linkURL[strings.LastIndex(linkURL, "/")+1:]
	// A second, draft link for the list.
	page.MustNavigate(base + "/dashboard/links/new").MustWaitLoad()
	page.MustElement("#title").MustInput("Gift card")
	page.MustElement("#amount").MustInput("25")
	page.MustElement("#currency").MustSelect("USD (paid in KAS)")
	page.MustElement(`[data-testid="status-draft"]`).MustClick()
	waitText(t, page, `[data-testid="preview-amount"]`, "$25.00")
	clickTo(t, page, `[data-testid="link-submit"]`, `^/dashboard/links$`)

	// Register a webhook endpoint on a local receiver.
	page.MustNavigate(base + "/dashboard/webhooks/new").MustWaitLoad()
	page.MustElement("#url").MustInput(recv.URL + "/till")
	page.MustElement("#description").MustInput("Order system")
	clickTo(t, page, `[data-testid="webhook-submit"]`, `^/dashboard/webhooks/[0-9a-f-]{36}$`)
	hookPage := page.MustInfo().URL
	if !strings.Contains(hookPage, "/dashboard/webhooks/") {
		t.Fatalf("after adding the endpoint at %s", hookPage)
	}

	// A customer opens the checkout in a separate (incognito) browser
	// context, starts a payment, and their wallet sends exactly the amount
	// shown; the watcher confirms it and the checkout sends the customer back
	// to the shop.
	customer, customerErrors := customerPage(t, b)
	customer.MustNavigate(base + "/pay/" + slug).MustWaitLoad()
	customer.MustElement("details summary").MustClick() // the optional name and email
	customer.MustElement("#customerName").MustInput(`Zoë "Beans", Ltd`)
	customer.MustElement("#customerEmail").MustInput("zoe@example.com")
	webtest.Navigate(t, customer, func() { customer.MustElement(`[data-testid="pay-start"]`).MustClick() }, `/pay/[^/]+/p/`, 20*time.Second)
	pid := *customer.MustElement(`[data-testid="checkout-session"]`).MustAttribute("data-payment-id")
	address, amount := textOf(customer, `[data-testid="pay-address"]`), textOf(customer, `[data-testid="pay-amount"]`)
	sompi, err := double.ParseKAS(amount)
	if err != nil || address != webtest.AddrA {
		t.Fatalf("checkout shows %q %q (%v)", address, amount, err)
	}
	tx := h.pay(address, sompi)
	customer.MustElement(`#pay-panel[data-phase="confirmed"]`)
	webtest.Arrive(t, customer, shop.URL+"/thanks", "#thanks", 20*time.Second) // back at the shop's thank-you page
	if u := customer.MustInfo().URL; u != shop.URL+"/thanks" {
		t.Fatalf("customer redirected to %s", u)
	}
	if errs := customerErrors(); len(errs) > 0 {
		t.Fatalf("console errors on the checkout: %v", errs)
	}
	if n := h.dispatch(); n != 1 {
		t.Fatalf("dispatched %d deliveries", n)
	}
	if body, _ := got.Load().(string); !strings.Contains(body, pid) {
		t.Fatalf("receiver got %q", body)
	}

	// The payments table, filtered with htmx: the URL follows the filter.
	clickTo(t, page, `[data-testid="nav-payments"]`, `^/dashboard/payments$`)
	page.MustElement("#status").MustSelect("Confirmed")
	page.MustWait(`() => location.search.includes("status=confirmed")`)
	row := page.MustElement(`[data-testid="payment-row"][data-payment-id="` + pid + `"]`)
	if st := *row.MustAttribute("data-status"); st != "confirmed" {
		t.Fatalf("row status %s", st)
	}
	if n := len(page.MustElements(`[data-testid="payment-row"]`)); n != 1 {
		t.Fatalf("%d rows after filtering", n)
	}
	webtest.Screenshot(t, page, "dashboard-payments-desktop")

	// The CSV, fetched with the browser's own cookies and the current filter.
	href := *page.MustElement(`[data-testid="export-csv"]`).MustAttribute("href")
	res := page.MustEval(`(u) => fetch(u).then(r => r.text().then(t => ({type: r.headers.get("content-type"), disp: r.headers.get("content-disposition"), body: t})))`, href)
	if !strings.HasPrefix(res.Get("type").String(), "text/csv") || !strings.HasPrefix(res.Get("disp").String(), "attachment; filename=till-payments-") {
		t.Fatalf("csv headers %v", res)
	}
	recs, err := csv.NewReader(strings.NewReader(res.Get("body").String())).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	row0 := map[string]string{}
	for i, name := range recs[0] {
		row0[name] = recs[1][i]
	}
	if row0["payment_id"] != pid || row0["tx_id"] != tx || row0["customer_name"] != `Zoë "Beans", Ltd` || row0["status"] != "confirmed" ||
		row0["amount_received_kas"] != models.FormatAmount8(sompi, models.KAS) || row0["link_title"] != "Ethiopia Yirgacheffe, 250 g" {
		t.Fatalf("csv row %v", row0)
	}

	// The payment's page links the transaction on the explorer.
	clickTo(t, page, `[data-payment-id="`+pid+`"] [data-testid="payment-link"]`, `^/dashboard/payments/`+pid+`$`)
	if href := *page.MustElement(`[data-testid="explorer-link"]`).MustAttribute("href"); href != "https://explorer.kaspa.org/txs/"+tx {
		t.Fatalf("explorer link %s", href)
	}
	webtest.Screenshot(t, page, "dashboard-payment-detail-desktop")

	// The webhook log shows the delivery.
	page.MustNavigate(hookPage).MustWaitLoad()
	drow := page.MustElement(`[data-testid="delivery-row"]`)
	if *drow.MustAttribute("data-status") != "delivered" || textOf(page, `[data-testid="delivery-code"]`) != "200" ||
		textOf(page, `[data-testid="delivery-event"]`) != "payment.confirmed" {
		t.Fatalf("delivery row %q", drow.MustText())
	}
	page.MustElement(`[data-testid="webhook-secret-reveal"]`).MustClick()
	if s := textOf(page, `[data-testid="webhook-secret-value"]`); !strings.HasPrefix(s, "whsec_") {
		t.Fatalf("revealed secret %q", s)
	}
	webtest.Screenshot(t, page, "dashboard-webhook-desktop")

	// The overview.
	clickTo(t, page, `[data-testid="nav-overview"]`, `^/dashboard$`)
	if got := textOf(page, `[data-testid="stat-revenue"]`); got != pages.KAS(sompi) {
		t.Fatalf("revenue %q", got)
	}
	webtest.Screenshot(t, page, "dashboard-overview-desktop")
	setColorScheme(t, page, "dark")
	webtest.Screenshot(t, page, "dashboard-overview-dark")
	setColorScheme(t, page, "light")

	// The links on a phone.
	page.MustSetViewport(390, 844, 2, true)
	page.MustNavigate(base + "/dashboard/links").MustWaitLoad()
	if n := len(page.MustElements(`[data-testid="link-card"]`)); n != 2 {
		t.Fatalf("%d link cards", n)
	}
	if overflow := page.MustEval(`() => document.documentElement.scrollWidth > window.innerWidth`).Bool(); overflow {
		t.Error("the links page scrolls sideways on a phone")
	}
	webtest.Screenshot(t, page, "dashboard-links-phone")
	for _, section := range []string{"payments", "webhooks"} {
		page.MustNavigate(base + "/dashboard/" + section).MustWaitLoad()
		if overflow := page.MustEval(`() => document.documentElement.scrollWidth > window.innerWidth`).Bool(); overflow {
			t.Errorf("the %s page scrolls sideways on a phone (tables scroll inside their frame)", section)
		}
		webtest.Screenshot(t, page, "dashboard-"+section+"-phone")
	}
	page.MustNavigate(base + "/dashboard/links").MustWaitLoad()

	// Deactivating asks first (hx-confirm), then posts with the CSRF header.
	wait, handle := page.MustHandleDialog()
	go func() {
		wait()
		handle(true, "")
	}()
	page.MustElement(`[data-testid="link-card"] [data-testid="link-deactivate"]`).MustClick()
	page.MustWait(`() => [...document.querySelectorAll('[data-testid="link-card"]')].some(c => c.textContent.includes("Ethiopia") && c.textContent.includes("Inactive"))`)

	// USDC: an EVM payout address (a mistyped checksum is refused first).
	page.MustSetViewport(1280, 900, 1, false)
	page.MustNavigate(base + "/dashboard/settings").MustWaitLoad()
	page.MustElement("#evmAddress").MustInput(evmAddr1Typo)
	page.MustElement(`[data-testid="settings-submit"]`).MustClick()
	waitText(t, page, `[data-testid="error-evmAddress"]`, "Invalid EVM address: the upper/lower case of its letters does not match "+
		"its EIP-55 checksum, so a character was probably changed; copy the address again from your wallet")
	page.MustElement("#evmAddress").MustSelectAllText().MustInput(evmAddr1)
	page.MustElement(`[data-testid="settings-submit"]`).MustClick()
	page.MustElement(`[data-testid="settings-saved"]`)
	// A USDC link on the enabled chain, paid to that address by default.
	page.MustNavigate(base + "/dashboard/links/new").MustWaitLoad()
	page.MustElement("#title").MustInput("Beans, paid in USDC")
	page.MustElement("#currency").MustSelect("USDC (EVM chains)")
	page.MustElement("#amount").MustInput("20")
	waitText(t, page, `[data-testid="preview-amount"]`, "20 USDC")
	if v := page.MustElement("#receiver").MustProperty("value").String(); v != evmAddr1 {
		t.Fatalf("receiver prefilled with %q", v)
	}
	if v := page.MustElement("#chain").MustProperty("value").String(); v != usdcTestChain {
		t.Fatalf("chain %q", v)
	}
	clickTo(t, page, `[data-testid="link-submit"]`, `^/dashboard/links$`)
	waitText(t, page, `[data-testid="link-row"] [data-testid="link-chain"]`, "USDC on Base Sepolia")
	usdcURL := textOf(page, `[data-testid="link-row"] [data-testid="link-url"]`)
	r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": usdcURL[strings.LastIndex(usdcURL, "/")+1:]})
	if r.Status != http.StatusOK {
		t.Fatalf("USDC session: %d %s", r.Status, r.Body)
	}
	usdcPID := r.JSON(t)["id"].(string)
	usdcTx := "0x" + strings.Repeat("c3", 32)
	if res := recordUSDC(t, h.env, evmAddr1, usdcUnits(t, r.JSON(t)["amountExpected"].(string)), 5, 100, usdcTx); !res.Confirmed {
		t.Fatalf("USDC transfer: %+v", res)
	}
	page.MustNavigate(base + "/dashboard/payments").MustWaitLoad()
	urow := `[data-testid="payment-row"][data-payment-id="` + usdcPID + `"]`
	waitText(t, page, urow+` [data-testid="payment-chain"]`, "Base Sepolia")
	waitText(t, page, `[data-testid="payment-row"][data-payment-id="`+pid+`"] [data-testid="payment-chain"]`, "Kaspa")
	if href := *page.MustElement(urow + ` [data-testid="payment-explorer"]`).MustAttribute("href"); href != "https://sepolia.basescan.org/tx/"+usdcTx {
		t.Fatalf("USDC explorer link %s", href)
	}
	if st := *page.MustElement(urow).MustAttribute("data-status"); st != "confirmed" {
		t.Fatalf("USDC row status %s", st)
	}
	webtest.Screenshot(t, page, "dashboard-payments-usdc-desktop")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("browser console errors: %v", errs)
	}
}

func linkCount(t *testing.T, h *dashHarness) int {
	t.Helper()
	var n int64
	if err := h.env.Store.DB().W(h.ctx).Model(&models.PaymentLink{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// setColorScheme emulates prefers-color-scheme (light or dark) on p.
func setColorScheme(t *testing.T, p *rod.Page, scheme string) {
	t.Helper()
	err := proto.EmulationSetEmulatedMedia{Features: []*proto.EmulationMediaFeature{
		{Name: "prefers-color-scheme", Value: scheme}, {Name: "prefers-reduced-motion", Value: "reduce"},
	}}.Call(p)
	if err != nil {
		t.Fatal(err)
	}
}
