package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"till/web/webtest"
)

func TestWebhookEndpointForms(t *testing.T) {
	h := newDashHarness(t)
	if p := h.c.Get("/dashboard/webhooks"); p.Doc.Find(`[data-testid="empty-state"] a[href="/dashboard/webhooks/new"]`).Length() != 1 {
		t.Fatal("no empty state")
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer recv.Close()

	cases := []struct {
		name    string
		values  url.Values
		headers []string
		status  int
		errs    []string
	}{
		{"nothing", url.Values{}, nil, http.StatusUnprocessableEntity, []string{"url", "events"}},
		{"bad scheme", url.Values{"url": {"ftp://example.com/x"}, "events": {"payment.confirmed"}}, nil, http.StatusUnprocessableEntity, []string{"url"}},
		{"credentials", url.Values{"url": {"https://u:p@example.com/x"}, "events": {"*"}}, htmx, http.StatusOK, []string{"url"}},
		{"unknown event", url.Values{"url": {recv.URL}, "events": {"payment.refunded"}}, htmx, http.StatusOK, []string{"events"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.c.Submit("/dashboard/webhooks/new", "/dashboard/webhooks", tc.values, tc.headers...)
			if r.Status != tc.status || isFragment(r) != (tc.headers != nil) {
				t.Fatalf("status %d fragment %v", r.Status, isFragment(r))
			}
			for _, f := range tc.errs {
				if r.TestID("error-"+f) == "" {
					t.Errorf("no inline error for %s: %s", f, r.Doc.Find(`[role="alert"]`).Text())
				}
			}
			if v, _ := r.Doc.Find(`#url`).Attr("value"); v != tc.values.Get("url") {
				t.Errorf("url not kept: %q", v)
			}
		})
	}

	// Ticking "*" with others keeps just "*".
	r := h.c.Submit("/dashboard/webhooks/new", "/dashboard/webhooks", url.Values{"url": {recv.URL + "/hook"}, "description": {"Orders"}, "events": {"payment.confirmed", "*"}})
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/dashboard/webhooks/") {
		t.Fatalf("create: %d %s", r.Status, r.Text("main"))
	}
	id := strings.TrimPrefix(loc, "/dashboard/webhooks/")
	w := h.env.Do("GET", "/api/webhooks/"+id, nil, h.m.Bearer()...).JSON(t)
	if evs := w["events"].([]any); len(evs) != 1 || evs[0] != "*" || w["description"] != "Orders" {
		t.Fatalf("stored %v", w)
	}
	p := h.c.Get(loc)
	if !strings.Contains(p.TestID("flash"), "Endpoint added") || p.TestID("webhook-url") != recv.URL+"/hook" || p.TestID("no-deliveries") == "" {
		t.Fatalf("detail: %q %q", p.TestID("flash"), p.TestID("webhook-url"))
	}

	// Edit: the boxes are ticked as stored; save new events.
	e := h.c.Get("/dashboard/webhooks/" + id + "/edit")
	if e.Doc.Find(`input[name="events"][value="*"][checked]`).Length() != 1 || e.Doc.Find(`input[name="events"][checked]`).Length() != 1 {
		t.Fatal("edit boxes")
	}
	r = h.c.Submit("/dashboard/webhooks/"+id+"/edit", "/dashboard/webhooks/"+id, url.Values{"url": {recv.URL + "/v2"}, "events": {"payment.confirmed", "payment.expired"}}, htmx...)
	if r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != "/dashboard/webhooks/"+id {
		t.Fatalf("update: %d %v", r.Status, r.Header)
	}
	w = h.env.Do("GET", "/api/webhooks/"+id, nil, h.m.Bearer()...).JSON(t)
	if w["url"] != recv.URL+"/v2" || len(w["events"].([]any)) != 2 {
		t.Fatalf("updated %v", w)
	}
	r = h.c.Submit("/dashboard/webhooks/"+id+"/edit", "/dashboard/webhooks/"+id, url.Values{"url": {recv.URL}}, htmx...)
	if r.Status != http.StatusOK || r.TestID("error-events") != "Choose at least one event" {
		t.Fatalf("no events: %d %q", r.Status, r.TestID("error-events"))
	}
}

