// Package handlers serves Till's HTML: the sign-up and login pages, the
// merchant dashboard and (later) the hosted checkout. Each handler parses the
// request, validates it, makes one domain call and renders a templ view.
package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/handlers/session"
	"till/models"
	"till/models/netguard"
	"till/views/layouts"
	"till/views/pages"
)

// Handlers holds the dependencies of the HTML handlers.
type Handlers struct {
	Store    *models.Store
	Sessions *session.Manager
	BaseURL  string
	Version  string
	// WebhookPolicy is the destination rule webhook URLs entered in the
	// dashboard must satisfy (nil: netguard.Strict).
	WebhookPolicy *netguard.Policy
	// LoginLimit is the password-attempt budget per client IP and per
	// account, shared with the JSON login.
	LoginLimit models.RateLimit
	// ChainStatus reports each EVM chain's watcher state (nil: none).
	ChainStatus func() any

	// fragments caches the checkout's rendered status fragment.
	fragments fragmentCache
}

// meta builds the page shell data for the current request.
func (h *Handlers) meta(c *fiber.Ctx, title string) layouts.Meta {
	m := layouts.Meta{Title: title}
	if s := session.Get(c); s != nil {
		m.CSRF = s.CSRFToken()
		m.Flash = s.Flash()
	}
	return m
}

// nav builds the dashboard frame data for the logged-in merchant.
func (h *Handlers) nav(c *fiber.Ctx, title, active string) layouts.Nav {
	n := layouts.Nav{Meta: h.meta(c, title), Active: active, Network: string(h.Store.Network())}
	if m := authn.Merchant(c); m != nil {
		n.MerchantName, n.Email = m.Name, m.Email
	}
	return n
}

// ErrorPage renders an error for a browser: a fragment for htmx, else a page.
func (h *Handlers) ErrorPage(c *fiber.Ctx, status int, msg string) error {
	if render.IsHTMX(c) {
		// htmx does not swap 4xx/5xx by default; retarget the message to the
		// page's alert area so the user sees it.
		c.Set("HX-Retarget", "#htmx-error")
		c.Set("HX-Reswap", "innerHTML")
		return render.Page(c, status, pages.ErrorFragment(msg))
	}
	return render.Page(c, status, pages.Error(h.meta(c, "Error"), status, msg))
}

// Healthz answers while the process is up.
func (h *Handlers) Healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok", "version": h.Version})
}

// Readyz answers 200 when the database is reachable, 503 otherwise.
func (h *Handlers) Readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := h.Store.DB().Ping(ctx); err != nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "error": "database unreachable"})
	}
	out := fiber.Map{"status": "ready"}
	if h.ChainStatus != nil {
		// One entry per EVM chain ("watching", "checking", or "disabled"
		// with the reason); a disabled chain does not make Till unready.
		out["evmChains"] = h.ChainStatus()
	}
	return c.JSON(out)
}

// Home sends visitors to the dashboard or the login page.
func (h *Handlers) Home(c *fiber.Ctx) error {
	if authn.Merchant(c) != nil {
		return c.Redirect("/dashboard", fiber.StatusSeeOther)
	}
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// formErrors turns a domain validation error into per-field messages; other
// errors become a form-level message.
func formErrors(err error) (map[string]string, string) {
	if v, ok := models.AsValidation(err); ok {
		fields := map[string]string{}
		general := ""
		for _, e := range v {
			if e.Field == "" {
				general = e.Message
				continue
			}
			if _, dup := fields[e.Field]; !dup {
				fields[e.Field] = e.Message
			}
		}
		return fields, general
	}
	_, msg, _ := render.StatusOf(err)
	return nil, msg
}
