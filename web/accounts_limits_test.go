package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"till/models"
	"till/models/kaspa"
	"till/models/modeltest"
	"till/models/netguard"
	"till/web"
	"till/web/webtest"
	"till/workers/webhooks"
)

// behindProxy makes the in-process app believe X-Forwarded-For, so one test
// can be several client IPs.
func behindProxy(o *web.Options) { o.TrustedProxies = []string{"0.0.0.0/0", "::/0"} }

func loginJSON(env *webtest.Env, ip, email, password string) webtest.Response {
	return env.Do("POST", "/api/auth/login", map[string]any{"email": email, "password": password}, "X-Forwarded-For", ip)
}

// loginHTML posts the login form (with a CSRF token of c's session) as ip.
func loginHTML(t *testing.T, c *webtest.Client, ip, email, password string) webtest.Page {
	t.Helper()
	return c.Submit("/login", "/login", url.Values{"email": {email}, "password": {password}}, "X-Forwarded-For", ip)
}

// TestLoginLimitSharedBetweenJSONAndHTML: the JSON and the HTML login draw
// from one budget per client IP and one per account; beyond it even the
// right password is refused (429 with Retry-After, in each surface's format).
func TestLoginLimitSharedBetweenJSONAndHTML(t *testing.T) {
	env := webtest.New(t, behindProxy, func(o *web.Options) { o.AuthRateLimit = 4 })
	m := env.Register("limit@example.com", "Limit Shop", webtest.AddrA)
	c := env.Client()

	// Per IP: two JSON and two HTML failures from one IP, on different
	// accounts, exhaust it.
	const ip = "203.0.113.7"
	for i := 0; i < 2; i++ {
		if r := loginJSON(env, ip, "nobody"+strconv.Itoa(i)+"@example.com", "wrong password"); r.Status != 401 {
			t.Fatalf("json attempt %d: %d", i, r.Status)
		}
		if p := loginHTML(t, c, ip, "ghost"+strconv.Itoa(i)+"@example.com", "wrong password"); p.Status != 401 {
			t.Fatalf("html attempt %d: %d", i, p.Status)
		}
	}
	r := loginJSON(env, ip, m.Email, m.Password)
	if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Error(t), "Too many requests") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("json after the IP budget: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Error("429 of the login without no-store")
	}
	p := loginHTML(t, c, ip, m.Email, m.Password)
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.TestID("form-error"), "Too many sign-in attempts") || p.Header.Get("Retry-After") == "" {
		t.Fatalf("html after the IP budget: %d %q", p.Status, p.TestID("form-error"))
	}
	if loginJSON(env, "203.0.113.8", m.Email, m.Password).Status != http.StatusOK {
		t.Fatal("another IP is limited too")
	}

	// Per account: failures on one account from many IPs, half JSON, half
	// HTML, exhaust the account's budget (the success above counted too).
	for i := 0; i < 3; i++ {
		a := "198.51.100." + strconv.Itoa(10+i)
		if i%2 == 0 {
			loginJSON(env, a, strings.ToUpper(m.Email), "wrong password")
		} else {
			loginHTML(t, c, a, m.Email, "wrong password")
		}
	}
	if r := loginJSON(env, "198.51.100.99", m.Email, m.Password); r.Status != http.StatusTooManyRequests {
		t.Fatalf("json after the account budget, from a fresh IP: %d %s", r.Status, r.Body)
	}
	if p := loginHTML(t, c, "198.51.100.98", m.Email, m.Password); p.Status != http.StatusTooManyRequests {
		t.Fatalf("html after the account budget, from a fresh IP: %d", p.Status)
	}
	if loginJSON(env, "198.51.100.97", "other@example.com", "wrong password").Status != 401 {
		t.Fatal("another account is limited too")
	}
}

