package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"till/models"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// TestPaymentTimelineShowsReversal: a payment whose transaction the chain
// rejects while it confirms goes back to pending; its dashboard timeline
// shows the reversal, and no confirmation.
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
	env := webtest.NewWith(t, []func(*models.StoreOptions){func(o *models.StoreOptions) { o.Now = now }})
	h := &dashHarness{t: t, ctx: context.Background(), env: env, chain: chain}
	h.watcher = &kaspa.Watcher{Client: kaspa.NewClient(u, &http.Client{Timeout: 2 * time.Second}), Store: env.Store}
	h.cycle()
	h.m = env.Register("reversal@example.com", "Reversal Shop", webtest.AddrA)
	h.c = dashLogin(t, env, h.m)

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
	entry := d.Doc.Find(`[data-testid="timeline-entry"][data-kind="reversed"]`)
	if !strings.Contains(entry.Text(), tx[:8]) {
		t.Errorf("the reversal entry does not name the transaction: %q", strings.Join(strings.Fields(entry.Text()), " "))
	}
}
