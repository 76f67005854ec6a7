package web

import (
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"till/handlers"
	"till/handlers/render"
	"till/models"
)

// errorHandler renders every error a handler or middleware returns, in the
// dialect of the surface the request hit: {"error": …} on the KasPay API,
// a friendly page (or an htmx fragment) on HTML routes. Unexpected errors are
// logged with the request id and shown only as a generic message.
func errorHandler(log *slog.Logger, pages *handlers.Handlers) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, msg, internal := render.StatusOf(err)
		if internal {
			log.ErrorContext(c.UserContext(), "request failed",
				slog.String("method", c.Method()),
				slog.String("path", c.Path()),
				slog.Any("request_id", c.Locals("request_id")),
				slog.String("error", err.Error()))
		}
		// Drop anything a handler had started to write (a half-rendered page).
		c.Response().ResetBody()
		var limited *models.RateLimitError
		if errors.As(err, &limited) {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(limited.RetryAfterSeconds()))
		}
		if isAPI(c.Path()) {
			return c.Status(status).JSON(fiber.Map{"error": msg})
		}
		return pages.ErrorPage(c, status, msg)
	}
}

func isAPI(path string) bool { return path == "/api" || strings.HasPrefix(path, "/api/") }
