package web_test

import (
	"net/url"
	"strings"
	"testing"

	"till/web"
	"till/web/webtest"
)

func signupValues(email string) url.Values {
	return url.Values{"name": {"Page Shop"}, "email": {email}, "password": {"securepassword"}, "kaspaAddress": {webtest.AddrA}}
}

func TestSignupLoginLogoutPages(t *testing.T) {
	env := webtest.New(t)
	c := env.Client()

	if p := c.Get("/dashboard"); p.Status != 303 || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
		t.Fatalf("anonymous dashboard: %d %s", p.Status, p.Header.Get("Location"))
	}
	p := c.Get("/signup")
	if p.Status != 200 || p.Doc.Find(`form[action="/signup"] input[name="kaspaAddress"]`).Length() != 1 {
		t.Fatalf("signup page: %d", p.Status)
	}
	if p.Doc.Find(`label[for="email"]`).Length() != 1 {
		t.Error("email input has no label")
	}

	p = c.Submit("/signup", "/signup", signupValues("pages@example.com"))
	if p.Status != 303 || p.Header.Get("Location") != "/dashboard" {
		t.Fatalf("signup: %d %s", p.Status, p.Body)
	}
	p = c.Get("/dashboard")
	if p.Status != 200 || p.TestID("merchant-name") != "Page Shop" || !strings.Contains(p.TestID("flash"), "Welcome") {
		t.Fatalf("dashboard after signup: %d name=%q flash=%q", p.Status, p.TestID("merchant-name"), p.TestID("flash"))
	}
	for _, section := range []string{"links", "payments", "webhooks", "settings"} {
		sp := c.Get("/dashboard/" + section)
		if sp.Status != 200 || sp.Doc.Find(`[data-testid="nav-`+section+`"][aria-current="page"]`).Length() != 1 {
			t.Errorf("section %s: %d", section, sp.Status)
		}
		if section != "settings" && sp.Doc.Find(`[data-testid="empty-state"]`).Length() != 1 {
			t.Errorf("section %s has no empty state", section)
		}
	}

	p = c.Submit("/dashboard", "/logout", url.Values{})
	if p.Status != 303 || p.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d", p.Status)
	}
	if p := c.Get("/dashboard"); p.Status != 303 {
		t.Fatalf("dashboard after logout: %d", p.Status)
	}

	p = c.Submit("/login", "/login", url.Values{"email": {"pages@example.com"}, "password": {"wrong-password"}})
	if p.Status != 401 || p.TestID("form-error") != "Invalid email or password" {
		t.Fatalf("bad login: %d %q", p.Status, p.TestID("form-error"))
	}
	if v, _ := p.Doc.Find(`input[name="email"]`).Attr("value"); v != "pages@example.com" {
		t.Errorf("email not kept after a failed login: %q", v)
	}
	p = c.Submit("/login", "/login", url.Values{"email": {"pages@example.com"}, "password": {"securepassword"}, "next": {"/dashboard/settings"}})
	if p.Status != 303 || p.Header.Get("Location") != "/dashboard/settings" {
		t.Fatalf("login: %d %s", p.Status, p.Header.Get("Location"))
	}
}

func TestSignupInlineErrors(t *testing.T) {
	env := webtest.New(t)
	c := env.Client()
	bad := url.Values{"name": {""}, "email": {"nope"}, "password": {"short"}, "kaspaAddress": {"kaspa:qqqq"}}
	p := c.Submit("/signup", "/signup", bad)
	if p.Status != 422 {
		t.Fatalf("status %d", p.Status)
	}
	for field, want := range map[string]string{
		"name": "Name is required", "email": "Invalid email format",
		"password": "at least 10 characters", "kaspaAddress": "Invalid Kaspa address",
	} {
		got := p.TestID("error-" + field)
		if !strings.Contains(got, want) {
			t.Errorf("%s error %q, want %q", field, got, want)
		}
		if inv, _ := p.Doc.Find(`#` + field).Attr("aria-invalid"); inv != "true" {
			t.Errorf("%s not marked aria-invalid", field)
		}
	}
	if v, _ := p.Doc.Find(`input[name="email"]`).Attr("value"); v != "nope" {
		t.Errorf("submitted email not kept: %q", v)
	}
	if v, _ := p.Doc.Find(`input[name="password"]`).Attr("value"); v != "" {
		t.Error("password echoed back into the form")
	}
	// Duplicate email shows on the email field.
	c.Submit("/signup", "/signup", signupValues("dup@example.com"))
	c2 := env.Client()
	p = c2.Submit("/signup", "/signup", signupValues("DUP@example.com"))
	if p.Status != 422 || p.TestID("error-email") != "Email already registered" {
		t.Fatalf("duplicate: %d %q", p.Status, p.TestID("error-email"))
	}
}

