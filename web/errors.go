package web

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers"
	"till/handlers/render"
	"till/models"
	"till/web/middleware"
)

// errorHandler renders every error a handler or middleware returns, in the
// dialect of the route group that matched (render.DialectOf): {"error": …}
// on the KasPay API, {statusCode, message, timestamp, path} on KiraPay
// groups, a friendly page (or an htmx fragment) on HTML routes. Unexpected
// errors are logged with the request's logger (it carries the request id)
// and shown only as a generic message.
func errorHandler(pages *handlers.Handlers) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		dialect := render.DialectOf(c)
		status, msg, internal := render.ErrorStatus(c, err)
		if internal {
			middleware.Logger(c).ErrorContext(c.UserContext(), "request failed",
				slog.String("method", c.Method()),
				slog.String("path", c.Path()),
				slog.String("error", err.Error()))
		}
		// Drop anything a handler had started to write (a half-rendered page).
		c.Response().ResetBody()
		var limited *models.RateLimitError
		if errors.As(err, &limited) {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(limited.RetryAfterSeconds()))
		}
		switch dialect {
		case render.DialectKasPay:
			return render.KasPayError(c, status, msg)
		case render.DialectKiraPay:
			return render.KiraPayError(c, status, msg, time.Now())
		}
		return pages.ErrorPage(c, status, msg)
	}
}
