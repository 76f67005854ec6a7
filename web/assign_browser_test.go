package web_test

import (
	"strings"
	"testing"
	"time"

	"till/models"
	"till/web/webtest"
)

// TestBrowserAssignUnmatchedCredit: a customer pays 3 KAS too much on the
// shared address, which matches nothing; the merchant, signed in with
// Chromium, picks the customer's session in the unmatched credit's form on
// the payments page and assigns it. The browser lands on the payment, now
// confirmed and overpaid, with the assignment on its timeline, and the
// credit has left the unmatched list.
func TestBrowserAssignUnmatchedCredit(t *testing.T) {
	h := newShiftedHarness(t)
	slug := h.link(map[string]any{"amount": 10})
	p := h.apiSession(slug)
	decoy := h.apiSession(slug)
	tid, tx := h.stray(webtest.AddrA, p.AmountExpected+3*models.SompiPerKAS, uint64(p.RequiredConfirmations)+1, h.m)

	b := webtest.Browser(t)
	page := b.MustPage(h.env.URL + "/login").MustWaitLoad()
	consoleErrors := webtest.ConsoleErrors(t, page)
	page.MustSetViewport(1280, 900, 1, false)
	page.MustElement("#email").MustInput(h.m.Email)
	page.MustElement("#password").MustInput(h.m.Password)
	webtest.Navigate(t, page, func() { page.MustElement(`[data-testid="login-submit"]`).MustClick() }, `/dashboard`, 20*time.Second)

	page.MustNavigate(h.env.URL + "/dashboard/payments").MustWaitLoad()
	row := webtest.Element(t, page, `[data-testid="assign-row"][data-transfer-id="`+tid+`"]`, 60*time.Second)
	sel := row.MustElement(`select[name="payment"]`)
	if opts := sel.MustElements("option"); len(opts) != 3 { // the prompt, p and the decoy
		t.Fatalf("%d options offered", len(opts))
	}
	sel.MustEval(`(id) => { this.value = id; this.dispatchEvent(new Event("change", {bubbles: true})) }`, p.ID)
	webtest.Screenshot(t, page, "dashboard-assign-credit")
	webtest.Navigate(t, page, func() { row.MustElement(`[data-testid="assign-submit"]`).MustClick() }, "/dashboard/payments/"+p.ID+"$", 20*time.Second)
	page.MustWaitLoad()

	if u := page.MustInfo().URL; !strings.HasSuffix(u, "/dashboard/payments/"+p.ID) {
		t.Fatalf("after assigning at %s", u)
	}
	if got := textOf(page, `[data-testid="detail-status"]`); got != "Confirmed" {
		t.Fatalf("status %q", got)
	}
	if got := textOf(page, `[data-testid="detail-overpaid"]`); got != "overpaid by 3 KAS" {
		t.Errorf("overpaid %q", got)
	}
	if got := textOf(page, `[data-kind="assigned"]`); !strings.Contains(got, "assigned by the merchant (transaction "+tx+")") {
		t.Errorf("timeline %q", got)
	}
	page.MustNavigate(h.env.URL + "/dashboard/payments").MustWaitLoad()
	if has, _, _ := page.Has(`[data-transfer-id="` + tid + `"]`); has {
		t.Error("the credit is still listed as unmatched")
	}
	if got := textOf(page, `[data-payment-id="`+p.ID+`"] [data-testid="payment-status"]`); got != "Confirmed" {
		t.Errorf("list status %q", got)
	}
	if got := h.payment(decoy.ID); got.AmountReceived != 0 || got.Status != models.StatusPending {
		t.Errorf("decoy %s %d", got.Status, got.AmountReceived)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}
