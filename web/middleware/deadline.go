package middleware

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// DefaultRequestTimeout bounds the work of one request: the domain calls a
// handler makes on c.UserContext() are cancelled after it.
const DefaultRequestTimeout = 30 * time.Second

// Deadline gives every handler's context a deadline of d (the JSON API
// passes c.UserContext() to the domain, which otherwise has none), and ends
// the context when the request ends. Bodies streamed after the handler
// returns (the unpaged payments list, the CSV export) run on their own,
// longer contexts and are not cut by it.
//
// The context arms its timer only when someone waits on it (Done: the
// database drivers do, for every statement). A request that never waits —
// a cached status poll, a health check, a page from memory — costs one
// small allocation and no timer, where context.WithTimeout made four and
// started and stopped a runtime timer for every request.
func Deadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		parent := c.UserContext()
		ctx := &deadlineCtx{parent: parent, deadline: time.Now().Add(d)}
		defer func() {
			ctx.end()
			// The error handler runs after this returns (or panics) and
			// renders with the request's context: give it back the parent,
			// which ending this one does not end.
			c.SetUserContext(parent)
		}()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// deadlineCtx is a context with a deadline whose timer is made on first
// use. Until then Deadline, Err and Value answer from the deadline and the
// parent; from then on everything is the armed context.WithDeadline's, so
// contexts derived from it attach to it as to any context of the standard
// library (no goroutine per derived context), and Cause works.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	armed  context.Context // nil until Done
	cancel context.CancelFunc
	ended  bool
}

// Deadline is the request's deadline.
func (c *deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done arms the context (once) and returns its channel, closed at the
// deadline, when the request ends, or when the parent is done.
func (c *deadlineCtx) Done() <-chan struct{} { return c.arm().Done() }

// Err is nil while the request runs within its deadline, then
// context.DeadlineExceeded, or context.Canceled once the request ended.
func (c *deadlineCtx) Err() error {
	c.mu.Lock()
	armed, ended := c.armed, c.ended
	c.mu.Unlock()
	switch {
	case armed != nil:
		return armed.Err()
	case ended:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return c.parent.Err()
}

// Value is the armed context's value (which holds what the standard
// library looks up to attach derived contexts), else the parent's.
func (c *deadlineCtx) Value(key any) any {
	c.mu.Lock()
	armed := c.armed
	c.mu.Unlock()
	if armed != nil {
		return armed.Value(key)
	}
	return c.parent.Value(key)
}

// arm makes the timer-backed context on first use; after the request
// ended it is made already cancelled.
func (c *deadlineCtx) arm() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed == nil {
		c.armed, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.ended {
			c.cancel()
		}
	}
	return c.armed
}

// end ends the context with the request: the armed context is cancelled
// (its timer stopped), an unarmed one only answers Canceled from now on.
func (c *deadlineCtx) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	if c.cancel != nil {
		c.cancel()
	}
}

// String names the context in panics and debug output, as the standard
// library's contexts do.
func (c *deadlineCtx) String() string { return "middleware.Deadline(" + c.deadline.String() + ")" }
