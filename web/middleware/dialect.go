package middleware

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
)

// Dialect marks every request of a route group with the group's dialect, so
// the error handler answers in it whatever the path looks like.
func Dialect(d render.Dialect) fiber.Handler {
	return func(c *fiber.Ctx) error {
		render.SetDialect(c, d)
		return c.Next()
	}
}