func TestWebhookSecretTestAndLog(t *testing.T) {
	h := newDashHarness(t)
	var hits atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(500)
			_, _ = w.Write([]byte("boom"))
			return
		}
		w.WriteHeader(202)
	}))
	defer recv.Close()
	created := h.env.Do("POST", "/api/webhooks", map[string]any{"url": recv.URL, "events": []string{"payment.confirmed"}}, h.m.Bearer()...).JSON(t)
	id, secret := created["id"].(string), created["secret"].(string)
	page := "/dashboard/webhooks/" + id

	// The secret: masked; revealed by htmx (fragment) or without (page).
	p := h.c.Get(page)
	if strings.Contains(p.Body, secret) || p.TestID("webhook-secret-masked") == "" {
		t.Fatal("secret shown before asked")
	}
	rv := h.c.Get(page+"/secret", htmx...)
	if rv.Status != http.StatusOK || !isFragment(rv) || rv.TestID("webhook-secret-value") != secret || rv.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %q", rv.Status, rv.TestID("webhook-secret-value"))
	}
	if full := h.c.Get(page + "/secret"); isFragment(full) || full.TestID("webhook-secret-value") != secret {
		t.Fatal("reveal without htmx")
	}

	// Rotating asks first; the confirmed htmx post returns the new secret.
	if ask := h.c.Get(page + "/rotate-secret"); ask.Doc.Find(`[data-testid="confirm"]`).Length() != 1 {
		t.Fatal("no confirmation page for rotation")
	}
	if r := h.c.Submit(page, page+"/rotate-secret", url.Values{}); r.Doc.Find(`[data-testid="confirm"]`).Length() != 1 {
		t.Fatal("rotation without confirm=yes acted")
	}
	if s := h.env.Do("GET", "/api/webhooks/"+id+"/secret", nil, h.m.Bearer()...).JSON(t)["secret"]; s != secret {
		t.Fatal("secret changed without confirmation")
	}
	rot := h.c.Submit(page, page+"/rotate-secret", url.Values{"confirm": {"yes"}}, htmx...)
	newSecret := rot.TestID("webhook-secret-value")
	if rot.Status != http.StatusOK || !isFragment(rot) || rot.TestID("webhook-secret-rotated") == "" || newSecret == secret ||
		!regexp.MustCompile(`^whsec_[0-9a-f]{64}$`).MatchString(newSecret) {
		t.Fatalf("rotate: %d %q", rot.Status, newSecret)
	}

	// Send a test event: queued, then delivered by the dispatcher (the
	// receiver fails the first time), then redelivered.
	if r := h.c.Submit(page, page+"/test", url.Values{}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != page {
		t.Fatalf("test: %d", r.Status)
	}
	p = h.c.Get(page)
	row := p.Doc.Find(`[data-testid="delivery-row"]`)
	if row.Length() != 1 || row.AttrOr("data-status", "") != "pending" || strings.TrimSpace(row.Find(`[data-testid="delivery-event"]`).Text()) != "webhook.test" {
		t.Fatalf("queued: %d rows", row.Length())
	}
	if n := h.dispatch(); n != 1 {
		t.Fatalf("dispatched %d", n)
	}
	p = h.c.Get(page)
	row = p.Doc.Find(`[data-testid="delivery-row"]`)
	if row.AttrOr("data-status", "") != "pending" || strings.TrimSpace(row.Find(`[data-testid="delivery-code"]`).Text()) != "500" ||
		strings.TrimSpace(row.Find(`[data-testid="delivery-attempts"]`).Text()) != "1" || !strings.Contains(row.Text(), "boom") ||
		!strings.HasSuffix(strings.TrimSpace(row.Find(`[data-testid="delivery-latency"]`).Text()), " ms") {
		t.Fatalf("after a failed attempt: %s", row.Text())
	}
	did := row.AttrOr("data-delivery-id", "")
	if r := h.c.Submit(page, page+"/deliveries/"+did+"/redeliver", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("redeliver: %d", r.Status)
	}
	h.dispatch()
	p = h.c.Get(page + "?status=delivered")
	row = p.Doc.Find(`[data-testid="delivery-row"]`)
	if row.Length() != 1 || strings.TrimSpace(row.Find(`[data-testid="delivery-status"]`).Text()) != "Delivered" ||
		strings.TrimSpace(row.Find(`[data-testid="delivery-code"]`).Text()) != "202" || strings.TrimSpace(row.Find(`[data-testid="delivery-attempts"]`).Text()) != "2" {
		t.Fatalf("after redelivery: %s", row.Text())
	}
	if p := h.c.Get(page + "?status=failed"); p.TestID("no-deliveries") == "" {
		t.Fatal("failed filter shows rows")
	}

	// Disable asks first, then stops the endpoint; enable restores it.
	if r := h.c.Submit(page, page+"/disable", url.Values{}); r.Doc.Find(`[data-testid="confirm"]`).Length() != 1 {
		t.Fatal("disable without confirmation")
	}
	if r := h.c.Submit(page, page+"/disable", url.Values{"confirm": {"yes"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.Status)
	}
	p = h.c.Get(page)
	if p.TestID("webhook-state") != "Disabled" || p.Doc.Find(`[data-testid="webhook-enable"]`).Length() != 1 || p.Doc.Find(`[data-testid="delivery-redeliver"]`).Length() != 0 {
		t.Fatal("disabled endpoint page")
	}
	if r := h.c.Submit(page, page+"/enable", url.Values{}); r.Status != http.StatusSeeOther || h.c.Get(page).TestID("webhook-state") != "Enabled" {
		t.Fatalf("enable: %d", r.Status)
	}

	// Delete asks first, then removes it.
	if r := h.c.Get(page + "/delete"); r.Doc.Find(`form[action="`+page+`/delete"] input[name="confirm"]`).Length() != 1 {
		t.Fatal("no delete confirmation page")
	}
	if r := h.c.Submit(page, page+"/delete", url.Values{"confirm": {"yes"}}, htmx...); r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != "/dashboard/webhooks" {
		t.Fatalf("delete: %d", r.Status)
	}
	if h.c.Get(page).Status != http.StatusNotFound {
		t.Fatal("deleted endpoint still there")
	}
}

// TestWebhookLogShowsPaymentDelivery: a confirmed payment's event reaches
// an endpoint registered in the dashboard and shows in its log.
func TestWebhookLogShowsPaymentDelivery(t *testing.T) {
	h := newDashHarness(t)
	var body atomic.Value
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 4096)
		n, _ := r.Body.Read(b)
		body.Store(string(b[:n]))
		w.WriteHeader(200)
	}))
	defer recv.Close()
	r := h.c.Submit("/dashboard/webhooks/new", "/dashboard/webhooks", url.Values{"url": {recv.URL}, "events": {"payment.confirmed"}})
	page := r.Header.Get("Location")
	l := h.link(h.m, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})
	pid, sompi := h.session(l["slug"].(string), nil)
	h.pay(webtest.AddrA, sompi)
	if n := h.dispatch(); n != 1 {
		t.Fatalf("dispatched %d", n)
	}
	if b, _ := body.Load().(string); !strings.Contains(b, `"event":"payment.confirmed"`) || !strings.Contains(b, pid) {
		t.Fatalf("receiver got %q", b)
	}
	row := h.c.Get(page).Doc.Find(`[data-testid="delivery-row"]`)
	if row.AttrOr("data-status", "") != "delivered" || strings.TrimSpace(row.Find(`[data-testid="delivery-event"]`).Text()) != "payment.confirmed" ||
		strings.TrimSpace(row.Find(`[data-testid="delivery-code"]`).Text()) != "200" {
		t.Fatalf("log row: %s", row.Text())
	}
}
