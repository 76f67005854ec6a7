// Package middleware holds Till's Fiber middleware: request ids and access
// logs, security headers, API authentication, dashboard sessions with CSRF,
// and per-IP rate limits.
package middleware

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
)

// AccessLog logs one line per request with the request's logger (Logger,
// which carries its id). Query strings are left out (they can carry search
// terms and emails); headers and bodies never appear.
func AccessLog() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			// The error handler has not run yet; it sets the final status.
			var fe *fiber.Error
			if errors.As(err, &fe) {
				status = fe.Code
			}
		}
		level := slog.LevelInfo
		if c.Path() == "/healthz" || c.Path() == "/readyz" || c.Method() == fiber.MethodGet && len(c.Path()) > 8 && c.Path()[:8] == "/static/" {
			level = slog.LevelDebug
		}
		if !logEnabled(c, level) {
			return err
		}
		Logger(c).Log(c.UserContext(), level, "http request",
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Duration("elapsed", time.Since(start)),
			slog.String("ip", c.IP()),
		)
		return err
	}
}

// SecurityHeaders sets the headers every response should carry. The CSP
// allows only same-origin scripts and styles (htmx and the CSS are served by
// Till) and data: images for inline QR codes.
func SecurityHeaders(secure bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := &c.Response().Header
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		if secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return c.Next()
	}
}

// DefaultRequestTimeout bounds the work of one request: the domain calls a
// handler makes on c.UserContext() are cancelled after it.
const DefaultRequestTimeout = 30 * time.Second

// Deadline gives every handler's context a deadline of d (the JSON API
// passes c.UserContext() to the domain, which otherwise has none). Bodies
// streamed after the handler returns (the unpaged payments list, the CSV
// export) run on their own, longer contexts and are not cut by it.
func Deadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		parent := c.UserContext()
		ctx, cancel := context.WithTimeout(parent, d)
		defer func() {
			cancel()
			// The error handler runs after this returns (or panics) and
			// renders with the request's context: give it back the parent,
			// which this cancel does not end.
			c.SetUserContext(parent)
		}()
		c.SetUserContext(ctx)
		return c.Next()
	}
}