func TestCSRFRequired(t *testing.T) {
	env := webtest.New(t)
	c := env.Client()
	c.Get("/signup") // get a session cookie
	cases := []struct {
		name   string
		values url.Values
		header []string
	}{
		{"no token", signupValues("csrf@example.com"), nil},
		{"wrong token", func() url.Values { v := signupValues("csrf@example.com"); v.Set("_csrf", "forged"); return v }(), nil},
		{"wrong header", signupValues("csrf@example.com"), []string{"X-CSRF-Token", "forged"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := c.PostForm("/signup", tc.values, tc.header...)
			if p.Status != 403 || !strings.Contains(p.TestID("error-message"), "Reload the page") {
				t.Fatalf("got %d %q", p.Status, p.TestID("error-message"))
			}
		})
	}
	// The header form that htmx uses is accepted.
	p := c.Get("/signup")
	tok, _ := p.Doc.Find(`input[name="_csrf"]`).Attr("value")
	if r := c.PostForm("/signup", signupValues("csrf@example.com"), "X-CSRF-Token", tok); r.Status != 303 {
		t.Fatalf("header token rejected: %d", r.Status)
	}
	// None of the rejected posts created the account twice; it exists once.
	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": "csrf@example.com", "password": "securepassword"}); r.Status != 200 {
		t.Fatalf("account missing: %d", r.Status)
	}
}

func TestSettingsPage(t *testing.T) {
	env := webtest.New(t)
	c := env.Client()
	c.Submit("/signup", "/signup", signupValues("set@example.com"))

	p := c.Get("/dashboard/settings")
	if v, _ := p.Doc.Find(`#paymentExpiry`).Attr("value"); v != "30" {
		t.Fatalf("paymentExpiry field = %q", v)
	}
	// Invalid: inline errors, nothing saved.
	p = c.Submit("/dashboard/settings", "/dashboard/settings", url.Values{"name": {"New Name"}, "kaspaAddress": {webtest.AddrB}, "paymentExpiry": {"0"}, "requiredConfirmations": {"100"}})
	if p.Status != 422 || !strings.Contains(p.TestID("error-paymentExpiry"), "between 1 and 10080") {
		t.Fatalf("invalid settings: %d %q", p.Status, p.TestID("error-paymentExpiry"))
	}
	if p := c.Get("/dashboard/settings"); p.TestID("merchant-name") != "Page Shop" {
		t.Fatalf("name changed although the form was invalid: %q", p.TestID("merchant-name"))
	}
	// htmx save returns the form partial with a confirmation.
	p = c.Submit("/dashboard/settings", "/dashboard/settings", url.Values{"name": {"New Name"}, "kaspaAddress": {webtest.AddrB}, "paymentExpiry": {"45"}, "requiredConfirmations": {"250"}}, "HX-Request", "true")
	if p.Status != 200 || p.TestID("settings-saved") == "" || strings.Contains(p.Body, "<html") {
		t.Fatalf("htmx save: %d %s", p.Status, p.Body)
	}
	if p.Header.Get("Vary") == "" || !strings.Contains(p.Header.Get("Vary"), "HX-Request") {
		t.Errorf("Vary = %q", p.Header.Get("Vary"))
	}
	p = c.Get("/dashboard/settings")
	if v, _ := p.Doc.Find(`#paymentExpiry`).Attr("value"); v != "45" {
		t.Fatalf("paymentExpiry after save = %q", v)
	}
	if p.TestID("merchant-name") != "New Name" {
		t.Fatalf("name after save = %q", p.TestID("merchant-name"))
	}

	// API key: reveal shows the key /me reports; rotate replaces it.
	login := env.Do("POST", "/api/auth/login", map[string]any{"email": "set@example.com", "password": "securepassword"}).JSON(t)
	me := env.Do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+login["token"].(string)).JSON(t)
	p = c.Get("/dashboard/settings/api-key", "HX-Request", "true")
	if p.TestID("api-key-value") != me["apiKey"] {
		t.Fatalf("revealed %q, /me says %q", p.TestID("api-key-value"), me["apiKey"])
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Error("revealed key is cacheable")
	}
	p = c.Submit("/dashboard/settings", "/dashboard/settings/api-key", url.Values{}, "HX-Request", "true")
	newKey := p.TestID("api-key-value")
	if newKey == "" || newKey == me["apiKey"] || p.TestID("api-key-rotated") == "" {
		t.Fatalf("rotate: %q", newKey)
	}
	if r := env.Do("GET", "/api/auth/me", nil, "x-api-key", newKey); r.Status != 200 {
		t.Fatalf("rotated key rejected: %d", r.Status)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	env := webtest.New(t)
	c := env.Client()
	p := c.Submit("/signup", "/signup", signupValues("cookie@example.com"))
	cookie := p.Header.Get("Set-Cookie")
	for _, want := range []string{"till_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Error("Secure set on an http base URL")
	}
	secure := webtest.New(t, func(o *web.Options) { o.BaseURL = "https://pay.example.com" })
	p = secure.Client().Submit("/signup", "/signup", signupValues("cookie@example.com"))
	if !strings.Contains(p.Header.Get("Set-Cookie"), "Secure") {
		t.Errorf("https base URL: Set-Cookie %q lacks Secure", p.Header.Get("Set-Cookie"))
	}
}
