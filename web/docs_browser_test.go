package web_test

import (
	"strings"
	"testing"
	"time"

	"till/web/webtest"
)

// TestBrowserAPIReference opens /docs in headless Chromium: the vendored
// renderer shows the KasPay document, then the KiraPay one after the switch,
// with no script error and no CSP violation.
func TestBrowserAPIReference(t *testing.T) {
	env := webtest.New(t)
	base := env.Listen()
	page := webtest.Browser(t).MustPage("")
	consoleErrors := webtest.ConsoleErrors(t, page)
	page.MustNavigate(base + "/docs").MustWaitLoad()

	page.MustElementR(`#api-reference .opblock-summary-path`, `/api/links`)
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="docs-tab-kirapay"]`).MustClick() }, `api=kirapay`, 20*time.Second)
	if !strings.Contains(page.MustInfo().URL, "api=kirapay") {
		t.Fatalf("after the switch at %s", page.MustInfo().URL)
	}
	// Open an operation: its parameters, body schema and examples render too.
	page.MustElementR(`#api-reference .opblock-summary-path`, `link/generate`).MustClick()
	page.MustElementR(`#api-reference .opblock-body`, `RECEIVER_CHECKSUM_MISMATCH|INVALID_ETHEREUM_ADDRESS`)
	page.MustElementR(`#api-reference .opblock-summary-path`, `wallet/transactions`)
	page.MustElementR(`#api-reference`, `transaction\.succeeded`)
	webtest.Screenshot(t, page, "api-reference")

	if href := page.MustElement(`[data-testid="docs-home"]`).MustAttribute("href"); href == nil || *href != "/" {
		t.Fatalf("home link %v", href)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors (CSP violations included): %v", errs)
	}
}
