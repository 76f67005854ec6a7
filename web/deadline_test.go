package web_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/web/middleware"
	"till/web/webtest"
)

// TestRequestDeadline: every handler's context carries the request deadline
// (the JSON API's domain calls had none), and it ends with the request.
func TestRequestDeadline(t *testing.T) {
	env := webtest.New(t)
	var ctxErr func() error
	env.Server.App.Get("/testonly/deadline", func(c *fiber.Ctx) error {
		ctx := c.UserContext()
		ctxErr = ctx.Err
		dl, ok := ctx.Deadline()
		if !ok {
			return c.SendString("none")
		}
		return c.SendString(strconv.FormatInt(int64(time.Until(dl)), 10))
	})
	r := env.Do("GET", "/testonly/deadline", nil)
	left, err := strconv.ParseInt(string(r.Body), 10, 64)
	if r.Status != 200 || err != nil || time.Duration(left) <= middleware.DefaultRequestTimeout-5*time.Second ||
		time.Duration(left) > middleware.DefaultRequestTimeout {
		t.Fatalf("deadline: %d %s, want about %v", r.Status, r.Body, middleware.DefaultRequestTimeout)
	}
	if ctxErr == nil || ctxErr() == nil {
		t.Fatal("the request's context outlived the request")
	}
}
