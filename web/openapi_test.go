package web_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"till/static"
	"till/web/webtest"
)

// TestOpenAPIDocuments: both documents are OpenAPI 3.1 and valid against
// the OpenAPI schema, with no errors.
func TestOpenAPIDocuments(t *testing.T) {
	kaspay, kirapay := webtest.APIDocs(t)
	for _, d := range []*webtest.APIDoc{kaspay, kirapay} {
		t.Run(d.Name, func(t *testing.T) {
			if !strings.HasPrefix(d.Model.Version, "3.1") {
				t.Fatalf("openapi = %q, want 3.1.x", d.Model.Version)
			}
			if ok, errs := d.Validator.ValidateDocument(); !ok {
				for _, e := range errs {
					t.Errorf("%s: %s", e.Message, e.Reason)
				}
			}
			if d.Model.Paths == nil || d.Model.Paths.PathItems.Len() == 0 {
				t.Fatal("no paths")
			}
		})
	}
	if kirapay.Model.Webhooks == nil || kirapay.Model.Webhooks.Len() != 3 {
		t.Fatalf("KiraPay webhooks: want transaction.created/succeeded/failed")
	}
}

// param matches a path parameter in either spelling: Fiber's :id, OpenAPI's {id}.
var param = regexp.MustCompile(`:[A-Za-z0-9_]+|\{[^}]+\}`)

// TestOpenAPIRoutes: every route of the KasPay group in the route table has
// its path and method in the KasPay document, and every KiraPay route in the
// KiraPay document.
func TestOpenAPIRoutes(t *testing.T) {
	env := webtest.New(t)
	kaspay, kirapay := webtest.APIDocs(t)
	documented := func(d *webtest.APIDoc) map[string]bool {
		out := map[string]bool{}
		for path, item := range d.Model.Paths.PathItems.FromOldest() {
			for method := range item.GetOperations().FromOldest() {
				out[strings.ToUpper(method)+" "+param.ReplaceAllString(path, "{}")] = true
			}
		}
		return out
	}
	inKasPay, inKiraPay := documented(kaspay), documented(kirapay)
	var checked int
	for _, r := range env.Server.App.GetRoutes(true) {
		// The KiraPay groups' catch-alls (every method on the group's prefix
		// and below it) answer 404 NOT_FOUND, documented as such, not as
		// operations.
		if r.Method == "HEAD" || !strings.HasPrefix(r.Path, "/api/") || strings.HasSuffix(r.Path, "/*") ||
			r.Path == "/api/link" && r.Method != "GET" || r.Path == "/api/wallet" || r.Path == "/api/admin" {
			continue
		}
		key := r.Method + " " + param.ReplaceAllString(r.Path, "{}")
		doc, want := "KasPay", inKasPay
		if webtest.IsKiraPayPath(r.Path) {
			doc, want = "KiraPay", inKiraPay
		}
		if !want[key] {
			t.Errorf("route %s %s is not in the %s document", r.Method, r.Path, doc)
		}
		checked++
	}
	if checked < 20 {
		t.Fatalf("checked only %d API routes: is the route table walked?", checked)
	}
}

// TestOpenAPIServed: both documents are served, public, as JSON, cacheable,
// byte for byte as embedded; /docs links them.
func TestOpenAPIServed(t *testing.T) {
	env := webtest.New(t)
	for _, tc := range []struct{ path, file string }{
		{"/api/openapi.json", static.OpenAPIKasPay},
		{"/api/kirapay/openapi.json", static.OpenAPIKiraPay},
	} {
		r := env.Do("GET", tc.path, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", tc.path, r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET %s: Content-Type %q", tc.path, ct)
		}
		if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
			t.Errorf("GET %s: Cache-Control %q", tc.path, cc)
		}
		want, err := static.OpenAPI.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Body, want) {
			t.Errorf("GET %s: body differs from %s", tc.path, tc.file)
		}
	}

	page := env.Do("GET", "/docs?api=kirapay", nil)
	if page.Status != 200 {
		t.Fatalf("GET /docs: %d", page.Status)
	}
	body := string(page.Body)
	for _, want := range []string{`href="/api/openapi.json"`, `href="/api/kirapay/openapi.json"`, `data-url="/api/kirapay/openapi.json"`,
		`href="/"`, `href="/docs?api=kaspay"`, `src="/static/js/swagger-ui-bundle.js"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/docs lacks %s", want)
		}
	}
	if csp := env.Do("GET", "/login", nil).Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("the site's CSP was loosened: %s", csp)
	}
}
