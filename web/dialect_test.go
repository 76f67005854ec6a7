package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
	"till/models"
	"till/web"
	"till/web/middleware"
	"till/web/webtest"
)

// mountTestGroups adds, after the real route table, one test-only group per
// dialect under a prefix that is not /api, each with routes that fail in
// every way the error handler renders. The KasPay and KiraPay groups prove
// the answer follows the group's dialect, not the path. The HTML group gets
// its dialect from the real HTML group's middleware, which runs first.
func mountTestGroups(app *fiber.App) {
	failures := func(g fiber.Router) {
		g.Get("/invalid", func(c *fiber.Ctx) error { return models.Invalid("email", "Enter a valid email address") })
		g.Get("/missing", func(c *fiber.Ctx) error { return &models.NotFoundError{What: "Payment link"} })
		g.Get("/expired", func(c *fiber.Ctx) error {
			return &models.StateError{Reason: models.ErrLinkExpired, Message: models.MsgLinkExpired}
		})
		g.Get("/panic", func(c *fiber.Ctx) error { panic("boom") })
		g.Get("/big", func(c *fiber.Ctx) error { return fiber.ErrRequestEntityTooLarge })
		g.Get("/limited", func(c *fiber.Ctx) error {
			return &models.RateLimitError{Message: "Too many requests, please slow down", RetryAfter: 1500 * time.Millisecond}
		})
		g.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	}
	failures(app.Group("/testonly/kaspay", middleware.Dialect(render.DialectKasPay)))
	failures(app.Group("/testonly/kirapay", middleware.Dialect(render.DialectKiraPay)))
	failures(app.Group("/testonly/html"))
}

// TestErrorDialectByGroup: each failure answers in its group's dialect —
// KasPay byte-exact {"error": …}, KiraPay {statusCode, message, timestamp,
// path}, HTML an error page — whatever the path prefix.
func TestErrorDialectByGroup(t *testing.T) {
	env := webtest.New(t)
	mountTestGroups(env.Server.App)
	cases := []struct {
		path   string
		status int
		kaspay string // exact KasPay body
		kira   string // KiraPay message
		html   string // HTML error-message text
	}{
		{"/invalid", 400, `{"error":"Enter a valid email address"}`, "VALIDATION_ERROR", "Enter a valid email address"},
		{"/missing", 404, `{"error":"Payment link not found"}`, "Payment link not found", "Payment link not found"},
		{"/expired", 400, `{"error":"Payment link has expired"}`, "LINK_EXPIRED", "Payment link has expired"},
		{"/panic", 500, `{"error":"Internal server error"}`, "Internal server error", "Internal server error"},
		{"/big", 413, `{"error":"Request body too large"}`, "PAYLOAD_TOO_LARGE", "Request body too large"},
		{"/limited", 429, `{"error":"Too many requests, please slow down"}`, "TOO_MANY_REQUESTS", "Too many requests, please slow down"},
		{"/nowhere?x=1", 404, `{"error":"Not found"}`, "NOT_FOUND", "Not found"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			r := env.Do("GET", "/testonly/kaspay"+tc.path, nil)
			if r.Status != tc.status || string(r.Body) != tc.kaspay || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("kaspay: %d %s, want %d %s", r.Status, r.Body, tc.status, tc.kaspay)
			}
			if tc.status == 429 && r.Header.Get("Retry-After") != "2" {
				t.Errorf("kaspay Retry-After %q", r.Header.Get("Retry-After"))
			}

			before := time.Now().UTC().Truncate(time.Millisecond)
			r = env.Do("GET", "/testonly/kirapay"+tc.path, nil)
			after := time.Now().UTC()
			var kb struct {
				StatusCode int    `json:"statusCode"`
				Message    string `json:"message"`
				Timestamp  string `json:"timestamp"`
				Path       string `json:"path"`
			}
			if err := json.Unmarshal(r.Body, &kb); err != nil {
				t.Fatalf("kirapay body %s: %v", r.Body, err)
			}
			if r.Status != tc.status || kb.StatusCode != tc.status || kb.Message != tc.kira || kb.Path != "/testonly/kirapay"+tc.path ||
				len(mustJSONObject(t, r.Body)) != 4 {
				t.Errorf("kirapay: %d %s, want %d %q", r.Status, r.Body, tc.status, tc.kira)
			}
			ts, err := time.Parse(render.KiraPayTimeFormat, kb.Timestamp)
			if err != nil || ts.Before(before) || ts.After(after) || len(kb.Timestamp) != len("2006-01-02T15:04:05.000Z") {
				t.Errorf("kirapay timestamp %q (%v) not within [%v, %v]", kb.Timestamp, err, before, after)
			}

			c := env.Client()
			p := c.Get("/testonly/html" + tc.path)
			if p.Status != tc.status || p.TestID("error-message") != tc.html || !strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") {
				t.Errorf("html: %d %q, want %d %q", p.Status, p.TestID("error-message"), tc.status, tc.html)
			}
		})
	}
}

func mustJSONObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %s", b)
	}
	return m
}

// TestErrorDialectRealRoutes: the real KasPay and HTML groups answer a
// validation error, a not-found, the catch-all, a 405, a 413 and a 429 as
// they always have (KasPay byte-exact).
func TestErrorDialectRealRoutes(t *testing.T) {
	env := webtest.New(t, func(o *web.Options) { o.AuthRateLimit = 1 })
	base := env.Listen()

	api := []struct {
		name, method, path, body string
		status                   int
		want                     string
	}{
		{"validation", "POST", "/api/payments", `{}`, 400, `{"error":"paymentLinkSlug is required"}`},
		{"not found", "GET", "/api/payments/00000000-0000-0000-0000-000000000000/status", "", 404, `{"error":"Payment not found"}`},
		{"catch-all", "GET", "/api/nowhere", "", 404, `{"error":"Not found"}`},
		{"catch-all other method", "DELETE", "/api/links", "", 404, `{"error":"Not found"}`},
		{"register within budget", "POST", "/api/auth/register", `{}`, 400, ""},
		{"register over budget", "POST", "/api/auth/register", `{}`, 429, `{"error":"Too many requests, please try again later"}`},
	}
	for _, tc := range api {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		r := env.Do(tc.method, tc.path, body)
		if r.Status != tc.status || tc.want != "" && string(r.Body) != tc.want {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.want)
		}
	}
	if status, body := rawOversized(t, base, "/api/auth/register", "application/json"); status != 413 || body != `{"error":"Request body too large"}` {
		t.Errorf("api 413: %d %s", status, body)
	}

	c := env.Client()
	for _, tc := range []struct {
		name, method, path string
		status             int
		want               string
	}{
		{"not found", "GET", "/pay/no-such-link-at-all/p/00000000-0000-0000-0000-000000000000", 404, ""},
		{"unknown path", "GET", "/nowhere", 404, "Not found"},
		{"wrong method", "GET", "/logout", 405, "Method not allowed"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		msg := strings.TrimSpace(doc.Find(`[data-testid="error-message"]`).First().Text())
		if resp.StatusCode != tc.status || tc.want != "" && msg != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("html %s: %d %q, want %d %q", tc.name, resp.StatusCode, msg, tc.status, tc.want)
		}
	}
	// Validation on a page: the sign-up form re-renders with its message.
	if p := c.Submit("/signup", "/signup", url.Values{"email": {"not-an-email"}}); p.Status != 422 || p.TestID("form-error") == "" && !strings.Contains(p.Body, "email") {
		t.Errorf("signup validation: %d", p.Status)
	}
	if p := c.Submit("/signup", "/signup", url.Values{"email": {"not-an-email"}}); p.Status != 429 ||
		!strings.Contains(p.TestID("error-message"), "Too many requests") || p.Header.Get("Retry-After") == "" {
		t.Errorf("signup over budget: %d %q", p.Status, p.TestID("error-message"))
	}
	if status, body := rawOversized(t, base, "/signup", "application/x-www-form-urlencoded"); status != 413 ||
		!strings.Contains(body, "Request body too large") || !strings.Contains(body, "<html") {
		t.Errorf("html 413: %d %.300s", status, body)
	}
}

// rawOversized announces a 2 MiB body to path over TCP and sends only its
// start; the server must refuse it with 413 before reading it all.
func rawOversized(t *testing.T, base, path, ctype string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: till.test\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\nemail=", path, ctype, 2<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}
