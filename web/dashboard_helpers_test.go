package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/models/netguard"
	"till/web"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
	"till/workers/price"
	"till/workers/webhooks"
)

// dashHarness is a Till with a Kaspa double (chain and price feed over real
// HTTP), a watcher, a webhook dispatcher allowed to reach loopback, and a
// merchant logged in to the dashboard.
type dashHarness struct {
	t       *testing.T
	ctx     context.Context
	env     *webtest.Env
	chain   *double.Chain
	watcher *kaspa.Watcher
	m       webtest.Merchant
	c       *webtest.Client
}

func newDashHarness(t *testing.T) *dashHarness {
	t.Helper()
	h := newDashEnv(t)
	h.m = h.env.Register("dash@example.com", "Dash Shop", webtest.AddrA)
	h.c = dashLogin(t, h.env, h.m)
	return h
}

// newDashEnv is the harness without a merchant (the browser test signs up
// through the pages); extra adjusts the store (e.g. enables EVM chains).
func newDashEnv(t *testing.T, extra ...func(*models.StoreOptions)) *dashHarness {
	t.Helper()
	chain := double.New(double.Options{Clock: time.Now, Price: "0.125"})
	u, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	feed := &price.Feed{CoinGeckoURL: u + "/coingecko"}
	env := webtest.NewWith(t, append([]func(*models.StoreOptions){func(o *models.StoreOptions) { o.Rates = feed }}, extra...),
		func(o *web.Options) { o.Rates = feed; o.WebhookAllowPrivate = true })
	h := &dashHarness{t: t, ctx: context.Background(), env: env, chain: chain}
	h.watcher = &kaspa.Watcher{Client: kaspa.NewClient(u, &http.Client{Timeout: 2 * time.Second}), Store: env.Store, Interval: 20 * time.Millisecond}
	h.cycle()
	return h
}

// dashLogin logs m in to the dashboard with a fresh cookie client.
func dashLogin(t *testing.T, env *webtest.Env, m webtest.Merchant) *webtest.Client {
	t.Helper()
	c := env.Client()
	p := c.Submit("/login", "/login", url.Values{"email": {m.Email}, "password": {m.Password}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("login %s: %d", m.Email, p.Status)
	}
	return c
}

func (h *dashHarness) cycle() {
	h.t.Helper()
	if _, err := h.watcher.Cycle(h.ctx); err != nil {
		h.t.Fatalf("watcher cycle: %v", err)
	}
}

// link creates a link through the API for merchant m.
func (h *dashHarness) link(m webtest.Merchant, body map[string]any) map[string]any {
	h.t.Helper()
	return createLink(h.t, h.env, m, body)
}

// session opens a payment session on slug through the public API.
func (h *dashHarness) session(slug string, extra map[string]any) (id string, sompi int64) {
	h.t.Helper()
	body := map[string]any{"paymentLinkSlug": slug}
	for k, v := range extra {
		body[k] = v
	}
	r := h.env.Do("POST", "/api/payments", body)
	if r.Status != http.StatusOK {
		h.t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	j := r.JSON(h.t)
	amt, err := double.ParseKAS(j["amountExpected"].(string))
	if err != nil {
		h.t.Fatal(err)
	}
	return j["id"].(string), amt
}

// pay sends sompi to addr on the chain, and buries it under enough blocks
// for the default 100 confirmations, running watcher cycles; it returns the
// transaction id.
func (h *dashHarness) pay(addr string, sompi int64) string {
	h.t.Helper()
	h.chain.Advance(1)
	tx := h.chain.Pay(addr, sompi, "")
	h.cycle()
	h.chain.Advance(100)
	h.cycle()
	return tx
}

// dispatcher sends due webhook deliveries to loopback receivers.
func (h *dashHarness) dispatch() int {
	h.t.Helper()
	d := &webhooks.Dispatcher{Store: h.env.Store, Policy: &netguard.Policy{AllowPrivate: true}, Timeout: 5 * time.Second}
	n, err := d.DeliverDue(h.ctx)
	if err != nil {
		h.t.Fatalf("deliver: %v", err)
	}
	return n
}

// htmx are the headers of an htmx request.
var htmx = []string{"HX-Request", "true"}

// isFragment reports whether a response is a partial (no document shell).
func isFragment(p webtest.Page) bool {
	b := strings.ToLower(p.Body)
	return !strings.Contains(b, "<html") && !strings.Contains(b, "<!doctype")
}
