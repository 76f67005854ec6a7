package web

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers"
	"till/handlers/api"
	"till/handlers/kirapay"
	"till/handlers/render"
	"till/web/middleware"
)

// routeDeps are the handlers and middleware the route table wires together.
type routeDeps struct {
	pages    *handlers.Handlers
	api      *api.API
	kirapay  *kirapay.API
	apiAuth  fiber.Handler // Bearer JWT or x-api-key
	sessions fiber.Handler // dashboard cookie
	login    fiber.Handler // dashboard pages need a logged-in merchant
	csrf     fiber.Handler // token check on every state-changing form/htmx request
	// limit returns the per-IP rate limiter of a named budget, shared by
	// every process on the database (logins are limited in their handlers,
	// per IP and per account, one budget for the JSON and the HTML login).
	limit func(name string) fiber.Handler
	// publicLimit bounds anonymous session creation per IP.
	publicLimit fiber.Handler
	// idem and idemIP make a create idempotent under Idempotency-Key,
	// keys scoped to the merchant / to the client IP (public routes).
	idem, idemIP fiber.Handler
	// publicRead bounds anonymous reads of public links per IP (a budget
	// of its own, as large as publicLimit's).
	publicRead fiber.Handler
}

// routes is Till's whole route table, one line per route.
func routes(app *fiber.App, d routeDeps) {
	p, a, k := d.pages, d.api, d.kirapay

	// Every handler's context gets a deadline (streamed bodies keep their own).
	app.Use(middleware.Deadline(middleware.DefaultRequestTimeout))

	// middleware.Poll marks the polled reads: their successes are logged at
	// debug, so polling writes no log line at the default level.
	// Operations.
	app.Get("/healthz", p.Healthz)
	app.Get("/readyz", p.Readyz)

	// KiraPay Public API (issue 10 §2); errors answer {statusCode, message,
	// timestamp, path}. Its groups come before the KasPay /api group so its
	// catch-all never sees them; each has its own catch-all (404 NOT_FOUND).
	kl := kiraPayGroup(app, "/api/link")
	kl.Post("/generate", d.apiAuth, d.idem, k.GenerateLink)
	kl.Get("", d.apiAuth, k.ListLinks)
	kl.Get("/:code", middleware.Poll, d.publicRead, k.PublicLink)
	kiraPayNotFound(kl)
	kw := kiraPayGroup(app, "/api/wallet")
	kw.Get("/transactions", middleware.Poll, d.apiAuth, d.kirapay.Transactions)
	kiraPayNotFound(kw)
	ka := kiraPayGroup(app, "/api/admin")
	ka.Post("/webhooks/endpoints", d.apiAuth, d.idem, k.CreateWebhookEndpoint)
	ka.Get("/webhooks/endpoints", d.apiAuth, k.ListWebhookEndpoints)
	ka.Patch("/webhooks/endpoints/:id", d.apiAuth, k.UpdateWebhookEndpoint)
	ka.Delete("/webhooks/endpoints/:id", d.apiAuth, k.DeleteWebhookEndpoint)
	ka.Get("/webhooks/deliveries", d.apiAuth, k.ListWebhookDeliveries)
	ka.Post("/webhooks/deliveries/:id/redeliver", d.apiAuth, d.idem, k.RedeliverWebhookDelivery)
	kiraPayNotFound(ka)

	// Native JSON API (KasPay contract); errors answer {"error": …}.
	v := app.Group("/api", middleware.Dialect(render.DialectKasPay))
	v.Post("/auth/register", d.limit("register"), a.Register)
	v.Post("/auth/login", a.Login)
	v.Get("/auth/me", d.apiAuth, a.Me)
	v.Patch("/settings", d.apiAuth, a.UpdateSettings)
	v.Post("/settings/api-key", d.apiAuth, d.idem, a.RotateAPIKey)
	v.Post("/links", d.apiAuth, d.idem, a.CreateLink)
	v.Get("/links", d.apiAuth, a.ListLinks)
	v.Get("/links/:id", d.apiAuth, a.GetLink)
	v.Patch("/links/:id", d.apiAuth, a.UpdateLink)
	v.Post("/payments", d.publicLimit, d.idemIP, a.CreatePayment)
	v.Get("/payments", d.apiAuth, a.ListPayments)
	v.Get("/payments/:id/status", middleware.Poll, a.PaymentStatus)
	v.Get("/payments/:id", d.apiAuth, a.GetPayment)
	v.Get("/price", a.Price)
	v.Get("/network", a.Network)
	v.Post("/webhooks", d.apiAuth, d.idem, a.CreateWebhook)
	v.Get("/webhooks", d.apiAuth, a.ListWebhooks)
	v.Get("/webhooks/:id", d.apiAuth, a.GetWebhook)
	v.Patch("/webhooks/:id", d.apiAuth, a.UpdateWebhook)
	v.Delete("/webhooks/:id", d.apiAuth, a.DeleteWebhook)
	v.Post("/webhooks/:id/rotate-secret", d.apiAuth, d.idem, a.RotateWebhookSecret)
	v.Get("/webhooks/:id/secret", d.apiAuth, a.WebhookSecret)
	v.Get("/webhooks/:id/deliveries", d.apiAuth, a.ListWebhookDeliveries)
	v.Post("/webhooks/:id/deliveries/:deliveryId/redeliver", d.apiAuth, d.idem, a.RedeliverWebhook)
	v.Post("/webhooks/:id/test", d.apiAuth, d.idem, a.TestWebhook)
	v.Get("/openapi.json", p.OpenAPIKasPay)
	v.Get("/kirapay/openapi.json", p.OpenAPIKiraPay)
	v.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound }) // unknown API paths answer in the group's dialect

	// HTML: sign-up, login, dashboard; errors answer with a page.
	h := app.Group("", middleware.Dialect(render.DialectHTML), d.sessions, d.csrf)
	h.Get("/", p.Home)
	h.Get("/signup", p.ShowSignup)
	h.Post("/signup", d.limit("signup"), p.Signup)
	h.Get("/login", p.ShowLogin)
	h.Post("/login", p.Login)
	h.Post("/logout", p.Logout)
	h.Get("/docs", p.Docs) // the API reference of both surfaces

	// Checkout (public): the link page, session start (POST only: a GET never
	// opens a session), one session's page, its polled status fragment, its
	// QR code and the receipt.
	h.Get("/pay/status/:id", middleware.Poll, p.CheckoutStatus)
	h.Post("/pay/status/:id/tx", d.publicLimit, p.SubmitWalletTx)
	h.Get("/pay/qr/:id.png", p.CheckoutQR)
	h.Get("/pay/receipt/:id", p.CheckoutReceipt)
	h.Get("/pay/:slug", p.ShowCheckout)
	h.Post("/pay/:slug", d.publicLimit, p.StartCheckout)
	h.Get("/pay/:slug/p/:id", p.ShowCheckoutSession)

	// Dashboard. Destructive actions answer GET with a confirmation page
	// (browsers without JavaScript) and act on POST with confirm=yes.
	dash := h.Group("/dashboard", d.login)
	dash.Get("", p.Overview)
	dash.Get("/links", p.LinksPage)
	dash.Get("/links/new", p.NewLink)
	dash.Post("/links", p.CreateLink)
	dash.Post("/links/preview", p.PreviewLink)
	dash.Get("/links/:id/edit", p.EditLink)
	dash.Post("/links/:id", p.UpdateLink)
	dash.Post("/links/:id/activate", p.ActivateLink)
	dash.Get("/links/:id/deactivate", p.DeactivateLink)
	dash.Post("/links/:id/deactivate", p.DeactivateLink)
	dash.Get("/links/:id/qr.png", p.LinkQR)
	dash.Get("/payments", p.PaymentsPage)
	dash.Get("/payments.csv", p.ExportPayments)
	dash.Get("/payments/:id", p.PaymentPage)
	dash.Post("/payments/credits/:id/assign", p.AssignCredit)
	dash.Get("/webhooks", p.WebhooksPage)
	dash.Get("/webhooks/new", p.NewWebhook)
	dash.Post("/webhooks", p.CreateWebhook)
	dash.Get("/webhooks/:id", p.WebhookPage)
	dash.Get("/webhooks/:id/edit", p.EditWebhook)
	dash.Post("/webhooks/:id", p.UpdateWebhook)
	dash.Post("/webhooks/:id/enable", p.EnableWebhook)
	dash.Get("/webhooks/:id/disable", p.DisableWebhook)
	dash.Post("/webhooks/:id/disable", p.DisableWebhook)
	dash.Get("/webhooks/:id/delete", p.DeleteWebhook)
	dash.Post("/webhooks/:id/delete", p.DeleteWebhook)
	dash.Get("/webhooks/:id/secret", p.RevealWebhookSecret)
	dash.Get("/webhooks/:id/rotate-secret", p.RotateWebhookSecret)
	dash.Post("/webhooks/:id/rotate-secret", p.RotateWebhookSecret)
	dash.Post("/webhooks/:id/test", p.TestWebhook)
	dash.Post("/webhooks/:id/deliveries/:deliveryId/redeliver", p.RedeliverWebhook)
	dash.Get("/settings", p.SettingsPage)
	dash.Post("/settings", p.UpdateSettings)
	dash.Get("/settings/api-key", p.RevealAPIKey)
	dash.Post("/settings/api-key", p.RotateAPIKey)
	dash.Post("/settings/password", p.ChangePassword)
	dash.Post("/settings/logout-everywhere", p.LogoutEverywhere)

	// A USDC link's short URL, TILL_BASE_URL/<code> (KiraPay's url): the
	// same checkout as /pay/<code>. LAST, and only for exactly ten [a-z0-9],
	// so it never shadows another page.
	h.Get(`/:slug<regex(^[a-z0-9]{10}$)>`, p.ShowCheckout)
}

// kiraPayGroup is a KiraPay route group under prefix: its errors answer in
// the KiraPay dialect. Register its routes, then kiraPayNotFound.
func kiraPayGroup(app *fiber.App, prefix string) fiber.Router {
	return app.Group(prefix, middleware.DialectUnder(prefix, render.DialectKiraPay))
}

// kiraPayNotFound ends a KiraPay group: any other path or method under its
// prefix is 404 NOT_FOUND in the KiraPay shape.
func kiraPayNotFound(g fiber.Router) {
	g.All("", kirapay.NotFound)
	g.All("/*", kirapay.NotFound)
}