// TestLoginLimitAcrossInstances: two Till apps over one database (two
// `till serve` processes) share the login budget, and a window that ended
// gives a fresh budget.
func TestLoginLimitAcrossInstances(t *testing.T) {
	dbURL := modeltest.URL(t)
	now := time.Now()
	clock := func() time.Time { return now }
	open := func() *webtest.Env {
		db, err := models.Open(context.Background(), dbURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		sealer, err := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
		if err != nil {
			t.Fatal(err)
		}
		store := models.NewStore(db, models.StoreOptions{Sealer: sealer, Network: kaspa.Mainnet, BcryptCost: 4, Now: func() time.Time { return clock() }})
		o := web.Options{Store: store, BaseURL: "http://till.test", Secret: modeltest.TestSecret,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AuthRateLimit: 3, AuthRateWindow: time.Minute,
			PublicRateLimit: 1000, Version: "test"}
		behindProxy(&o)
		return &webtest.Env{T: t, Store: store, Server: web.New(o)}
	}
	a, b := open(), open()
	m := a.Register("twins@example.com", "Twins", webtest.AddrA)

	const ip = "192.0.2.44"
	if r := loginJSON(a, ip, m.Email, "wrong password"); r.Status != 401 {
		t.Fatalf("a: %d", r.Status)
	}
	if r := loginJSON(b, ip, m.Email, "wrong password"); r.Status != 401 {
		t.Fatalf("b: %d", r.Status)
	}
	if p := loginHTML(t, b.Client(), ip, m.Email, "wrong password"); p.Status != 401 {
		t.Fatalf("b html: %d", p.Status)
	}
	for _, env := range []*webtest.Env{a, b} {
		if r := loginJSON(env, ip, m.Email, m.Password); r.Status != http.StatusTooManyRequests {
			t.Fatalf("after 3 attempts spread over two instances: %d %s", r.Status, r.Body)
		}
	}
	// Retry-After tells how long is left of the window; after it, the
	// budget is back.
	r := loginJSON(a, ip, m.Email, m.Password)
	if ra, _ := strconv.Atoi(r.Header.Get("Retry-After")); ra < 1 || ra > 60 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	now = now.Add(61 * time.Second)
	if r := loginJSON(b, ip, m.Email, m.Password); r.Status != http.StatusOK {
		t.Fatalf("after the window: %d %s", r.Status, r.Body)
	}
}

// TestRegisterLimitShared: registration keeps its own per-IP budget (API
// and sign-up page each), now shared by every instance.
func TestRegisterLimitShared(t *testing.T) {
	env := webtest.New(t, func(o *web.Options) { o.AuthRateLimit = 2 })
	for i := 0; i < 2; i++ {
		if r := env.Do("POST", "/api/auth/register", `{}`); r.Status != 400 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	r := env.Do("POST", "/api/auth/register", `{}`)
	if r.Status != 429 || !strings.Contains(r.Error(t), "Too many requests") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("register after the budget: %d %s", r.Status, r.Body)
	}
	// Login has its own budget.
	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": "x@example.com", "password": "wrong password"}); r.Status != 401 {
		t.Fatalf("login after the register budget: %d", r.Status)
	}
}

