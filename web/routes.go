package web

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers"
	"till/handlers/api"
)

// routeDeps are the handlers and middleware the route table wires together.
type routeDeps struct {
	pages    *handlers.Handlers
	api      *api.API
	apiAuth  fiber.Handler // Bearer JWT or x-api-key
	sessions fiber.Handler // dashboard cookie
	login    fiber.Handler // dashboard pages need a logged-in merchant
	csrf     fiber.Handler // token check on every state-changing form/htmx request
	// limit returns a fresh per-IP rate limiter; each route that takes
	// passwords gets its own budget.
	limit func() fiber.Handler
}

// routes is Till's whole route table, one line per route.
func routes(app *fiber.App, d routeDeps) {
	p, a := d.pages, d.api

	// Operations.
	app.Get("/healthz", p.Healthz)
	app.Get("/readyz", p.Readyz)

	// Native JSON API (KasPay contract).
	v := app.Group("/api")
	v.Post("/auth/register", d.limit(), a.Register)
	v.Post("/auth/login", d.limit(), a.Login)
	v.Get("/auth/me", d.apiAuth, a.Me)
	v.Patch("/settings", d.apiAuth, a.UpdateSettings)
	v.Post("/settings/api-key", d.apiAuth, a.RotateAPIKey)
	v.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound }) // unknown API paths answer in JSON

	// HTML: sign-up, login, dashboard.
	h := app.Group("", d.sessions, d.csrf)
	h.Get("/", p.Home)
	h.Get("/signup", p.ShowSignup)
	h.Post("/signup", d.limit(), p.Signup)
	h.Get("/login", p.ShowLogin)
	h.Post("/login", d.limit(), p.Login)
	h.Post("/logout", p.Logout)

	dash := h.Group("/dashboard", d.login)
	dash.Get("", p.Overview)
	dash.Get("/links", p.LinksPage)
	dash.Get("/payments", p.PaymentsPage)
	dash.Get("/webhooks", p.WebhooksPage)
	dash.Get("/settings", p.SettingsPage)
	dash.Post("/settings", p.UpdateSettings)
	dash.Get("/settings/api-key", p.RevealAPIKey)
	dash.Post("/settings/api-key", p.RotateAPIKey)
}
