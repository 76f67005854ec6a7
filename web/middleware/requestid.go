package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"

	"github.com/gofiber/fiber/v2"
)

// HeaderRequestID carries a request's id, in and out.
const HeaderRequestID = "X-Request-Id"

// Locals keys the RequestID middleware sets.
const (
	localRequestID  = "request_id"
	localBaseLogger = "request_base_log"
	localLogger     = "request_log"
)

// RequestID gives every request an id, returns it in X-Request-Id, and
// makes every line logged about the request through Logger carry it. An
// incoming X-Request-Id is kept only when the request came from a trusted
// proxy (TILL_TRUSTED_PROXIES, fiber's trusted proxy check) and the id is a
// sane token: anyone else could plant ids in the logs, so theirs are
// replaced. Without trusted proxies every id is generated here.
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
		c.Locals(localRequestID, id)
		c.Locals(localBaseLogger, log)
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

// Logger is the request's logger: every line carries its request_id. It
// is made on first use (most requests log one line, at most). Outside
// RequestID it is slog.Default().
func Logger(c *fiber.Ctx) *slog.Logger {
	if l, ok := c.Locals(localLogger).(*slog.Logger); ok {
		return l
	}
	base, ok := c.Locals(localBaseLogger).(*slog.Logger)
	if !ok {
		return slog.Default()
	}
	l := base.With(slog.String("request_id", RequestIDOf(c)))
	c.Locals(localLogger, l)
	return l
}

// logEnabled reports whether the request's logger writes lines at level,
// without making the logger.
func logEnabled(c *fiber.Ctx, level slog.Level) bool {
	base, ok := c.Locals(localBaseLogger).(*slog.Logger)
	if !ok {
		base = slog.Default()
	}
	return base.Enabled(c.UserContext(), level)
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
