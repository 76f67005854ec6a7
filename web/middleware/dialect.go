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

// DialectUnder is Dialect for a group under prefix. Fiber runs a group's
// middleware for every path that merely starts with the prefix
// ("/api/links" for "/api/link"), so it marks only paths at or below it.
func DialectUnder(prefix string, d render.Dialect) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if render.UnderPrefix(c.Path(), prefix) {
			render.SetDialect(c, d)
		}
		return c.Next()
	}
}
