package web_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/web/webtest"
)

// TestBrowserKiraPayWebhookEndpoint: on the dashboard's webhooks pages a
// merchant creates a KiraPay-format endpoint with a chosen secret; the list
// and the detail page show its format (and no test button); a delivery to
// it is sent, shows in the log, and the merchant redelivers it: the second
// attempt appears.
func TestBrowserKiraPayWebhookEndpoint(t *testing.T) {
	h := newDashHarness(t)
	base := h.env.Listen()
	var hits atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)

	b := webtest.Browser(t)
	page := b.MustPage("")
	consoleErrors := webtest.ConsoleErrors(t, page)
	page.MustSetViewport(1280, 900, 1, false)
	page.MustNavigate(base + "/login").MustWaitLoad()
	page.MustElement("#email").MustInput(h.m.Email)
	page.MustElement("#password").MustInput(h.m.Password)
	clickTo(t, page, `[data-testid="login-submit"]`, `^/dashboard$`)

	// Create the endpoint through the form: format KiraPay, a chosen secret.
	page.MustNavigate(base + "/dashboard/webhooks/new").MustWaitLoad()
	page.MustElement("#url").MustInput(recv.URL + "/kirapay")
	page.MustElement(`[data-testid="dialect-kirapay"]`).MustClick()
	page.MustElement("#secret").MustInput("short")
	page.MustElement(`[data-testid="webhook-submit"]`).MustClick() // the form answers in place (htmx)
	waitText(t, page, `#secret-error`, "secret must be 16 to 256 characters")
	page.MustElement("#secret").MustInput("my-kirapay-secret-2026")
	clickTo(t, page, `[data-testid="webhook-submit"]`, `^/dashboard/webhooks/[0-9a-f-]{36}$`)
	id := regexp.MustCompile(`[0-9a-f-]{36}$`).FindString(page.MustInfo().URL)
	ep, err := h.env.Store.Webhook(h.ctx, h.m.ID, id)
	if err != nil || ep.Dialect != models.DialectKiraPay || ep.URL != recv.URL+"/kirapay" {
		t.Fatalf("created endpoint %+v %v", ep, err)
	}
	if s, _ := h.env.Store.WebhookSecret(h.ctx, h.m.ID, id); s != "my-kirapay-secret-2026" {
		t.Fatalf("secret %q", s)
	}
	if textOf(page, `[data-testid="webhook-format"]`) != "KiraPay" || page.MustHas(`[data-testid="webhook-test"]`) ||
		!page.MustHas(`[data-testid="webhook-no-test"]`) {
		t.Fatal("detail page: format or test button")
	}
	page.MustNavigate(base + "/dashboard/webhooks").MustWaitLoad()
	if textOf(page, `[data-testid="webhook-row"][data-webhook-id="`+id+`"] [data-testid="webhook-format"]`) != "KiraPay" {
		t.Fatal("list does not show the format")
	}

	// A transaction event reaches the endpoint through the outbox.
	d := addDelivery(t, h.env, h.m.ID, id, models.EventTransactionSucceeded, models.DeliveryPending, time.Now().UTC())
	if n := h.dispatch(); n != 1 {
		t.Fatalf("dispatched %d", n)
	}
	page.MustNavigate(base + "/dashboard/webhooks/" + id).MustWaitLoad()
	row := `[data-testid="delivery-row"][data-delivery-id="` + d.ID + `"]`
	if textOf(page, row+` [data-testid="delivery-event"]`) != "transaction.succeeded" || textOf(page, row+` [data-testid="delivery-attempts"]`) != "1" {
		t.Fatalf("delivery row: %s", page.MustElement(row).MustText())
	}
	sent := hits.Load()

	// Redeliver from the page: queued, sent, and the second attempt shows.
	webtest.Navigate(t, page, func() { page.MustElement(row + ` [data-testid="delivery-redeliver"]`).MustClick() }, "/dashboard/webhooks/"+id, 20*time.Second)
	page.MustWaitLoad()
	if !strings.Contains(textOf(page, "body"), "Delivery queued again") || *page.MustElement(row).MustAttribute("data-status") != "pending" {
		t.Fatal("redelivery not queued")
	}
	if n := h.dispatch(); n != 1 {
		t.Fatalf("redelivery dispatched %d", n)
	}
	page.MustReload().MustWaitLoad()
	if textOf(page, row+` [data-testid="delivery-attempts"]`) != "2" || len(page.MustElements(row+" details li")) != 2 {
		t.Fatalf("after redelivery: %s", page.MustElement(row).MustText())
	}
	if hits.Load() != sent*2 {
		t.Fatalf("receiver got %d requests, then %d", sent, hits.Load())
	}
	webtest.Screenshot(t, page, "dashboard-webhook-kirapay")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
}
