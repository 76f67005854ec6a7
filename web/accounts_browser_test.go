package web_test

import (
	"net/http"
	"strings"
	"testing"

	"till/web/webtest"
)

// TestBrowserPasswordChangeRevokesOldCookies: in Chromium, a merchant signs
// in and changes the password on the settings page (htmx). The browser
// stays signed in; a cookie copied before the change from another login,
// and the browser's own cookie from before the change, are refused.
func TestBrowserPasswordChangeRevokesOldCookies(t *testing.T) {
	env := webtest.New(t)
	base := env.Listen()
	m := env.Register("browser-pw@example.com", "Browser Shop", webtest.AddrA)
	_, other := loginPage(t, env, m.Email, m.Password) // another device
	csrf := csrfOf(t, env, other)

	b := webtest.Browser(t)
	page := b.MustPage("")
	consoleErrors := webtest.ConsoleErrors(t, page)
	page.MustSetViewport(1280, 900, 1, false)
	page.MustNavigate(base + "/login").MustWaitLoad()
	page.MustElement("#email").MustInput(m.Email)
	page.MustElement("#password").MustInput(m.Password)
	clickTo(t, page, `[data-testid="login-submit"]`, `^/dashboard$`)

	var own *http.Cookie
	for _, ck := range page.MustCookies() {
		if ck.Name == "till_session" {
			own = &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	if own == nil {
		t.Fatal("the browser has no session cookie")
	}
	assertCookieWorks(t, env, own, "the browser's cookie copied before the change")

	clickTo(t, page, `[data-testid="nav-settings"]`, `^/dashboard/settings$`)
	const newPW = "violet staircase at noon"
	page.MustElement("#currentPassword").MustInput(m.Password)
	page.MustElement("#newPassword").MustInput(newPW)
	page.MustElement("#confirmPassword").MustInput(newPW)
	page.MustElement(`[data-testid="password-submit"]`).MustClick()
	waitText(t, page, `[data-testid="password-changed"]`, "Password changed. Your other devices were signed out.")

	// The browser that changed it is still signed in.
	page.MustNavigate(base + "/dashboard/settings").MustWaitLoad()
	if u := page.MustInfo().URL; !strings.HasSuffix(u, "/dashboard/settings") {
		t.Fatalf("after the change the browser landed on %s", u)
	}
	// The old cookies are not.
	assertCookieRefused(t, env, other, csrf, "another login's cookie copied before the change")
	assertCookieRefused(t, env, own, csrf, "the browser's own cookie copied before the change")
	if r := env.Do("POST", "/api/auth/login", map[string]any{"email": m.Email, "password": newPW}); r.Status != http.StatusOK {
		t.Fatalf("new password: %d", r.Status)
	}
	if errs := consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors: %v", errs)
	}
}
