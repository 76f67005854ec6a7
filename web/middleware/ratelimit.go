package middleware

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"till/handlers/render"
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
