// Package kirapay serves the KiraPay Public API (issue 10 §2) over Till's
// own domain: the same links, payments and webhooks as the KasPay surface,
// in KiraPay's envelope, field names and error codes. Handlers parse and
// validate the request, make one domain call and write the seed's shape;
// errors are returned and rendered by the web layer's error handler in the
// KiraPay dialect ({statusCode, message, timestamp, path}).
package kirapay

import (
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
	"till/models"
	"till/models/netguard"
)

// Config holds the dependencies of the KiraPay handlers.
type Config struct {
	Store *models.Store
	// BaseURL is TILL_BASE_URL: a link's url is BaseURL + "/" + code.
	BaseURL string
	// WebhookPolicy is the destination rule for webhook URLs (nil: strict).
	WebhookPolicy *netguard.Policy
}

// API holds the dependencies of the KiraPay handlers.
type API struct {
	Store         *models.Store
	BaseURL       string
	WebhookPolicy *netguard.Policy
}

// New builds the KiraPay API from its configuration.
func New(cfg Config) *API {
	return &API{Store: cfg.Store, BaseURL: cfg.BaseURL, WebhookPolicy: cfg.WebhookPolicy}
}

// envelope is KiraPay's success body, fields in the seed's order.
type envelope struct {
	Message string `json:"message"`
	Data    any    `json:"data"`
	Code    int    `json:"code"`
}

// OK writes KiraPay's success body {"message":"success","data":…,"code":status}
// with status. URLs are written as they are (no \u0026 for "&").
func OK(c *fiber.Ctx, status int, data any) error {
	return render.JSONRaw(c, status, envelope{Message: "success", Data: data, Code: status})
}

// Fail is an error the KiraPay error handler answers with status and code
// as its message ({statusCode, message: code, timestamp, path}).
func Fail(status int, code string) error { return &render.CodeError{Status: status, Code: code} }

// NotFound answers every unknown route of the KiraPay groups: 404 NOT_FOUND.
func NotFound(*fiber.Ctx) error { return Fail(http.StatusNotFound, "NOT_FOUND") }

// Paging bounds of the list endpoints (issue 10 §2.2).
const (
	DefaultLimit = 10
	MaxLimit     = 100
)

// PageParams reads ?page=&limit=: page defaults to 1 and limit to 10; a
// limit above 100 is served as 100; a non-integer or a value below 1 is 400
// INVALID_PAGE / INVALID_LIMIT.
func PageParams(c *fiber.Ctx) (page, limit int, err error) {
	page, ok := positive(c.Query("page"), 1)
	if !ok {
		return 0, 0, Fail(http.StatusBadRequest, "INVALID_PAGE")
	}
	limit, ok = positive(c.Query("limit"), DefaultLimit)
	if !ok {
		return 0, 0, Fail(http.StatusBadRequest, "INVALID_LIMIT")
	}
	return page, min(limit, MaxLimit), nil
}

// positive reads a query integer ≥ 1, def when absent. A value too large
// for an int is not an integer Till can serve, so it is refused too.
func positive(s string, def int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// Pages is the number of pages of limit items that hold total:
// ceil(total/limit), 0 when there are none.
func Pages(total int64, limit int) int {
	if total <= 0 || limit <= 0 {
		return 0
	}
	return int((total + int64(limit) - 1) / int64(limit))
}
