package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"till/web/webtest"
)

// The revocation tests of issue 8 §2.1: a copied dashboard cookie and an API
// JWT stop working after logout, "log out everywhere", a password change and
// an API key rotation, on every process sharing the database.

// copiedCookie is the till_session cookie a response set, as an attacker who
// copied it from the browser would replay it.
func copiedCookie(t *testing.T, p webtest.Page) *http.Cookie {
	t.Helper()
	for _, ck := range (&http.Response{Header: p.Header}).Cookies() {
		if ck.Name == "till_session" && ck.Value != "" {
			return ck
		}
	}
	t.Fatalf("no till_session cookie in %v", p.Header.Values("Set-Cookie"))
	return nil
}

// replay sends one request to env carrying only cookie (no jar, redirects
// not followed) and returns the status, the Location and the parsed page.
func replay(t *testing.T, env *webtest.Env, method, path string, cookie *http.Cookie, form url.Values) (int, string, *goquery.Document) {
	t.Helper()
	if env.URL == "" {
		env.Listen()
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, env.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(cookie)
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), doc
}

// loginPage logs m in with a fresh client and returns it with the cookie
// the login set.
func loginPage(t *testing.T, env *webtest.Env, email, password string) (*webtest.Client, *http.Cookie) {
	t.Helper()
	c := env.Client()
	p := c.Submit("/login", "/login", url.Values{"email": {email}, "password": {password}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("login %s: %d %s", email, p.Status, p.Text("main"))
	}
	return c, copiedCookie(t, p)
}

// assertCookieWorks checks that cookie still opens the settings page.
func assertCookieWorks(t *testing.T, env *webtest.Env, cookie *http.Cookie, what string) {
	t.Helper()
	if st, loc, _ := replay(t, env, "GET", "/dashboard/settings", cookie, nil); st != http.StatusOK {
		t.Fatalf("%s: settings answered %d → %s, want 200", what, st, loc)
	}
}

// assertCookieRefused checks that cookie is no longer a login: the settings
// page, the API key reveal and webhook creation all send it to the login page.
func assertCookieRefused(t *testing.T, env *webtest.Env, cookie *http.Cookie, csrf, what string) {
	t.Helper()
	for _, path := range []string{"/dashboard/settings", "/dashboard/settings/api-key", "/dashboard"} {
		st, loc, doc := replay(t, env, "GET", path, cookie, nil)
		if st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
			t.Fatalf("%s: GET %s answered %d → %q, want 303 to /login", what, path, st, loc)
		}
		if doc.Find(`[data-testid="api-key-value"]`).Length() != 0 {
			t.Fatalf("%s: GET %s revealed the API key", what, path)
		}
	}
	st, loc, _ := replay(t, env, "POST", "/dashboard/webhooks", cookie,
		url.Values{"_csrf": {csrf}, "url": {"https://hooks.example.com/stolen"}, "events": {"*"}})
	// The revoked cookie is forgotten with its CSRF token: 403 (or, were the
	// token still there, the login redirect).
	if st != http.StatusForbidden && (st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login")) {
		t.Fatalf("%s: webhook creation answered %d → %q", what, st, loc)
	}
}

// csrfOf reads the CSRF token a cookie's session carries (from a page it opens).
func csrfOf(t *testing.T, env *webtest.Env, cookie *http.Cookie) string {
	t.Helper()
	_, _, doc := replay(t, env, "GET", "/dashboard/settings", cookie, nil)
	tok, ok := doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		t.Fatal("no CSRF token on the settings page")
	}
	return tok
}

func apiStatus(t *testing.T, env *webtest.Env, token string) int {
	t.Helper()
	r := env.Do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+token)
	if r.Status == http.StatusUnauthorized && r.Error(t) != "Unauthorized" {
		t.Fatalf("401 body %s", r.Body)
	}
	return r.Status
}

