package web_test

import (
	"bytes"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func TestLinkBuilderForm(t *testing.T) {
	h := newDashHarness(t)
	p := h.c.Get("/dashboard/links/new")
	if p.Status != http.StatusOK {
		t.Fatalf("new link page: %d", p.Status)
	}
	for _, name := range []string{"title", "description", "amount", "currency", "expiryMinutes", "status", "successMessage", "redirectUrl", "linkExpiresIn"} {
		if p.Doc.Find(`#link-form [name="`+name+`"]`).Length() == 0 {
			t.Errorf("builder has no %s field", name)
		}
		if id, ok := p.Doc.Find(`#link-form [name="` + name + `"]`).First().Attr("id"); ok && p.Doc.Find(`label[for="`+id+`"]`).Length() == 0 && name != "status" {
			t.Errorf("%s has no label", name)
		}
	}
	var lifetimes []string
	p.Doc.Find(`#linkExpiresIn option`).Each(func(_ int, s *goquery.Selection) { lifetimes = append(lifetimes, s.AttrOr("value", "")) })
	if strings.Join(lifetimes, ",") != "0,1440,10080,43200" {
		t.Errorf("lifetime presets %v", lifetimes)
	}
	if v, _ := p.Doc.Find(`#link-preview`).Attr("hx-trigger"); !strings.Contains(v, "input changed delay:300ms") {
		t.Errorf("preview trigger %q", v)
	}

	cases := []struct {
		name      string
		values    url.Values
		headers   []string
		status    int
		fragment  bool
		errFields []string
	}{
		{
			name:   "plain post, everything wrong",
			values: url.Values{"title": {""}, "amount": {"abc"}, "currency": {"EUR"}, "expiryMinutes": {"ten"}, "redirectUrl": {"javascript:alert(1)"}, "status": {"active"}, "linkExpiresIn": {"0"}},
			status: http.StatusUnprocessableEntity, errFields: []string{"title", "amount", "currency", "expiryMinutes", "redirectUrl"},
		},
		{
			name:    "htmx post gets the form fields back",
			values:  url.Values{"title": {"Ok"}, "amount": {"0.1"}, "currency": {"KAS"}, "status": {"active"}, "linkExpiresIn": {"0"}},
			headers: htmx, status: http.StatusOK, fragment: true, errFields: []string{"amount"},
		},
		{
			name:   "out of range numbers",
			values: url.Values{"title": {"Ok"}, "amount": {"5"}, "currency": {"KAS"}, "expiryMinutes": {"0"}, "status": {"active"}, "linkExpiresIn": {"-5"}},
			status: http.StatusUnprocessableEntity, errFields: []string{"expiryMinutes", "linkExpiresIn"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.c.Submit("/dashboard/links/new", "/dashboard/links", tc.values, tc.headers...)
			if r.Status != tc.status || isFragment(r) != tc.fragment {
				t.Fatalf("status %d fragment %v", r.Status, isFragment(r))
			}
			if r.Header.Get("Vary") == "" || !strings.Contains(r.Header.Get("Vary"), "HX-Request") {
				t.Errorf("Vary %q", r.Header.Get("Vary"))
			}
			if n := r.Doc.Find(`[data-testid^="error-"]`).Length(); n != len(tc.errFields) {
				t.Errorf("%d inline errors, want %d: %s", n, len(tc.errFields), r.Doc.Find(`[data-testid^="error-"]`).Text())
			}
			for _, f := range tc.errFields {
				if r.TestID("error-"+f) == "" {
					t.Errorf("no inline error for %s", f)
				}
				if inv, _ := r.Doc.Find(`[name="` + f + `"]`).Attr("aria-invalid"); inv != "true" && f != "status" {
					t.Errorf("%s not marked aria-invalid", f)
				}
			}
			if v, _ := r.Doc.Find(`#title`).Attr("value"); v != tc.values.Get("title") {
				t.Errorf("title not kept: %q", v)
			}
		})
	}
	if ls := h.env.Do("GET", "/api/links", nil, h.m.Bearer()...).JSON(t)["data"].([]any); len(ls) != 0 {
		t.Fatalf("invalid forms created %d links", len(ls))
	}

	// A valid link with every field.
	r := h.c.Submit("/dashboard/links/new", "/dashboard/links", url.Values{
		"title": {"Premium plan"}, "description": {"One month,\nall features"}, "amount": {"19.99"}, "currency": {"USD"},
		"expiryMinutes": {"45"}, "status": {"draft"}, "successMessage": {"Thanks!"}, "redirectUrl": {"https://shop.example/thanks"},
		"linkExpiresIn": {"10080"},
	})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/dashboard/links" {
		t.Fatalf("create: %d %s", r.Status, r.Text("main"))
	}
	links := h.env.Do("GET", "/api/links", nil, h.m.Bearer()...).JSON(t)["data"].([]any)
	if len(links) != 1 {
		t.Fatalf("%d links", len(links))
	}
	l := links[0].(map[string]any)
	if l["title"] != "Premium plan" || l["amount"] != "19.99000000" || l["currency"] != "USD" || l["status"] != "draft" ||
		l["description"] != "One month,\nall features" || l["successMessage"] != "Thanks!" || l["redirectUrl"] != "https://shop.example/thanks" ||
		l["expiresAt"] == nil || l["expiryMinutes"].(interface{ String() string }).String() != "45" {
		t.Fatalf("stored link %v", l)
	}
	id, slug := l["id"].(string), l["slug"].(string)

	// The list shows it with its flash, status, price and URL.
	p = h.c.Get("/dashboard/links")
	row := p.Doc.Find(`[data-testid="link-row"][data-link-id="` + id + `"]`)
	if !strings.Contains(p.TestID("flash"), "created") || row.Length() != 1 {
		t.Fatalf("list: flash %q, %d rows", p.TestID("flash"), row.Length())
	}
	if got := strings.TrimSpace(row.Find(`[data-testid="link-price"]`).Text()); got != "$19.99" {
		t.Errorf("price %q", got)
	}
	if got := strings.TrimSpace(row.Find(`[data-testid="link-status"]`).Text()); got != "Draft" {
		t.Errorf("status %q", got)
	}
	if got := strings.TrimSpace(row.Find(`[data-testid="link-url"]`).Text()); got != "http://till.test/pay/"+slug {
		t.Errorf("url %q", got)
	}
	urlID, _ := row.Find(`[data-testid="link-url"]`).Attr("id")
	if row.Find(`button[data-copy="`+urlID+`"]`).Length() != 1 || row.Find(`[data-testid="link-publish"]`).Length() != 1 {
		t.Errorf("row lacks the copy or publish button")
	}
	if p.Doc.Find(`[data-testid="link-card"]`).Length() != 1 {
		t.Errorf("phone cards missing")
	}

	// The edit page is filled in; saving changes it.
	e := h.c.Get("/dashboard/links/" + id + "/edit")
	for field, want := range map[string]string{"#title": "Premium plan", "#amount": "19.99", "#expiryMinutes": "45", "#redirectUrl": "https://shop.example/thanks"} {
		if v, _ := e.Doc.Find(field).Attr("value"); v != want {
			t.Errorf("edit %s = %q, want %q", field, v, want)
		}
	}
	if e.Doc.Find(`#currency option[value="USD"][selected]`).Length() != 1 || e.Doc.Find(`input[name="status"][value="draft"][checked]`).Length() != 1 ||
		e.Doc.Find(`#linkExpiresIn option[value="keep"][selected]`).Length() != 1 || strings.TrimSpace(e.Doc.Find("#description").Text()) != "One month,\nall features" {
		t.Errorf("edit selects not filled in")
	}
	r = h.c.Submit("/dashboard/links/"+id+"/edit", "/dashboard/links/"+id, url.Values{
		"title": {"Premium plan v2"}, "amount": {"25"}, "currency": {"USD"}, "expiryMinutes": {""}, "status": {"draft"}, "linkExpiresIn": {"keep"},
	}, htmx...)
	if r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != "/dashboard/links" {
		t.Fatalf("update over htmx: %d %v %s", r.Status, r.Header, r.Body)
	}
	l = h.env.Do("GET", "/api/links/"+id, nil, h.m.Bearer()...).JSON(t)
	if l["title"] != "Premium plan v2" || l["amount"] != "25.00000000" || fmt.Sprint(l["expiryMinutes"]) != "30" || l["expiresAt"] == nil || l["description"] != "" {
		t.Fatalf("updated link %v", l)
	}
}

