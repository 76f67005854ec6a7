package web

import (
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"till/handlers/render"
	"till/models"
	"till/web/middleware"
)

// BenchmarkChain measures what Till's HTTP stack costs per request around a
// handler that does no database work: the same status-sized JSON body
// answered by a bare Fiber app (the ceiling of make bench-http) and by
// Till's configuration and middleware chain (request id, recover, access
// log at info, security headers, deadline, dialect; with the public read
// limiter for "limited"; an access log line for "logged"), driven through Fiber's fasthttp handler with no
// sockets, so CPU and allocations per request are the stack's own.
//
//	go test ./web -run '^$' -bench Chain -benchmem
func BenchmarkChain(b *testing.B) {
	body := statusFixture()
	handler := func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return render.JSON(c, fiber.StatusOK, body)
	}
	bare := fiber.New(fiber.Config{DisableStartupMessage: true})
	bare.Get("/api/payments/:id/status", handler)

	till := func(route ...fiber.Handler) *fiber.App {
		o := Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		app := fiber.New(fiberConfig(o, func(c *fiber.Ctx, err error) error {
			return render.KasPayError(c, fiber.StatusInternalServerError, err.Error())
		}))
		useCommon(app, o, true)
		app.Use(middleware.Deadline(middleware.DefaultRequestTimeout))
		v := app.Group("/api", middleware.Dialect(render.DialectKasPay))
		v.Get("/payments/:id/status", append(route, handler)...)
		return app
	}
	for _, bc := range []struct {
		name string
		app  *fiber.App
	}{
		{"bare", bare},
		// A polled route as web/routes.go marks it (no access log line at info).
		{"till-poll", till(middleware.Poll)},
		// An unmarked route: one access log line at info.
		{"till-logged", till()},
		// A polled public route with the per-IP limiter (/api/link/:code).
		{"till-poll-limited", till(middleware.Poll, middleware.RateLimit(1<<30, time.Minute))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			serveParallel(b, bc.app, "/api/payments/0f8c2a6e-5b1d-4c3e-9a7f-2d4e6b8a0c1e/status")
		})
	}
}

// serveParallel sends GET path through app's fasthttp handler on every
// core, each goroutine reusing one request context as a keep-alive
// connection does, from its own client IP, and fails on any status but 200.
func serveParallel(b *testing.B, app *fiber.App, path string) {
	h := app.Handler()
	var client atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := client.Add(1)
		var req fasthttp.Request
		req.Header.SetMethod(fiber.MethodGet)
		req.SetRequestURI(path)
		req.Header.SetHost("till.test")
		addr := &net.TCPAddr{IP: net.IPv4(10, 0, byte(n>>8), byte(n)), Port: 40000}
		var ctx fasthttp.RequestCtx
		for pb.Next() {
			ctx.Init(&req, addr, nil)
			h(&ctx)
			if code := ctx.Response.StatusCode(); code != fiber.StatusOK {
				b.Fatalf("status %d: %s", code, ctx.Response.Body())
			}
			ctx.Response.Reset()
		}
	})
}

// statusFixture is a confirmed payment's KasPay status object, the body
// the status poll answers.
func statusFixture() models.KasPayStatus {
	sender, tx, at := "kaspa:qpzry9x8gf2tvdw0s3jn54khce6mua7lqpzry9x8gf2tvdw0s3jn5", "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b", "2026-11-30T05:00:00.000Z"
	return models.KasPayStatus{
		ID: "0f8c2a6e-5b1d-4c3e-9a7f-2d4e6b8a0c1e", Status: "confirmed", Stage: "confirmed",
		AmountReceived: "10.00012345", SenderAddress: &sender, TxID: &tx, Confirmations: 12, ConfirmedAt: &at,
		AmountExpected: "10.00012345", RequiredConfirmations: 10, ExpiresAt: "2026-11-30T05:30:00.000Z",
	}
}
