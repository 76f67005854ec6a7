package web_test

import (
	"strings"
	"testing"
	"time"

	"till/web/webtest"
)

// TestBrowserMerchantJourney drives the real pages in headless Chromium:
// sign up through the form, land on the dashboard, change settings (htmx),
// log out, log in again and see the change.
func TestBrowserMerchantJourney(t *testing.T) {
	env := webtest.New(t)
	base := env.Listen()
	b := webtest.Browser(t)
	page := b.MustPage("")
	consoleErrors := webtest.ConsoleErrors(t, page)
	page.MustNavigate(base + "/signup").MustWaitLoad()
	page.MustSetViewport(390, 844, 2, true) // a phone

	page.MustElement("#name").MustInput("Browser Bakery")
	page.MustElement("#email").MustInput("browser@example.com")
	page.MustElement("#password").MustInput("securepassword")
	page.MustElement("#kaspaAddress").MustInput(webtest.AddrA)
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="signup-submit"]`).MustClick() }, `/dashboard$`, 20*time.Second)

	if !strings.HasSuffix(page.MustInfo().URL, "/dashboard") {
		t.Fatalf("after signup at %s", page.MustInfo().URL)
	}
	if got := page.MustElement(`[data-testid="flash"]`).MustText(); !strings.Contains(got, "Browser Bakery") {
		t.Fatalf("flash %q", got)
	}
	webtest.Screenshot(t, page, "dashboard-phone")

	// Settings through htmx: an invalid value shows inline, a valid one saves.
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="nav-settings"]`).MustClick() }, `/dashboard/settings$`, 20*time.Second)
	page.MustElement("#paymentExpiry").MustSelectAllText().MustInput("0")
	page.MustElement(`[data-testid="settings-submit"]`).MustClick()
	msg := page.MustElement(`[data-testid="error-paymentExpiry"]`).MustText()
	if !strings.Contains(msg, "between 1 and 10080") {
		t.Fatalf("inline error %q", msg)
	}
	page.MustElement("#paymentExpiry").MustSelectAllText().MustInput("75")
	page.MustElement("#kaspaAddress").MustSelectAllText().MustInput(webtest.AddrB)
	page.MustElement(`[data-testid="settings-submit"]`).MustClick()
	page.MustElement(`[data-testid="settings-saved"]`)

	// Reveal the API key through htmx.
	page.MustElement(`[data-testid="api-key-reveal"]`).MustClick()
	key := page.MustElement(`[data-testid="api-key-value"]`).MustText()
	if len(key) != 36 {
		t.Fatalf("revealed key %q", key)
	}
	webtest.Screenshot(t, page, "settings-phone")

	// Log out, log in again, see the change.
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="logout"]`).MustClick() }, `/login`, 20*time.Second)
	if !strings.Contains(page.MustInfo().URL, "/login") {
		t.Fatalf("after logout at %s", page.MustInfo().URL)
	}
	page.MustElement("#email").MustInput("browser@example.com")
	page.MustElement("#password").MustInput("securepassword")
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="login-submit"]`).MustClick() }, `/dashboard`, 20*time.Second)
	page.MustNavigate(base + "/dashboard/settings").MustWaitLoad()
	if v := page.MustElement("#paymentExpiry").MustProperty("value").String(); v != "75" {
		t.Fatalf("paymentExpiry after re-login = %q", v)
	}
	if v := page.MustElement("#kaspaAddress").MustProperty("value").String(); v != webtest.AddrB {
		t.Fatalf("kaspaAddress after re-login = %q", v)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("browser console errors: %v", errs)
	}
}