func TestLinkPreview(t *testing.T) {
	h := newDashHarness(t)
	tok := dashToken(t, h.c)
	cases := []struct {
		name       string
		values     url.Values
		title      string
		amount     string
		kas        string
		hasSuccess bool
	}{
		{"empty", url.Values{}, "Untitled link", "—", "", false},
		{"KAS", url.Values{"title": {"Coffee <b>beans</b>"}, "amount": {"12.5"}, "currency": {"KAS"}, "successMessage": {"Enjoy"}}, "Coffee <b>beans</b>", "12.5 KAS", "", true},
		{"USD at the live rate", url.Values{"title": {"Hoodie"}, "amount": {"19.99"}, "currency": {"USD"}}, "Hoodie", "$19.99", "≈ 159.92 KAS at 0.125 USD/KAS now", false},
		{"bad amount", url.Values{"title": {"X"}, "amount": {"1e"}}, "X", "—", "", false},
	}
	// A USD price worth less than 0.2 KAS at the current rate gets a
	// warning; a payable one does not.
	for _, tc := range []struct {
		amount string
		warn   bool
	}{{"0.02", true}, {"0.03", false}, {"19.99", false}} {
		v := withValue(url.Values{"title": {"Sticker"}, "amount": {tc.amount}, "currency": {"USD"}}, "_csrf", tok)
		p := h.c.PostForm("/dashboard/links/preview", v, htmx...)
		if got := p.TestID("preview-below-minimum"); (got != "") != tc.warn || (tc.warn && !strings.Contains(got, "0.2 KAS")) {
			t.Errorf("$%s: below-minimum warning %q, want shown=%v", tc.amount, got, tc.warn)
		}
	}
	if p := h.c.Get("/dashboard/links/new"); p.TestID("preview-below-minimum") != "" {
		t.Error("warning on an empty builder")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := withValue(tc.values, "_csrf", tok)
			p := h.c.PostForm("/dashboard/links/preview", v, htmx...)
			if p.Status != http.StatusOK || !isFragment(p) {
				t.Fatalf("preview: %d fragment=%v", p.Status, isFragment(p))
			}
			if got := p.TestID("preview-title"); got != tc.title {
				t.Errorf("title %q", got)
			}
			if strings.Contains(p.Body, "<b>") {
				t.Error("title not escaped")
			}
			if got := p.TestID("preview-amount"); got != tc.amount {
				t.Errorf("amount %q", got)
			}
			if got := p.TestID("preview-kas"); got != tc.kas {
				t.Errorf("KAS %q", got)
			}
			if (p.TestID("preview-success") != "") != tc.hasSuccess {
				t.Errorf("success message %q", p.TestID("preview-success"))
			}
			if p.TestID("preview-merchant") != "Dash Shop" {
				t.Errorf("merchant %q", p.TestID("preview-merchant"))
			}
		})
	}
	if ls := h.env.Do("GET", "/api/links", nil, h.m.Bearer()...).JSON(t)["data"].([]any); len(ls) != 0 {
		t.Fatalf("previews created %d links", len(ls))
	}
}

