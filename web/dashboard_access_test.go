package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"till/web/webtest"
)

// dashToken returns the CSRF token of c's dashboard session.
func dashToken(t *testing.T, c *webtest.Client) string {
	t.Helper()
	p := c.Get("/dashboard")
	tok, ok := p.Doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		t.Fatalf("no CSRF token on the dashboard (status %d)", p.Status)
	}
	return tok
}

// otherMerchantData registers merchant B with a link, a payment session and
// a webhook endpoint with one delivery, all through the API.
type otherMerchantData struct {
	m                                  webtest.Merchant
	linkID, slug, paymentID, webhookID string
	deliveryID, secret                 string
}

func (h *dashHarness) otherMerchant(receiverURL string) otherMerchantData {
	h.t.Helper()
	b := h.env.Register("other@example.com", "Other Shop", webtest.AddrB)
	l := h.link(b, map[string]any{"title": "Their secret plan", "amount": 5, "currency": "KAS"})
	pid, _ := h.session(l["slug"].(string), map[string]any{"customerEmail": "their-buyer@example.com"})
	r := h.env.Do("POST", "/api/webhooks", map[string]any{"url": receiverURL, "events": []string{"*"}}, b.Bearer()...)
	if r.Status != http.StatusOK {
		h.t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}
	wh := r.JSON(h.t)
	d := h.env.Do("POST", "/api/webhooks/"+wh["id"].(string)+"/test", nil, b.Bearer()...)
	if d.Status != http.StatusAccepted {
		h.t.Fatalf("test event: %d %s", d.Status, d.Body)
	}
	return otherMerchantData{m: b, linkID: l["id"].(string), slug: l["slug"].(string), paymentID: pid,
		webhookID: wh["id"].(string), deliveryID: d.JSON(h.t)["id"].(string), secret: wh["secret"].(string)}
}

