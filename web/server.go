// Package web assembles the HTTP server: Fiber configuration, the middleware
// chain, the route table (routes.go) and the error handler.
package web

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"till/handlers"
	"till/handlers/api"
	"till/handlers/authn"
	"till/handlers/kirapay"
	"till/handlers/session"
	"till/models"
	"till/models/netguard"
	"till/static"
	"till/web/metrics"
	"till/web/middleware"
)

// Options configures the HTTP server.
type Options struct {
	Store   *models.Store
	BaseURL string
	// Secret is TILL_SECRET; subkeys for JWTs and cookies are derived from it.
	Secret []byte
	// TokenTTL is the lifetime of API JWTs.
	TokenTTL time.Duration
	Log      *slog.Logger
	Version  string
	// TrustedProxies lists proxy IPs/CIDRs whose X-Forwarded-For is believed
	// for client IPs (rate limits, logs). Empty: use the socket address.
	TrustedProxies []string
	// AuthRateLimit is how many login attempts one IP, and one account, may
	// make per AuthRateWindow (JSON and HTML login share the budget), and how
	// many registrations one IP may make (API and sign-up page each). Counted
	// in the database: every process on one Postgres shares them.
	AuthRateLimit  int
	AuthRateWindow time.Duration
	// PublicRateLimit is how many payment sessions one IP may open per
	// minute through the public API.
	PublicRateLimit int
	// Rates and Chain serve /api/price and /api/network.
	Rates models.RateSource
	Chain api.NetworkSource
	// WebhookAllowPrivate accepts webhook URLs on loopback and private
	// networks (TILL_WEBHOOK_ALLOW_PRIVATE; development and tests only).
	WebhookAllowPrivate bool
	// ChainStatus reports each EVM chain's watcher state for /readyz (nil:
	// no EVM chains).
	ChainStatus func() any
	// WebhookResolver resolves webhook hostnames at registration (nil: the
	// system resolver; tests map names to addresses).
	WebhookResolver netguard.Resolver
	// Metrics, when set, counts and times every request by route pattern;
	// it is served on its own listener (TILL_METRICS_ADDR), never here.
	Metrics *metrics.Metrics
	// SlowRequest is the time after which a request's access log line is
	// written at warn (0: middleware.DefaultSlowRequest).
	SlowRequest time.Duration
}

// Server is the assembled HTTP application.
type Server struct {
	App *fiber.App
}

// New builds the Fiber app with every route.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.AuthRateLimit == 0 {
		o.AuthRateLimit = 20
	}
	if o.AuthRateWindow == 0 {
		o.AuthRateWindow = time.Minute
	}
	if o.PublicRateLimit == 0 {
		o.PublicRateLimit = 60
	}
	secure := strings.HasPrefix(o.BaseURL, "https://")
	sessions := session.NewManager(models.DeriveKey(o.Secret, "session-hash"), models.DeriveKey(o.Secret, "session-block"), secure)
	tokens := authn.NewTokens(models.DeriveKey(o.Secret, "jwt"), o.TokenTTL)
	webhookPolicy := &netguard.Policy{AllowPrivate: o.WebhookAllowPrivate, Resolver: o.WebhookResolver}
	authLimit := models.RateLimit{Max: o.AuthRateLimit, Window: o.AuthRateWindow}
	pages := &handlers.Handlers{Store: o.Store, Sessions: sessions, BaseURL: o.BaseURL, Version: o.Version, WebhookPolicy: webhookPolicy,
		LoginLimit: authLimit, ChainStatus: o.ChainStatus}
	jsonAPI := &api.API{Store: o.Store, Tokens: tokens, BaseURL: o.BaseURL, Rates: o.Rates, Chain: o.Chain,
		WebhookPolicy: webhookPolicy, LoginLimit: authLimit}

	app := fiber.New(fiberConfig(o, errorHandler(pages)))
	useCommon(app, o, secure)
	app.Use("/static", filesystem.New(filesystem.Config{Root: static.HTTP(), MaxAge: 3600}))

	routes(app, routeDeps{
		pages:       pages,
		api:         jsonAPI,
		kirapay:     kirapay.New(kirapay.Config{Store: o.Store, BaseURL: o.BaseURL, WebhookPolicy: webhookPolicy}),
		apiAuth:     middleware.APIAuth(o.Store, tokens),
		sessions:    middleware.Sessions(sessions, o.Store),
		login:       middleware.RequireLogin(),
		csrf:        middleware.CSRF(),
		limit:       func(name string) fiber.Handler { return middleware.SharedRateLimit(o.Store, name, authLimit) },
		publicLimit: middleware.RateLimit(o.PublicRateLimit, time.Minute),
		idem:        middleware.Idempotent(o.Store, middleware.ByMerchant),
		idemIP:      middleware.Idempotent(o.Store, middleware.ByClientIP),
		publicRead:  middleware.RateLimit(o.PublicRateLimit, time.Minute),
	})
	return &Server{App: app}
}

// fiberConfig is the Fiber configuration of the server: limits, timeouts,
// the trusted proxies and the error handler.
func fiberConfig(o Options, eh fiber.ErrorHandler) fiber.Config {
	cfg := fiber.Config{
		AppName:               "till",
		ServerHeader:          "",
		DisableStartupMessage: true,
		BodyLimit:             1 << 20,
		ReadTimeout:           15 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		// Strings from the request alias fasthttp buffers that are reused
		// after the handler returns; Immutable copies them so values kept by
		// the domain (ids, emails) stay intact.
		Immutable:    true,
		ErrorHandler: eh,
	}
	if len(o.TrustedProxies) > 0 {
		cfg.EnableTrustedProxyCheck = true
		cfg.TrustedProxies = o.TrustedProxies
		cfg.ProxyHeader = fiber.HeaderXForwardedFor
	}
	return cfg
}

// useCommon installs the middleware every request passes, in order: the
// request id (first: every later line carries it), metrics, recover, the
// access log and the security headers.
func useCommon(app *fiber.App, o Options, secure bool) {
	app.Use(middleware.RequestID(o.Log))
	if o.Metrics != nil {
		app.Use(o.Metrics.Middleware()) // outside recover: panics are counted as the 500s they become
	}
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		middleware.Logger(c).Error("panic in handler", slog.String("path", c.Path()), slog.Any("panic", e))
	}}))
	app.Use(middleware.AccessLog(o.SlowRequest))
	app.Use(middleware.SecurityHeaders(secure))
}
