package middleware_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/web/middleware"
)

type ctxKey struct{}

// deadlineApp serves GET / through Deadline(d) under a parent context
// carrying a value, running probe with the handler's context.
func deadlineApp(t *testing.T, d time.Duration, probe func(ctx context.Context) error) {
	t.Helper()
	app := fiber.New()
	app.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(context.WithValue(context.Background(), ctxKey{}, "parent value"))
		return c.Next()
	})
	app.Use(middleware.Deadline(d))
	app.Get("/", func(c *fiber.Ctx) error { return probe(c.UserContext()) })
	resp, err := app.Test(httptest.NewRequest("GET", "/", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != fiber.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestDeadlineContext: the request's context has its deadline and the
// parent's values, is live while the request runs, ends with it (Canceled)
// whether or not anyone waited on it, expires at its deadline
// (DeadlineExceeded), and ends the contexts derived from it.
func TestDeadlineContext(t *testing.T) {
	t.Run("unwaited: live, then canceled with the request", func(t *testing.T) {
		var kept context.Context
		deadlineApp(t, time.Minute, func(ctx context.Context) error {
			kept = ctx
			dl, ok := ctx.Deadline()
			if left := time.Until(dl); !ok || left <= 50*time.Second || left > time.Minute {
				t.Errorf("deadline in %v (%v), want about a minute", left, ok)
			}
			if ctx.Err() != nil || ctx.Value(ctxKey{}) != "parent value" {
				t.Errorf("live context: err %v, value %v", ctx.Err(), ctx.Value(ctxKey{}))
			}
			return nil
		})
		if !errors.Is(kept.Err(), context.Canceled) {
			t.Fatalf("after the request: %v, want Canceled", kept.Err())
		}
		select {
		case <-kept.Done(): // waited on only now: already closed
		default:
			t.Fatal("Done of an ended request is open")
		}
	})
	t.Run("waited: derived contexts end with the request", func(t *testing.T) {
		var derived context.Context
		deadlineApp(t, time.Minute, func(ctx context.Context) error {
			var cancel context.CancelFunc
			derived, cancel = context.WithCancel(ctx)
			t.Cleanup(cancel) // after the checks: the request must end it first
			if derived.Err() != nil || derived.Value(ctxKey{}) != "parent value" {
				t.Errorf("derived context: err %v, value %v", derived.Err(), derived.Value(ctxKey{}))
			}
			return nil
		})
		select {
		case <-derived.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("derived context still open after the request")
		}
		if !errors.Is(derived.Err(), context.Canceled) {
			t.Fatalf("derived: %v, want Canceled", derived.Err())
		}
	})
	t.Run("expires at its deadline", func(t *testing.T) {
		deadlineApp(t, 20*time.Millisecond, func(ctx context.Context) error {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("deadline never came")
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				t.Errorf("after the deadline: %v (cause %v), want DeadlineExceeded", ctx.Err(), context.Cause(ctx))
			}
			return nil
		})
	})
	t.Run("past the deadline, unwaited", func(t *testing.T) {
		deadlineApp(t, time.Nanosecond, func(ctx context.Context) error {
			if dl, _ := ctx.Deadline(); time.Now().Before(dl) {
				t.Skip("clock did not pass a nanosecond")
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Errorf("Err %v, want DeadlineExceeded", ctx.Err())
			}
			return nil
		})
	})
}
