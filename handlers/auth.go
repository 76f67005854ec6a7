package handlers

import (
	"errors"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/handlers/session"
	"till/models"
	"till/views/pages"
)

// ShowLogin renders the login form.
func (h *Handlers) ShowLogin(c *fiber.Ctx) error {
	if authn.Merchant(c) != nil {
		return c.Redirect("/dashboard", fiber.StatusSeeOther)
	}
	return render.Page(c, fiber.StatusOK, pages.Login(h.meta(c, "Sign in"), pages.Form{}, localNext(c.Query("next"))))
}

// Login checks the credentials and starts a dashboard session. Attempts
// share one budget per client IP and per account with the JSON login.
func (h *Handlers) Login(c *fiber.Ctx) error {
	email, password := strings.TrimSpace(c.FormValue("email")), c.FormValue("password")
	next := localNext(c.FormValue("next"))
	form := pages.Form{Values: map[string]string{"email": email}, Errors: map[string]string{}}
	if err := h.Store.LoginAttempt(c.UserContext(), c.IP(), email, h.LoginLimit); err != nil {
		var limited *models.RateLimitError
		if !errors.As(err, &limited) {
			return err
		}
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(limited.RetryAfterSeconds()))
		form.Error = "Too many sign-in attempts. Wait a minute, then try again."
		return render.Page(c, fiber.StatusTooManyRequests, pages.Login(h.meta(c, "Sign in"), form, next))
	}
	if email == "" {
		form.Errors["email"] = "Email is required"
	}
	if password == "" {
		form.Errors["password"] = "Password is required"
	}
	if len(form.Errors) > 0 {
		return render.Page(c, render.FormStatus(c), pages.Login(h.meta(c, "Sign in"), form, next))
	}
	m, err := h.Store.Authenticate(c.UserContext(), email, password)
	if errors.Is(err, models.ErrInvalidCredentials) {
		form.Error = "Invalid email or password"
		return render.Page(c, fiber.StatusUnauthorized, pages.Login(h.meta(c, "Sign in"), form, next))
	}
	if err != nil {
		return err
	}
	if err := h.startSession(c, m.ID); err != nil {
		return err
	}
	return render.Redirect(c, next)
}

// startSession records a server-side login for merchantID and puts its token
// in the cookie.
func (h *Handlers) startSession(c *fiber.Ctx, merchantID string) error {
	tok, err := h.Store.StartBrowserSession(c.UserContext(), merchantID, c.Get(fiber.HeaderUserAgent), session.MaxAge)
	if err != nil {
		return err
	}
	session.Get(c).Login(merchantID, tok)
	return nil
}

// reissueSession gives the current browser a new server-side session at the
// merchant's current credential epoch, after a change (password, API key)
// that revoked every session: the browser that made it stays logged in.
func (h *Handlers) reissueSession(c *fiber.Ctx, merchantID string) error {
	tok, err := h.Store.StartBrowserSession(c.UserContext(), merchantID, c.Get(fiber.HeaderUserAgent), session.MaxAge)
	if err != nil {
		return err
	}
	session.Get(c).Reissue(tok)
	return nil
}

// ShowSignup renders the sign-up form.
func (h *Handlers) ShowSignup(c *fiber.Ctx) error {
	if authn.Merchant(c) != nil {
		return c.Redirect("/dashboard", fiber.StatusSeeOther)
	}
	return render.Page(c, fiber.StatusOK, pages.Signup(h.meta(c, "Create account"), pages.Form{}, string(h.Store.Network())))
}

// Signup creates the account and logs the merchant in.
func (h *Handlers) Signup(c *fiber.Ctx) error {
	in := models.RegisterInput{
		Name:         c.FormValue("name"),
		Email:        c.FormValue("email"),
		Password:     c.FormValue("password"),
		KaspaAddress: c.FormValue("kaspaAddress"),
	}
	m, err := h.Store.Register(c.UserContext(), in)
	if err != nil {
		fields, general := formErrors(err)
		var conflict *models.ConflictError
		if errors.As(err, &conflict) {
			fields = map[string]string{conflict.Field: conflict.Message}
		}
		if fields == nil && general == "" {
			return err
		}
		form := pages.Form{Values: map[string]string{"name": in.Name, "email": in.Email, "kaspaAddress": in.KaspaAddress}, Errors: fields, Error: general}
		return render.Page(c, render.FormStatus(c), pages.Signup(h.meta(c, "Create account"), form, string(h.Store.Network())))
	}
	if err := h.startSession(c, m.ID); err != nil {
		return err
	}
	session.Get(c).SetFlash("Welcome to Till, " + m.Name + ". Your account is ready.")
	return render.Redirect(c, "/dashboard")
}

// Logout ends the dashboard session on the server (a copy of the cookie
// stops working too) and forgets the cookie.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	s := session.Get(c)
	if err := h.Store.EndBrowserSession(c.UserContext(), s.Token()); err != nil {
		return err
	}
	s.Logout()
	return render.Redirect(c, "/login")
}

// LogoutEverywhere revokes every browser session and API token of the
// merchant, this one included: POST /dashboard/settings/logout-everywhere.
func (h *Handlers) LogoutEverywhere(c *fiber.Ctx) error {
	if err := h.Store.RevokeAllCredentials(c.UserContext(), authn.Merchant(c).ID); err != nil {
		return err
	}
	session.Get(c).SignedOut("You were signed out on every device and every API token was revoked. Sign in again to continue.")
	return render.Redirect(c, "/login")
}

// localNext keeps the post-login target on this site.
func localNext(next string) string { return authn.LocalPath(next, "/dashboard") }
