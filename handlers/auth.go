package handlers

import (
	"errors"
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

// Login checks the credentials and starts a dashboard session.
func (h *Handlers) Login(c *fiber.Ctx) error {
	email, password := strings.TrimSpace(c.FormValue("email")), c.FormValue("password")
	next := localNext(c.FormValue("next"))
	form := pages.Form{Values: map[string]string{"email": email}, Errors: map[string]string{}}
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
	session.Get(c).Login(m.ID)
	return render.Redirect(c, next)
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
	s := session.Get(c)
	s.Login(m.ID)
	s.SetFlash("Welcome to Till, " + m.Name + ". Your account is ready.")
	return render.Redirect(c, "/dashboard")
}

// Logout ends the dashboard session.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	session.Get(c).Logout()
	return render.Redirect(c, "/login")
}

// localNext keeps the post-login target on this site.
func localNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/dashboard"
	}
	return next
}