// TestWebhookTestLimits: one pending test delivery per endpoint (a second
// is refused until the first is delivered) and at most 10 test events a
// minute per merchant, on the API and the dashboard.
func TestWebhookTestLimits(t *testing.T) {
	env := webtest.New(t, func(o *web.Options) { o.WebhookAllowPrivate = true })
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	defer recv.Close()
	m := env.Register("hooks@example.com", "Hook Shop", webtest.AddrA)
	create := func(path string) string {
		r := env.Do("POST", "/api/webhooks", map[string]any{"url": recv.URL + path, "events": []string{"*"}}, m.Bearer()...)
		if r.Status != 200 {
			t.Fatalf("webhook: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["id"].(string)
	}
	id := create("/a")
	if r := env.Do("POST", "/api/webhooks/"+id+"/test", nil, m.Bearer()...); r.Status != http.StatusAccepted {
		t.Fatalf("first test: %d %s", r.Status, r.Body)
	}
	r := env.Do("POST", "/api/webhooks/"+id+"/test", nil, m.Bearer()...)
	if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Error(t), "still pending") || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second test while pending: %d %s", r.Status, r.Body)
	}
	// The dashboard button says the same on a page.
	c, _ := loginPage(t, env, m.Email, m.Password)
	page := "/dashboard/webhooks/" + id
	p := c.Submit(page, page+"/test", url.Values{})
	if p.Status != http.StatusTooManyRequests || !strings.Contains(p.TestID("error-message"), "still pending") {
		t.Fatalf("dashboard test while pending: %d %q", p.Status, p.TestID("error-message"))
	}
	d := &webhooks.Dispatcher{Store: env.Store, Policy: &netguard.Policy{AllowPrivate: true}, Timeout: 5 * time.Second}
	if n, err := d.DeliverDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("deliver: %d %v", n, err)
	}
	if p := c.Submit(page, page+"/test", url.Values{}); p.Status != http.StatusSeeOther {
		t.Fatalf("dashboard test once delivered: %d %q", p.Status, p.TestID("error-message"))
	}
	if n, _ := d.DeliverDue(context.Background()); n != 1 {
		t.Fatalf("deliver: %d", n)
	}
	// Per merchant: 4 asked so far (2 accepted, 2 refused: all count); fill
	// the minute with fresh endpoints, then the next is refused.
	sent := 4
	for ; sent < models.TestWebhookLimit.Max; sent++ {
		if r := env.Do("POST", "/api/webhooks/"+create("/e"+strconv.Itoa(sent))+"/test", nil, m.Key()...); r.Status != http.StatusAccepted {
			t.Fatalf("test %d: %d %s", sent+1, r.Status, r.Body)
		}
	}
	r = env.Do("POST", "/api/webhooks/"+create("/over")+"/test", nil, m.Bearer()...)
	if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Error(t), "Too many test events") {
		t.Fatalf("test beyond the merchant rate: %d %s", r.Status, r.Body)
	}
	// Another merchant is not affected.
	o := env.Register("other-hooks@example.com", "Other", webtest.AddrB)
	oid := env.Do("POST", "/api/webhooks", map[string]any{"url": recv.URL + "/o", "events": []string{"*"}}, o.Bearer()...).JSON(t)["id"].(string)
	if r := env.Do("POST", "/api/webhooks/"+oid+"/test", nil, o.Bearer()...); r.Status != http.StatusAccepted {
		t.Fatalf("other merchant: %d %s", r.Status, r.Body)
	}
}

// TestCredentialResponsesNoStore: every response that carries a credential
// says Cache-Control: no-store.
func TestCredentialResponsesNoStore(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("cache@example.com", "Cache Shop", webtest.AddrA)
	api := []struct {
		name           string
		method, path   string
		body           any
		headers        []string
		wantStatus     int
		wantCredential string
	}{
		{"register", "POST", "/api/auth/register", map[string]any{"email": "new@example.com", "password": "securepassword", "name": "New", "kaspaAddress": webtest.AddrA}, nil, 200, "token"},
		{"register refused", "POST", "/api/auth/register", map[string]any{"email": "bad"}, nil, 400, ""},
		{"login", "POST", "/api/auth/login", map[string]any{"email": m.Email, "password": m.Password}, nil, 200, "token"},
		{"login refused", "POST", "/api/auth/login", map[string]any{"email": m.Email, "password": "wrong password"}, nil, 401, ""},
		{"me", "GET", "/api/auth/me", nil, m.Key(), 200, "apiKey"},
		{"rotate", "POST", "/api/settings/api-key", nil, m.Bearer(), 200, "apiKey"},
	}
	for _, tc := range api {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do(tc.method, tc.path, tc.body, tc.headers...)
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if tc.wantCredential != "" && r.JSON(t)[tc.wantCredential] == "" {
				t.Fatalf("no %s in %s", tc.wantCredential, r.Body)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control %q", got)
			}
		})
	}

	// Dashboard: the login that sets the cookie, the API key reveal and
	// rotation (page and fragment), the password change.
	c := env.Client()
	login := c.Submit("/login", "/login", url.Values{"email": {m.Email}, "password": {m.Password}})
	pages := map[string]webtest.Page{
		"login sets the cookie": login,
		"api key reveal page":   c.Get("/dashboard/settings/api-key"),
		"api key reveal htmx":   c.Get("/dashboard/settings/api-key", "HX-Request", "true"),
		"api key rotation":      c.Submit("/dashboard/settings", "/dashboard/settings/api-key", url.Values{"confirm": {"yes"}}),
		"password change": c.Submit("/dashboard/settings", "/dashboard/settings/password", url.Values{
			"currentPassword": {m.Password}, "newPassword": {"a fresh passphrase"}, "confirmPassword": {"a fresh passphrase"}}),
	}
	for name, p := range pages {
		if p.Status >= 400 {
			t.Errorf("%s: status %d", name, p.Status)
		}
		if got := p.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, got)
		}
	}
}