func TestLinkStatusActionsAndQR(t *testing.T) {
	h := newDashHarness(t)
	l := h.link(h.m, map[string]any{"title": "Draft thing", "amount": 2, "currency": "KAS", "status": "draft"})
	id, slug := l["id"].(string), l["slug"].(string)
	status := func() string {
		t.Helper()
		return h.env.Do("GET", "/api/links/"+id, nil, h.m.Bearer()...).JSON(t)["status"].(string)
	}

	r := h.c.Submit("/dashboard/links", "/dashboard/links/"+id+"/activate", url.Values{})
	if r.Status != http.StatusSeeOther || status() != "active" {
		t.Fatalf("publish: %d, status %s", r.Status, status())
	}
	p := h.c.Get("/dashboard/links")
	if !strings.Contains(p.TestID("flash"), "is live") {
		t.Errorf("flash %q", p.TestID("flash"))
	}
	btn := p.Doc.Find(`[data-testid="link-row"] [data-testid="link-deactivate"]`)
	form := btn.Closest("form")
	if btn.Length() != 1 || form.AttrOr("hx-confirm", "") == "" || form.AttrOr("hx-post", "") != "/dashboard/links/"+id+"/deactivate" ||
		form.AttrOr("method", "") != "get" || form.AttrOr("hx-vals", "") != `{"confirm":"yes"}` {
		t.Fatalf("deactivate button: %d %v", btn.Length(), form.Nodes)
	}

	// Without JavaScript: the GET asks; a POST without confirm asks too.
	ask := h.c.Get("/dashboard/links/" + id + "/deactivate")
	if ask.Status != http.StatusOK || ask.Doc.Find(`[data-testid="confirm"] form[method="post"][action="/dashboard/links/`+id+`/deactivate"] input[name="confirm"][value="yes"]`).Length() != 1 {
		t.Fatalf("confirmation page: %d", ask.Status)
	}
	if r := h.c.Submit("/dashboard/links", "/dashboard/links/"+id+"/deactivate", url.Values{}); r.Status != http.StatusOK || r.Doc.Find(`[data-testid="confirm"]`).Length() != 1 || status() != "active" {
		t.Fatalf("unconfirmed post: %d, status %s", r.Status, status())
	}
	if r := h.c.Submit("/dashboard/links", "/dashboard/links/"+id+"/deactivate", url.Values{"confirm": {"yes"}}); r.Status != http.StatusSeeOther || status() != "inactive" {
		t.Fatalf("confirmed: %d, status %s", r.Status, status())
	}
	p = h.c.Get("/dashboard/links")
	if p.Doc.Find(`[data-testid="link-row"] [data-testid="link-reactivate"]`).Length() != 1 {
		t.Fatal("no reactivate button on an inactive link")
	}
	if r := h.c.Submit("/dashboard/links", "/dashboard/links/"+id+"/activate", url.Values{}, htmx...); r.Status != http.StatusNoContent || status() != "active" {
		t.Fatalf("reactivate: %d %s", r.Status, status())
	}

	// The QR code: a PNG attachment of the link's URL.
	qr := h.c.Get("/dashboard/links/" + id + "/qr.png")
	if qr.Status != http.StatusOK || qr.Header.Get("Content-Type") != "image/png" ||
		qr.Header.Get("Content-Disposition") != `attachment; filename="till-`+slug+`.png"` {
		t.Fatalf("qr: %d %v", qr.Status, qr.Header)
	}
	img, err := png.Decode(bytes.NewReader([]byte(qr.Body)))
	if err != nil || img.Bounds().Dx() != 512 {
		t.Fatalf("qr is not a 512 px PNG: %v", err)
	}
	if h.c.Get("/dashboard/links/not-a-uuid/qr.png").Status != http.StatusNotFound {
		t.Error("bad id not 404")
	}
}
