// Package middleware holds Till's Fiber middleware: request ids and access
// logs, security headers, API authentication, dashboard sessions with CSRF,
// and per-IP rate limits.
package middleware

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
)

// DefaultSlowRequest is the time after which a request is slow: its access
// log line is written at warn, whatever its route and status.
const DefaultSlowRequest = 500 * time.Millisecond

// AccessLog logs one line per request with the request's id (RequestID).
// Query strings are left out (they can carry search terms and emails);
// headers and bodies never appear. The level follows the access-log policy
// (docs/OPERATIONS.md): a successful (1xx–3xx) answer of a polled route
// (Poll), of /healthz, /readyz or /static/ is debug, so the hot paths write
// nothing at the default level; any other answer, and every 4xx and 5xx,
// is info; a request slower than slow is warn. When the level is off, the
// request costs two clock reads and no allocation here.
func AccessLog(slow time.Duration) fiber.Handler {
	if slow <= 0 {
		slow = DefaultSlowRequest
	}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		elapsed := time.Since(start)
		status := c.Response().StatusCode()
		if err != nil {
			// The error handler has not run yet; it will answer this.
			status, _, _ = render.ErrorStatus(c, err)
		}
		r := requestOf(c)
		level := slog.LevelInfo
		switch {
		case elapsed > slow:
			level = slog.LevelWarn
		case status < 400 && (r != nil && r.poll || quietPath(c)):
			level = slog.LevelDebug
		}
		base := slog.Default()
		if r != nil {
			base = r.base
		}
		ctx := c.UserContext()
		if !base.Enabled(ctx, level) {
			return err
		}
		attrs := make([]slog.Attr, 0, 6)
		if r != nil {
			attrs = append(attrs, slog.String("request_id", r.id))
		}
		base.LogAttrs(ctx, level, "http request", append(attrs,
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Duration("elapsed", elapsed),
			slog.String("ip", c.IP()),
		)...)
		return err
	}
}

// quietPath reports the operational paths whose successes are logged at
// debug: the health checks and static files.
func quietPath(c *fiber.Ctx) bool {
	p := c.Path()
	return p == "/healthz" || p == "/readyz" || c.Method() == fiber.MethodGet && strings.HasPrefix(p, "/static/")
}

// Poll marks a polled route (status polls, public link reads): its
// successful answers are logged at debug (AccessLog). Errors and slow
// answers are logged as on any route, and metrics count every request.
func Poll(c *fiber.Ctx) error {
	if r := requestOf(c); r != nil {
		r.poll = true
	}
	return c.Next()
}

// securityHeaders are the headers every response carries, as canonical
// header names and values made once, so setting them costs no
// normalisation per request.
var securityHeaders = [][2][]byte{
	{[]byte("X-Content-Type-Options"), []byte("nosniff")},
	{[]byte("X-Frame-Options"), []byte("DENY")},
	{[]byte("Referrer-Policy"), []byte("strict-origin-when-cross-origin")},
	{[]byte("Content-Security-Policy"), []byte("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")},
}

// hsts is the Strict-Transport-Security header of HTTPS deployments.
var hsts = [2][]byte{[]byte("Strict-Transport-Security"), []byte("max-age=31536000")}

// SecurityHeaders sets the headers every response should carry. The CSP
// allows only same-origin scripts and styles (htmx and the CSS are served by
// Till) and data: images for inline QR codes.
func SecurityHeaders(secure bool) fiber.Handler {
	headers := securityHeaders
	if secure {
		headers = append(headers[:len(headers):len(headers)], hsts)
	}
	return func(c *fiber.Ctx) error {
		h := &c.Response().Header
		for _, kv := range headers {
			h.SetCanonical(kv[0], kv[1])
		}
		return c.Next()
	}
}