func apiLogin(t *testing.T, env *webtest.Env, email, password string) string {
	t.Helper()
	r := env.Do("POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	if r.Status != http.StatusOK {
		t.Fatalf("api login: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["token"].(string)
}

// TestLogoutRevokesCopiedCookie: logout ends the session on the server, so a
// copy of the cookie taken while logged in stops working (it used to keep
// working for 7 days: settings, API key reveal, webhook creation).
func TestLogoutRevokesCopiedCookie(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("logout@example.com", "Logout Shop", webtest.AddrA)
	c, cookie := loginPage(t, env, m.Email, m.Password)
	_, other := loginPage(t, env, m.Email, m.Password)
	assertCookieWorks(t, env, cookie, "before logout")
	csrf := csrfOf(t, env, cookie)

	if p := c.Submit("/dashboard", "/logout", url.Values{}); p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d", p.Status)
	}
	assertCookieRefused(t, env, cookie, csrf, "copied cookie after logout")
	if p := c.Get("/dashboard"); p.Status != http.StatusSeeOther {
		t.Fatalf("the browser that logged out still opens the dashboard: %d", p.Status)
	}
	// Logout ends that session only: the merchant's other login goes on.
	assertCookieWorks(t, env, other, "another login after logout")
	if n := len(env.Do("GET", "/api/webhooks", nil, m.Bearer()...).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("the revoked cookie created %d webhooks", n)
	}
	if apiStatus(t, env, m.Token) != http.StatusOK {
		t.Fatal("logout of one browser revoked the API token")
	}
}

// TestLogoutEverywhere: the settings button signs out every browser (this
// one included) and revokes every JWT; the API key keeps working.
func TestLogoutEverywhere(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("everywhere@example.com", "Everywhere Shop", webtest.AddrA)
	c, mine := loginPage(t, env, m.Email, m.Password)
	oc, other := loginPage(t, env, m.Email, m.Password)
	csrf := csrfOf(t, env, other)
	tok := apiLogin(t, env, m.Email, m.Password)

	p := c.Get("/dashboard/settings")
	if p.Doc.Find(`form[action="/dashboard/settings/logout-everywhere"] input[name="_csrf"]`).Length() != 1 {
		t.Fatal("no log-out-everywhere form with a CSRF token on the settings page")
	}
	// Without the CSRF token nothing happens.
	if p := c.PostForm("/dashboard/settings/logout-everywhere", url.Values{}); p.Status != http.StatusForbidden {
		t.Fatalf("without CSRF: %d", p.Status)
	}
	assertCookieWorks(t, env, other, "after a forged post")

	p = c.Submit("/dashboard/settings", "/dashboard/settings/logout-everywhere", url.Values{})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/login" {
		t.Fatalf("logout everywhere: %d %s", p.Status, p.Header.Get("Location"))
	}
	if lp := c.Get("/login"); !strings.Contains(lp.TestID("flash"), "signed out on every device") {
		t.Errorf("login page flash %q", lp.TestID("flash"))
	}
	assertCookieRefused(t, env, mine, csrf, "this browser's cookie")
	assertCookieRefused(t, env, other, csrf, "another browser's cookie")
	for _, token := range []string{tok, m.Token} {
		if st := apiStatus(t, env, token); st != http.StatusUnauthorized {
			t.Fatalf("JWT after logout everywhere: %d", st)
		}
	}
	if r := env.Do("GET", "/api/auth/me", nil, m.Key()...); r.Status != http.StatusOK {
		t.Fatalf("API key after logout everywhere: %d", r.Status)
	}
	// The other browser, still holding its revoked cookie, opens the login
	// page and can sign in again from there (the form's CSRF token must
	// survive the revoked cookie being forgotten).
	if p := oc.Submit("/login", "/login", url.Values{"email": {m.Email}, "password": {m.Password}}); p.Status != http.StatusSeeOther {
		t.Fatalf("signing in again with a revoked cookie in the jar: %d %s", p.Status, p.Text("main"))
	}
	if p := oc.Get("/dashboard/settings"); p.Status != http.StatusOK {
		t.Fatalf("after signing in again: %d", p.Status)
	}
	// Signing in again works, and issues working credentials.
	_, fresh := loginPage(t, env, m.Email, m.Password)
	assertCookieWorks(t, env, fresh, "a new login")
	if apiStatus(t, env, apiLogin(t, env, m.Email, m.Password)) != http.StatusOK {
		t.Fatal("a new JWT is refused")
	}
}