// TestBidiOverridesRefused: every text field refuses the Unicode
// bidirectional embedding, override and isolate characters with a 400 (the
// way control characters are refused), on the API and the dashboard.
func TestBidiOverridesRefused(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("bidi@example.com", "Bidi Shop", webtest.AddrA)
	link := env.Do("POST", "/api/links", map[string]any{"title": "Plain", "amount": 1, "currency": "KAS"}, m.Bearer()...).JSON(t)
	for _, r := range []rune{0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069} {
		evil := "invoice " + string(r) + "fdp.exe"
		cases := []struct {
			name, method, path string
			body               map[string]any
			auth               []string
			msg                string
		}{
			{"link title", "POST", "/api/links", map[string]any{"title": evil, "amount": 1, "currency": "KAS"}, m.Bearer(), "Title must not contain bidirectional override characters"},
			{"link description", "POST", "/api/links", map[string]any{"title": "ok", "description": evil, "amount": 1, "currency": "KAS"}, m.Bearer(), "Description must not contain bidirectional"},
			{"link success message", "PATCH", "/api/links/" + link["id"].(string), map[string]any{"successMessage": evil}, m.Bearer(), "must not contain bidirectional"},
			{"merchant name", "PATCH", "/api/settings", map[string]any{"name": evil}, m.Key(), "Name must not contain bidirectional"},
			{"register name", "POST", "/api/auth/register", map[string]any{"email": "x" + strconv.Itoa(int(r)) + "@example.com", "password": "securepassword", "name": evil, "kaspaAddress": webtest.AddrA}, nil, "Name must not contain bidirectional"},
			{"webhook description", "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}, "description": evil}, m.Bearer(), "must not contain bidirectional"},
			{"customer name", "POST", "/api/payments", map[string]any{"paymentLinkSlug": link["slug"], "customerName": evil}, nil, "must not contain bidirectional"},
		}
		for _, tc := range cases {
			t.Run(tc.name+" "+strconv.QuoteRune(r), func(t *testing.T) {
				resp := env.Do(tc.method, tc.path, tc.body, tc.auth...)
				if resp.Status != 400 || !strings.Contains(resp.Error(t), tc.msg) {
					t.Fatalf("got %d %s, want 400 %q", resp.Status, resp.Body, tc.msg)
				}
			})
		}
	}
	// Nothing was stored; ordinary right-to-left text is still fine.
	if n := len(env.Do("GET", "/api/links", nil, m.Bearer()...).JSON(t)["data"].([]any)); n != 1 {
		t.Fatalf("%d links", n)
	}
	if r := env.Do("PATCH", "/api/settings", map[string]any{"name": "متجر Bidi"}, m.Key()...); r.Status != 200 {
		t.Fatalf("Arabic name refused: %d %s", r.Status, r.Body)
	}
	// The dashboard settings form shows the message on the field.
	c, _ := loginPage(t, env, m.Email, m.Password)
	p := c.Submit("/dashboard/settings", "/dashboard/settings", url.Values{"name": {"Shop \u202egnp.exe"}, "kaspaAddress": {webtest.AddrA},
		"paymentExpiry": {"30"}, "requiredConfirmations": {"100"}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.TestID("error-name"), "bidirectional") {
		t.Fatalf("dashboard: %d %q", p.Status, p.TestID("error-name"))
	}
}

// TestPasswordRules: at least 10 characters and not a common password, on
// the API and the sign-up page; the KasPay document's example password
// ("securepassword") is accepted.
func TestPasswordRules(t *testing.T) {
	env := webtest.New(t)
	reg := func(email, pw string) webtest.Response {
		return env.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": pw, "name": "Rules", "kaspaAddress": webtest.AddrA})
	}
	refused := []struct{ pw, msg string }{
		{"short", "Password must be at least 10 characters"},
		{"nine char", "Password must be at least 10 characters"},
		{"password123", "This password is too common"},
		{"PassWord123", "This password is too common"},
		{"qwertyuiop", "This password is too common"},
		{"1234567890", "This password is too common"},
		{"iloveyou123", "This password is too common"},
		{"aaaaaaaaaaaa", "This password is too common"},
		{"football2024", "This password is too common"},
		{"1q2w3e4r5t6y", "This password is too common"},
	}
	for i, tc := range refused {
		t.Run(tc.pw, func(t *testing.T) {
			r := reg("rules"+strconv.Itoa(i)+"@example.com", tc.pw)
			if r.Status != 400 || !strings.Contains(r.Error(t), tc.msg) {
				t.Fatalf("got %d %s, want 400 %q", r.Status, r.Body, tc.msg)
			}
		})
	}
	// The document's own example request registers.
	doc := `{"email": "merchant@example.com", "password": "securepassword", "name": "My Store", "kaspaAddress": "` + webtest.AddrA + `"}`
	if r := env.Do("POST", "/api/auth/register", doc); r.Status != 200 {
		t.Fatalf("the KasPay document's example: %d %s", r.Status, r.Body)
	}
	if r := env.Do("POST", "/api/auth/login", `{"email": "merchant@example.com", "password": "securepassword"}`); r.Status != 200 {
		t.Fatalf("the KasPay document's login example: %d %s", r.Status, r.Body)
	}
	// Sign-up page: the message sits on the password field.
	p := env.Client().Submit("/signup", "/signup", url.Values{"name": {"Page"}, "email": {"page@example.com"}, "password": {"Welcome2024"}, "kaspaAddress": {webtest.AddrA}})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.TestID("error-password"), "too common") {
		t.Fatalf("signup: %d %q", p.Status, p.TestID("error-password"))
	}
}

// TestNextRedirect: the post-login target is a path on this site or the
// dashboard; control and whitespace characters (raw or as the query's
// %-escapes), backslashes and a second slash at the start are refused.
func TestNextRedirect(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("next@example.com", "Next Shop", webtest.AddrA)
	cases := []struct{ next, want string }{
		{"/dashboard/settings", "/dashboard/settings"},
		{"/dashboard/payments?status=confirmed&q=coffee", "/dashboard/payments?status=confirmed&q=coffee"},
		{"/dashboard/links#top", "/dashboard/links#top"},
		{"/%09/evil.com", "/%09/evil.com"}, // an escaped tab stays escaped: a path here
		{"", "/dashboard"},
		{"/\t/evil.com", "/dashboard"},
		{"/\n/evil.com", "/dashboard"},
		{"/\r/evil.com", "/dashboard"},
		{"/\r\nSet-Cookie: x=1", "/dashboard"},
		{"/ /evil.com", "/dashboard"},
		{" /dashboard", "/dashboard"},
		{"/dashboard ", "/dashboard"},
		{"/\v/evil.com", "/dashboard"},
		{"/\f/evil.com", "/dashboard"},
		{"/\x00/evil.com", "/dashboard"},
		{"/\x7f/evil.com", "/dashboard"},
		{"/\u00a0/evil.com", "/dashboard"},
		{"/\u2028/evil.com", "/dashboard"},
		{"/\u200b/evil.com", "/dashboard"},
		{"/\u202e/moc.live", "/dashboard"},
		{"/\ufeff/evil.com", "/dashboard"},
		{"//evil.com", "/dashboard"},
		{"///evil.com", "/dashboard"},
		{"/\\evil.com", "/dashboard"},
		{"/\\/evil.com", "/dashboard"},
		{"\\\\evil.com", "/dashboard"},
		{"\\/evil.com", "/dashboard"},
		{"/dashboard\\..\\evil", "/dashboard"},
		{"/%2F/evil.com", "/dashboard"},
		{"https://evil.com", "/dashboard"},
		{"http:/evil.com", "/dashboard"},
		{"javascript:alert(1)", "/dashboard"},
		{"evil.com", "/dashboard"},
		{"dashboard", "/dashboard"},
		{"\t/dashboard", "/dashboard"},
		{"/\xff/evil.com", "/dashboard"},
	}
	for _, tc := range cases {
		t.Run(strconv.Quote(tc.next), func(t *testing.T) {
			c := env.Client()
			// The form carries the cleaned target…
			f := c.Get("/login?next=" + url.QueryEscape(tc.next))
			if v, _ := f.Doc.Find(`input[name="next"]`).Attr("value"); v != tc.want {
				t.Errorf("login form next = %q, want %q", v, tc.want)
			}
			// …and the login redirects only there, whatever is posted.
			p := c.Submit("/login", "/login", url.Values{"email": {m.Email}, "password": {m.Password}, "next": {tc.next}})
			if p.Status != http.StatusSeeOther || p.Header.Get("Location") != tc.want {
				t.Fatalf("login redirected %d to %q, want %q", p.Status, p.Header.Get("Location"), tc.want)
			}
		})
	}
	// The exact report: GET /login?next=/%09/evil.com, then sign in.
	c := env.Client()
	f := c.Get("/login?next=/%09/evil.com")
	next, _ := f.Doc.Find(`input[name="next"]`).Attr("value")
	p := c.Submit("/login", "/login", url.Values{"email": {m.Email}, "password": {m.Password}, "next": {next}})
	if p.Header.Get("Location") != "/dashboard" {
		t.Fatalf("Location %q", p.Header.Get("Location"))
	}
	// An anonymous visit sends the visited path along, escaped.
	r := env.Client().Get("/dashboard/payments?status=confirmed&q=a")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?next="+url.QueryEscape("/dashboard/payments?status=confirmed&q=a") {
		t.Fatalf("anonymous: %d %q", r.Status, r.Header.Get("Location"))
	}
}

// TestWebhookTestPendingRace: concurrent test requests on one endpoint (many
// connections on Postgres) queue exactly one delivery.
func TestWebhookTestPendingRace(t *testing.T) {
	env := webtest.New(t, func(o *web.Options) { o.WebhookAllowPrivate = true })
	m := env.Register("race-hooks@example.com", "Race Hooks", webtest.AddrA)
	id := env.Do("POST", "/api/webhooks", map[string]any{"url": "http://127.0.0.1:9/race", "events": []string{"*"}}, m.Bearer()...).JSON(t)["id"].(string)
	const n = 8
	statuses := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() { statuses <- env.Do("POST", "/api/webhooks/"+id+"/test", nil, m.Key()...).Status }()
	}
	accepted := 0
	for i := 0; i < n; i++ {
		switch st := <-statuses; st {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d", st)
		}
	}
	ds := env.Do("GET", "/api/webhooks/"+id+"/deliveries", nil, m.Bearer()...).JSON(t)["data"].([]any)
	if accepted != 1 || len(ds) != 1 {
		t.Fatalf("%d accepted, %d deliveries; want one of each", accepted, len(ds))
	}
}
