package middleware

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"till/handlers/render"
	"till/models"
)

// RateLimit allows max requests per window from one client IP, then answers
// 429 through the error handler (so each surface gets its own error format).
// Counters live in this process: behind a load balancer each instance counts
// on its own, which still bounds password guessing per instance.
func RateLimit(max int, window time.Duration) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:                    max,
		Expiration:             window,
		KeyGenerator:           func(c *fiber.Ctx) string { return c.IP() },
		LimiterMiddleware:      limiter.SlidingWindow{},
		SkipFailedRequests:     false,
		SkipSuccessfulRequests: false,
		LimitReached: func(c *fiber.Ctx) error {
			return render.Errorf(fiber.StatusTooManyRequests, "Too many requests, please try again later")
		},
	})
}

// SharedRateLimit allows l.Max requests per l.Window from one client IP in
// the named budget, counted in the database (models.Store.RateLimitIP), so
// every `till serve` process on one Postgres shares it. Over the budget it
// answers 429 (with Retry-After) through the error handler.
func SharedRateLimit(store *models.Store, name string, l models.RateLimit) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
		defer cancel()
		if err := store.RateLimitIP(ctx, name, c.IP(), l); err != nil {
			return err
		}
		return c.Next()
	}
}