// TestPasswordChangeRevokes: a password change keeps the browser that made
// it signed in and refuses every other cookie (and older copies of its own)
// and every older JWT.
func TestPasswordChangeRevokes(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("change@example.com", "Change Shop", webtest.AddrA)
	c, before := loginPage(t, env, m.Email, m.Password)
	_, other := loginPage(t, env, m.Email, m.Password)
	csrf := csrfOf(t, env, other)
	tok := apiLogin(t, env, m.Email, m.Password)

	const newPW = "a much better passphrase"
	p := c.Submit("/dashboard/settings", "/dashboard/settings/password",
		url.Values{"currentPassword": {m.Password}, "newPassword": {newPW}, "confirmPassword": {newPW}})
	if p.Status != http.StatusSeeOther || p.Header.Get("Location") != "/dashboard/settings" {
		t.Fatalf("change: %d %s", p.Status, p.Text("main"))
	}
	p = c.Get("/dashboard/settings")
	if p.Status != http.StatusOK || !strings.Contains(p.TestID("flash"), "Password changed") {
		t.Fatalf("the browser that changed the password: %d flash %q", p.Status, p.TestID("flash"))
	}
	assertCookieRefused(t, env, other, csrf, "another login")
	assertCookieRefused(t, env, before, csrf, "this browser's cookie from before the change")
	for _, token := range []string{tok, m.Token} {
		if st := apiStatus(t, env, token); st != http.StatusUnauthorized {
			t.Fatalf("JWT from before the change: %d", st)
		}
	}
	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": m.Email, "password": m.Password}); r.Status != http.StatusUnauthorized {
		t.Fatalf("old password still logs in: %d", r.Status)
	}
	if apiStatus(t, env, apiLogin(t, env, m.Email, newPW)) != http.StatusOK {
		t.Fatal("JWT issued after the change is refused")
	}
}

// TestPasswordChangeForm: every refusal is explained next to its field and
// changes nothing; htmx gets the form fragment.
func TestPasswordChangeForm(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("form@example.com", "Form Shop", webtest.AddrA)
	c, _ := loginPage(t, env, m.Email, m.Password)
	cases := []struct {
		name, current, next, again, field, msg string
	}{
		{"wrong current", "not my password", "a much better passphrase", "a much better passphrase", "currentPassword", "Current password is incorrect"},
		{"missing current", "", "a much better passphrase", "a much better passphrase", "currentPassword", "Current password is required"},
		{"mismatch", m.Password, "a much better passphrase", "a much better passphrasf", "confirmPassword", "The two new passwords do not match"},
		{"too short", m.Password, "short1", "short1", "newPassword", "Password must be at least 10 characters"},
		{"common", m.Password, "Password123", "Password123", "newPassword", "too common"},
		{"keyboard walk", m.Password, "qwertyuiop", "qwertyuiop", "newPassword", "too common"},
		{"same as current", m.Password, m.Password, m.Password, "newPassword", "must differ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := url.Values{"currentPassword": {tc.current}, "newPassword": {tc.next}, "confirmPassword": {tc.again}}
			p := c.Submit("/dashboard/settings", "/dashboard/settings/password", v)
			if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.TestID("error-"+tc.field), tc.msg) {
				t.Fatalf("got %d, %s error %q, want %q", p.Status, tc.field, p.TestID("error-"+tc.field), tc.msg)
			}
			if strings.Contains(p.Body, `value="`+tc.current+`"`) && tc.current != "" {
				t.Fatal("a password was echoed back")
			}
			h := c.Submit("/dashboard/settings", "/dashboard/settings/password", v, "HX-Request", "true")
			if h.Status != http.StatusOK || !isFragment(h) || !strings.Contains(h.TestID("error-"+tc.field), tc.msg) {
				t.Fatalf("htmx: %d %q", h.Status, h.TestID("error-"+tc.field))
			}
		})
	}
	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": m.Email, "password": m.Password}); r.Status != http.StatusOK {
		t.Fatalf("a refused change changed the password: %d", r.Status)
	}
	// htmx success: the fragment confirms, the browser stays signed in.
	const newPW = "another fine passphrase"
	h := c.Submit("/dashboard/settings", "/dashboard/settings/password",
		url.Values{"currentPassword": {m.Password}, "newPassword": {newPW}, "confirmPassword": {newPW}}, "HX-Request", "true")
	if h.Status != http.StatusOK || h.TestID("password-changed") == "" || !isFragment(h) {
		t.Fatalf("htmx change: %d %s", h.Status, h.Body)
	}
	if p := c.Get("/dashboard/settings"); p.Status != http.StatusOK {
		t.Fatalf("signed out after changing the password with htmx: %d", p.Status)
	}
}

