package middleware

import (
	"log/slog"
	"math/rand/v2"

	"github.com/gofiber/fiber/v2"
)

// HeaderRequestID carries a request's id, in and out.
const HeaderRequestID = "X-Request-Id"

// localRequest is the c.Locals key of the request's *request.
const localRequest = "till.request"

// request is what RequestID records about one request, in one allocation:
// its id, the server's logger, the request's logger (made on first use)
// and whether its route is a poll (Poll).
type request struct {
	id   string
	base *slog.Logger
	log  *slog.Logger
	poll bool
}

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
		r := &request{base: log}
		if in := c.Get(HeaderRequestID); in != "" && len(in) <= 64 && isToken(in) && fromTrustedProxy(c) {
			r.id = string([]byte(in)) // copy: fasthttp reuses the buffer
		} else {
			r.id = newRequestID()
		}
		c.Locals(localRequest, r)
		c.Set(HeaderRequestID, r.id)
		return c.Next()
	}
}

// newRequestID is 16 random hex digits. The id only ties a request's log
// lines together and is no secret, so it comes from the runtime's fast
// per-thread generator rather than a system call per request.
func newRequestID() string {
	const digits = "0123456789abcdef"
	var b [16]byte
	n := rand.Uint64() //nolint:gosec // a log correlation id, not a secret
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

// fromTrustedProxy reports whether the peer is a configured trusted proxy.
// fiber's IsProxyTrusted is true for everyone when no proxies are
// configured, so the check must be on as well.
func fromTrustedProxy(c *fiber.Ctx) bool {
	return c.App().Config().EnableTrustedProxyCheck && c.IsProxyTrusted()
}

// requestOf is the request's record (nil outside RequestID).
func requestOf(c *fiber.Ctx) *request {
	r, _ := c.Locals(localRequest).(*request)
	return r
}

// RequestIDOf is the request's id ("" outside RequestID).
func RequestIDOf(c *fiber.Ctx) string {
	if r := requestOf(c); r != nil {
		return r.id
	}
	return ""
}

// Logger is the request's logger: every line carries its request_id. It
// is made on first use (most requests log one line, at most). Outside
// RequestID it is slog.Default().
func Logger(c *fiber.Ctx) *slog.Logger {
	r := requestOf(c)
	if r == nil {
		return slog.Default()
	}
	if r.log == nil {
		r.log = r.base.With(slog.String("request_id", r.id))
	}
	return r.log
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
