package render

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Dialect is the error (and, later, body) language of a route group: each
// group in web/routes.go sets its own with middleware.Dialect, and the error
// handler answers in it.
type Dialect int

// The dialects Till speaks.
const (
	// DialectHTML: a friendly page (or an htmx fragment).
	DialectHTML Dialect = iota + 1
	// DialectKasPay: {"error": "<sentence>"}.
	DialectKasPay
	// DialectKiraPay: {"statusCode", "message", "timestamp", "path"}.
	DialectKiraPay
)

// dialectKey is the c.Locals key of the request's dialect.
const dialectKey = "till.dialect"

// SetDialect records the dialect of the route group that matched.
func SetDialect(c *fiber.Ctx, d Dialect) { c.Locals(dialectKey, d) }

// KiraPayPrefixes are the path prefixes of the KiraPay route groups, for
// errors raised before any group matched (web/routes.go registers the
// groups under these same prefixes).
var KiraPayPrefixes = []string{"/api/link", "/api/wallet", "/api/admin"}

// DialectOf is the dialect of the group that matched the request. Where no
// group matched (a body over the limit is refused by the server before
// routing) it falls back on the path: KiraPay under its group prefixes,
// KasPay elsewhere under /api, HTML everywhere else.
func DialectOf(c *fiber.Ctx) Dialect {
	if d, ok := c.Locals(dialectKey).(Dialect); ok {
		return d
	}
	p := c.Path()
	for _, pre := range KiraPayPrefixes {
		if UnderPrefix(p, pre) {
			return DialectKiraPay
		}
	}
	if UnderPrefix(p, "/api") {
		return DialectKasPay
	}
	return DialectHTML
}

// UnderPrefix reports whether path is prefix or below it ("/api/link/x"
// is under "/api/link", "/api/links" is not).
func UnderPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// kasPayError is the KasPay error body.
type kasPayError struct {
	Error string `json:"error"`
}

// KasPayError writes the KasPay error body {"error": msg}.
func KasPayError(c *fiber.Ctx, status int, msg string) error {
	return c.Status(status).JSON(kasPayError{Error: msg})
}

// kiraPayError is the KiraPay error body, fields in the seed's order.
type kiraPayError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Timestamp  string `json:"timestamp"`
	Path       string `json:"path"`
}

// KiraPayTimeFormat is ISO-8601 in UTC with milliseconds, as KiraPay's
// timestamps are.
const KiraPayTimeFormat = "2006-01-02T15:04:05.000Z"

// KiraPayError writes the KiraPay error body: the status, the code, the time
// (now, UTC, milliseconds) and the path with its query as requested.
// The path is written as requested (no \u0026 for "&").
func KiraPayError(c *fiber.Ctx, status int, code string, now time.Time) error {
	return JSONRaw(c, status, kiraPayError{StatusCode: status, Message: code,
		Timestamp: now.UTC().Format(KiraPayTimeFormat), Path: c.OriginalURL()})
}
