package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"till/models"
	"till/web"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// TestPaymentTimelineShowsReversal: a payment whose transaction the chain
// rejects while it confirms goes back to pending; its dashboard timeline
// shows the reversal, and no confirmation; the merchant's webhook receives
// nothing until the transaction is accepted again and confirms.
func TestPaymentTimelineShowsReversal(t *testing.T) {
	var mu sync.Mutex
	skew := time.Duration(0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	chain := double.New(double.Options{Clock: time.Now})
	u, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	env := webtest.NewWith(t, []func(*models.StoreOptions){func(o *models.StoreOptions) { o.Now = now }},
		func(o *web.Options) { o.WebhookAllowPrivate = true })
	h := &dashHarness{t: t, ctx: context.Background(), env: env, chain: chain}
	h.watcher = &kaspa.Watcher{Client: kaspa.NewClient(u, &http.Client{Timeout: 2 * time.Second}), Store: env.Store}
	h.cycle()
	h.m = env.Register("reversal@example.com", "Reversal Shop", webtest.AddrA)
	h.c = dashLogin(t, env, h.m)

	var mu2 sync.Mutex
	var received []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu2.Lock()
		received = append(received, r.Header.Get("X-KasPay-Event"))
		mu2.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	if r := env.Do("POST", "/api/webhooks", map[string]any{"url": recv.URL + "/hook", "events": []string{"*"}}, h.m.Bearer()...); r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	deliveries := func() []string {
		h.dispatch()
		mu2.Lock()
		defer mu2.Unlock()
		return append([]string(nil), received...)
	}

	link := h.link(h.m, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})
	id, sompi := h.session(link["slug"].(string), nil)
	chain.Advance(1)
	tx := chain.Pay(webtest.AddrA, sompi, "")
	h.cycle()
	if !chain.Reject(tx) {
		t.Fatal("reject")
	}
	chain.Advance(150)
	h.cycle()
	mu.Lock()
	skew = models.DefaultReversalGrace + time.Second
	mu.Unlock()
	h.cycle()
	h.cycle()

	d := h.c.Get("/dashboard/payments/" + id)
	if d.Status != http.StatusOK || d.TestID("detail-status") != "Pending" {
		t.Fatalf("detail: %d status %q", d.Status, d.TestID("detail-status"))
	}
	var kinds []string
	d.Doc.Find(`[data-testid="timeline-entry"]`).Each(func(_ int, s *goquery.Selection) { kinds = append(kinds, s.AttrOr("data-kind", "")) })
	got := strings.Join(kinds, ",")
	if !strings.Contains(got, models.ActivityReversed) || strings.Contains(got, "confirmed") {
		t.Fatalf("timeline %v: want the reversal and no confirmation", kinds)
	}
	if d.TestID("transfer-tx") != tx || d.Doc.Find(`[data-testid="transfer-reversed"]`).Length() != 1 {
		t.Errorf("the reversed credit is not listed as reversed: tx %q", d.TestID("transfer-tx"))
	}
	if got := deliveries(); len(got) != 0 {
		t.Fatalf("webhook deliveries %v for a reversed payment", got)
	}
	entry := d.Doc.Find(`[data-testid="timeline-entry"][data-kind="reversed"]`)
	if !strings.Contains(entry.Text(), tx[:8]) {
		t.Errorf("the reversal entry does not name the transaction: %q", strings.Join(strings.Fields(entry.Text()), " "))
	}

	// Accepted again: credited again, then confirmed and delivered once.
	chain.Accept(tx)
	h.cycle()
	chain.Advance(100)
	h.cycle()
	h.cycle()
	if got := deliveries(); len(got) != 1 || got[0] != models.EventPaymentConfirmed {
		t.Fatalf("webhook deliveries %v, want one payment.confirmed", got)
	}
	d = h.c.Get("/dashboard/payments/" + id)
	kinds = nil
	d.Doc.Find(`[data-testid="timeline-entry"]`).Each(func(_ int, s *goquery.Selection) { kinds = append(kinds, s.AttrOr("data-kind", "")) })
	if got := strings.Join(kinds, ","); !strings.Contains(got, "reversed") || !strings.Contains(got, "recredited") || !strings.Contains(got, "confirmed") {
		t.Fatalf("timeline %v after the re-acceptance", kinds)
	}
}
