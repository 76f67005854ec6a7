package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/gofiber/fiber/v2"
)

// HeaderRequestID carries a request's id, in and out.
const HeaderRequestID = "X-Request-Id"

// Locals keys the RequestID middleware sets.
const (
	localRequestID = "request_id"
	localLogger    = "request_log"
)

type loggerKey struct{}

// RequestID gives every request an id, returns it in X-Request-Id, and
// makes a logger carrying it (Logger, LoggerFrom) for every line logged
// about the request. An incoming X-Request-Id is kept only when the
// request came from a trusted proxy (TILL_TRUSTED_PROXIES, fiber's trusted
// proxy check) and the id is a sane token: anyone else could forge ids to
// confuse the logs, so theirs are replaced. Without trusted proxies every
// id is generated here.
func RequestID(log *slog.Logger) fiber.Handler {
	if log == nil {
		log = slog.Default()
	}
	return func(c *fiber.Ctx) error {
		id := ""
		if in := c.Get(HeaderRequestID); in != "" && len(in) <= 64 && isToken(in) && fromTrustedProxy(c) {
			id = string([]byte(in)) // copy: fasthttp reuses the buffer
		} else {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		l := log.With(slog.String("request_id", id))
		c.Locals(localRequestID, id)
		c.Locals(localLogger, l)
		c.SetUserContext(context.WithValue(c.UserContext(), loggerKey{}, l))
		c.Set(HeaderRequestID, id)
		return c.Next()
	}
}

// fromTrustedProxy reports whether the peer is a configured trusted proxy.
// fiber's IsProxyTrusted is true for everyone when no proxies are
// configured, so the check must be on as well.
func fromTrustedProxy(c *fiber.Ctx) bool {
	return c.App().Config().EnableTrustedProxyCheck && c.IsProxyTrusted()
}

// RequestIDOf is the request's id ("" outside RequestID).
func RequestIDOf(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// Logger is the request's logger: every line carries its request_id.
// Outside RequestID it is slog.Default().
func Logger(c *fiber.Ctx) *slog.Logger {
	if l, ok := c.Locals(localLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// LoggerFrom is the request's logger from a context derived from the
// request's (c.UserContext()), for code that has only the context; other
// contexts get slog.Default().
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