// TestDashboardTenantIsolation: another merchant's link, payment, endpoint
// and delivery ids are 404 on every dashboard route, GET and POST, and
// nothing of theirs changes or shows.
func TestDashboardTenantIsolation(t *testing.T) {
	h := newDashHarness(t)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer recv.Close()
	b := h.otherMerchant(recv.URL + "/hook")
	ownHook := h.env.Do("POST", "/api/webhooks", map[string]any{"url": recv.URL + "/mine", "events": []string{"*"}}, h.m.Bearer()...).JSON(t)
	ownID := ownHook["id"].(string)

	gets := []string{
		"/dashboard/links/" + b.linkID + "/edit",
		"/dashboard/links/" + b.linkID + "/deactivate",
		"/dashboard/links/" + b.linkID + "/qr.png",
		"/dashboard/payments/" + b.paymentID,
		"/dashboard/webhooks/" + b.webhookID,
		"/dashboard/webhooks/" + b.webhookID + "/edit",
		"/dashboard/webhooks/" + b.webhookID + "/disable",
		"/dashboard/webhooks/" + b.webhookID + "/delete",
		"/dashboard/webhooks/" + b.webhookID + "/secret",
		"/dashboard/webhooks/" + b.webhookID + "/rotate-secret",
	}
	for _, path := range gets {
		t.Run("GET "+path, func(t *testing.T) {
			for _, hdr := range [][]string{nil, htmx} {
				p := h.c.Get(path, hdr...)
				if p.Status != http.StatusNotFound {
					t.Fatalf("status %d (htmx=%v)", p.Status, hdr != nil)
				}
				if strings.Contains(p.Body, "Their secret plan") || strings.Contains(p.Body, b.secret) || strings.Contains(p.Body, "their-buyer") {
					t.Fatal("another merchant's data in the response")
				}
			}
		})
	}

	tok := dashToken(t, h.c)
	linkForm := url.Values{"title": {"Hijacked"}, "amount": {"1"}, "currency": {"KAS"}, "status": {"inactive"}, "linkExpiresIn": {"keep"}}
	hookForm := url.Values{"url": {recv.URL + "/hijack"}, "events": {"payment.confirmed"}}
	posts := []struct {
		path string
		form url.Values
	}{
		{"/dashboard/links/" + b.linkID, linkForm},
		{"/dashboard/links/" + b.linkID + "/activate", nil},
		{"/dashboard/links/" + b.linkID + "/deactivate", nil},
		{"/dashboard/webhooks/" + b.webhookID, hookForm},
		{"/dashboard/webhooks/" + b.webhookID + "/enable", nil},
		{"/dashboard/webhooks/" + b.webhookID + "/disable", nil},
		{"/dashboard/webhooks/" + b.webhookID + "/delete", nil},
		{"/dashboard/webhooks/" + b.webhookID + "/rotate-secret", nil},
		{"/dashboard/webhooks/" + b.webhookID + "/test", nil},
		{"/dashboard/webhooks/" + b.webhookID + "/deliveries/" + b.deliveryID + "/redeliver", nil},
		{"/dashboard/webhooks/" + ownID + "/deliveries/" + b.deliveryID + "/redeliver", nil},
	}
	for _, tc := range posts {
		t.Run("POST "+tc.path, func(t *testing.T) {
			v := url.Values{"_csrf": {tok}, "confirm": {"yes"}}
			for k, vs := range tc.form {
				v[k] = vs
			}
			for _, hdr := range [][]string{nil, htmx} {
				if p := h.c.PostForm(tc.path, v, hdr...); p.Status != http.StatusNotFound {
					t.Fatalf("status %d (htmx=%v): %s", p.Status, hdr != nil, p.Text("main"))
				}
			}
		})
	}

	// Nothing of B's changed.
	l := h.env.Do("GET", "/api/links/"+b.linkID, nil, b.m.Bearer()...).JSON(t)
	if l["title"] != "Their secret plan" || l["status"] != "active" {
		t.Fatalf("B's link changed: %v", l)
	}
	w := h.env.Do("GET", "/api/webhooks/"+b.webhookID, nil, b.m.Bearer()...).JSON(t)
	if w["isActive"] != true || w["url"] != recv.URL+"/hook" {
		t.Fatalf("B's webhook changed: %v", w)
	}
	if s := h.env.Do("GET", "/api/webhooks/"+b.webhookID+"/secret", nil, b.m.Bearer()...).JSON(t); s["secret"] != b.secret {
		t.Fatal("B's secret rotated")
	}
	ds := h.env.Do("GET", "/api/webhooks/"+b.webhookID+"/deliveries", nil, b.m.Bearer()...).JSON(t)["data"].([]any)
	if len(ds) != 1 {
		t.Fatalf("B has %d deliveries, want the one test event", len(ds))
	}

	// And nothing of B's shows in A's lists or export.
	for _, path := range []string{"/dashboard", "/dashboard/links", "/dashboard/payments", "/dashboard/webhooks", "/dashboard/payments?link=" + b.linkID} {
		p := h.c.Get(path)
		if p.Status != http.StatusOK || strings.Contains(p.Body, "Their secret plan") || strings.Contains(p.Body, b.paymentID) ||
			strings.Contains(p.Body, "their-buyer") || strings.Contains(p.Body, "/hook") {
			t.Errorf("%s: status %d or shows merchant B's data", path, p.Status)
		}
	}
	csv := h.c.Get("/dashboard/payments.csv?link=" + b.linkID)
	if csv.Status != http.StatusOK || strings.Count(strings.TrimSpace(csv.Body), "\n") != 0 {
		t.Errorf("CSV filtered on B's link: %d\n%s", csv.Status, csv.Body)
	}
}