// TestAPIKeyRotationRevokesJWT: rotating the API key (API or dashboard)
// refuses every JWT issued before, and other browser sessions; the browser
// that rotated stays signed in.
func TestAPIKeyRotationRevokesJWT(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("jwt@example.com", "JWT Shop", webtest.AddrA)
	older := apiLogin(t, env, m.Email, m.Password)
	if apiStatus(t, env, older) != http.StatusOK {
		t.Fatal("control: fresh JWT refused")
	}
	r := env.Do("POST", "/api/settings/api-key", nil, m.Key()...)
	if r.Status != http.StatusOK {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	key := r.JSON(t)["apiKey"].(string)
	for _, token := range []string{older, m.Token} {
		if st := apiStatus(t, env, token); st != http.StatusUnauthorized {
			t.Fatalf("JWT from before the rotation: %d", st)
		}
	}
	for _, path := range []struct{ method, path string }{{"GET", "/api/links"}, {"POST", "/api/settings/api-key"}, {"PATCH", "/api/settings"}} {
		if r := env.Do(path.method, path.path, `{"paymentExpiry": 5}`, "Authorization", "Bearer "+older); r.Status != 401 || r.Error(t) != "Unauthorized" {
			t.Fatalf("%s %s with an old JWT: %d %s", path.method, path.path, r.Status, r.Body)
		}
	}
	newer := apiLogin(t, env, m.Email, m.Password)
	if apiStatus(t, env, newer) != http.StatusOK {
		t.Fatal("JWT issued after the rotation refused")
	}
	// Rotating with a JWT revokes that JWT too.
	if r := env.Do("POST", "/api/settings/api-key", nil, "Authorization", "Bearer "+newer); r.Status != http.StatusOK {
		t.Fatalf("rotate with a JWT: %d", r.Status)
	} else if env.Do("GET", "/api/auth/me", nil, "x-api-key", key).Status != http.StatusUnauthorized {
		t.Fatal("the previous key still works")
	}
	if apiStatus(t, env, newer) != http.StatusUnauthorized {
		t.Fatal("the JWT that rotated the key still works")
	}

	// Dashboard rotation: this browser stays, the other login and JWTs go.
	c, _ := loginPage(t, env, m.Email, m.Password)
	_, other := loginPage(t, env, m.Email, m.Password)
	csrf := csrfOf(t, env, other)
	tok := apiLogin(t, env, m.Email, m.Password)
	p := c.Submit("/dashboard/settings", "/dashboard/settings/api-key", url.Values{"confirm": {"yes"}})
	if p.Status != http.StatusOK || p.TestID("api-key-value") == "" {
		t.Fatalf("dashboard rotate: %d", p.Status)
	}
	if p := c.Get("/dashboard/settings"); p.Status != http.StatusOK {
		t.Fatalf("the browser that rotated was signed out: %d", p.Status)
	}
	assertCookieRefused(t, env, other, csrf, "another login after a dashboard rotation")
	if apiStatus(t, env, tok) != http.StatusUnauthorized {
		t.Fatal("JWT survives a dashboard rotation")
	}
}