// TestDashboardCSRF: every dashboard POST needs the session's token, from
// the form field or the htmx header; without it nothing changes.
func TestDashboardCSRF(t *testing.T) {
	h := newDashHarness(t)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer recv.Close()
	l := h.link(h.m, map[string]any{"title": "Guarded", "amount": 3, "currency": "KAS"})
	lid := l["id"].(string)
	wh := h.env.Do("POST", "/api/webhooks", map[string]any{"url": recv.URL, "events": []string{"*"}}, h.m.Bearer()...).JSON(t)
	wid := wh["id"].(string)
	d := h.env.Do("POST", "/api/webhooks/"+wid+"/test", nil, h.m.Bearer()...).JSON(t)

	paths := []string{
		"/dashboard/links", "/dashboard/links/preview", "/dashboard/links/" + lid, "/dashboard/links/" + lid + "/activate",
		"/dashboard/links/" + lid + "/deactivate", "/dashboard/webhooks", "/dashboard/webhooks/" + wid,
		"/dashboard/webhooks/" + wid + "/enable", "/dashboard/webhooks/" + wid + "/disable", "/dashboard/webhooks/" + wid + "/delete",
		"/dashboard/webhooks/" + wid + "/rotate-secret", "/dashboard/webhooks/" + wid + "/test",
		"/dashboard/webhooks/" + wid + "/deliveries/" + d["id"].(string) + "/redeliver",
		"/dashboard/settings", "/dashboard/settings/api-key",
	}
	form := url.Values{"confirm": {"yes"}, "title": {"Changed"}, "amount": {"1"}, "currency": {"KAS"}, "url": {recv.URL}, "events": {"*"}}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			cases := []struct {
				name    string
				values  url.Values
				headers []string
			}{
				{"no token", form, nil},
				{"wrong field", withValue(form, "_csrf", "forged"), nil},
				{"wrong htmx header", form, []string{"HX-Request", "true", "X-CSRF-Token", "forged"}},
			}
			for _, tc := range cases {
				if p := h.c.PostForm(path, tc.values, tc.headers...); p.Status != http.StatusForbidden {
					t.Fatalf("%s: status %d", tc.name, p.Status)
				}
			}
		})
	}
	got := h.env.Do("GET", "/api/links/"+lid, nil, h.m.Bearer()...).JSON(t)
	if got["title"] != "Guarded" || got["status"] != "active" {
		t.Fatalf("link changed without a token: %v", got)
	}
	if w := h.env.Do("GET", "/api/webhooks/"+wid, nil, h.m.Bearer()...); w.Status != http.StatusOK || w.JSON(t)["isActive"] != true {
		t.Fatalf("webhook changed without a token: %s", w.Body)
	}

	// The same request with the token works (the htmx header form).
	tok := dashToken(t, h.c)
	p := h.c.PostForm("/dashboard/links/"+lid+"/deactivate", url.Values{"confirm": {"yes"}}, "HX-Request", "true", "X-CSRF-Token", tok)
	if p.Status != http.StatusNoContent || p.Header.Get("HX-Redirect") != "/dashboard/links" {
		t.Fatalf("with the token: %d %v", p.Status, p.Header)
	}
}

func withValue(v url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	out.Set(key, value)
	return out
}

// TestAPIKeyRotationAsksWithoutJS: a plain form post (no JavaScript, so no
// hx-confirm dialog) gets a confirmation page first.
func TestAPIKeyRotationAsksWithoutJS(t *testing.T) {
	h := newDashHarness(t)
	r := h.c.Submit("/dashboard/settings", "/dashboard/settings/api-key", url.Values{})
	if r.Status != http.StatusOK || r.Doc.Find(`[data-testid="confirm"] form[action="/dashboard/settings/api-key"] input[name="confirm"][value="yes"]`).Length() != 1 {
		t.Fatalf("no confirmation page: %d", r.Status)
	}
	if me := h.env.Do("GET", "/api/auth/me", nil, h.m.Key()...); me.Status != http.StatusOK {
		t.Fatalf("the key changed without confirmation: %d", me.Status)
	}
	r = h.c.Submit("/dashboard/settings", "/dashboard/settings/api-key", url.Values{"confirm": {"yes"}})
	key := r.TestID("api-key-value")
	if r.Status != http.StatusOK || len(key) != 36 || key == h.m.APIKey || r.TestID("api-key-rotated") == "" {
		t.Fatalf("confirmed rotation: %d %q", r.Status, key)
	}
	if me := h.env.Do("GET", "/api/auth/me", nil, h.m.Key()...); me.Status != http.StatusUnauthorized {
		t.Fatalf("old key still works: %d", me.Status)
	}
}
