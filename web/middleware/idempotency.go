package middleware

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/models"
)

// HeaderIdempotencyKey is the request header naming an idempotent create;
// HeaderIdempotentReplayed marks a replayed response.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
)

// IdempotencyScope says whose keys a route's keys are.
type IdempotencyScope func(c *fiber.Ctx) string

// ByMerchant scopes keys to the authenticated merchant (after APIAuth).
func ByMerchant(c *fiber.Ctx) string { return "merchant:" + authn.Merchant(c).ID }

// ByClientIP scopes keys to the client IP (public routes).
func ByClientIP(c *fiber.Ctx) string { return "ip:" + c.IP() }

// Idempotent makes a create route idempotent under the Idempotency-Key
// header (models/idempotency.go): without the header the route runs as
// usual; with it, the first request runs and its response (any status
// below 500) is kept 24 hours, and the same request with the same key gets
// it again byte for byte with Idempotent-Replayed: true. The same key with
// another request is a 422 and a retry while the first runs a 409, in the
// route group's dialect. A 5xx is not kept, so a retry runs again.
func Idempotent(store *models.Store, scope IdempotencyScope) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(HeaderIdempotencyKey)
		if key == "" && c.Request().Header.Peek(HeaderIdempotencyKey) == nil {
			return c.Next()
		}
		if err := models.CheckIdempotencyKey(key); err != nil {
			return err
		}
		sc := scope(c)
		fp := models.RequestFingerprint(c.Method(), c.OriginalURL(), c.Body())
		stored, err := store.BeginIdempotent(c.UserContext(), sc, key, fp)
		if err != nil {
			return err
		}
		if stored != nil {
			c.Set(HeaderIdempotentReplayed, "true")
			c.Set(fiber.HeaderContentType, stored.ContentType)
			return c.Status(stored.Status).Send(stored.Body)
		}
		// The response is final only once errors are rendered: render them
		// here, in the group's dialect, so it can be kept.
		if err := c.Next(); err != nil {
			if herr := c.App().Config().ErrorHandler(c, err); herr != nil {
				release(store, sc, key)
				return herr
			}
		}
		resp := c.Response()
		if resp.StatusCode() >= 500 {
			release(store, sc, key)
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// The request has done its work: its response stands even if it
		// cannot be kept (the key is then retaken after
		// IdempotencyAbandonAfter), so the error is not the client's.
		_ = store.FinishIdempotent(ctx, sc, key, models.StoredResponse{
			Status: resp.StatusCode(), ContentType: string(resp.Header.ContentType()),
			Body: append([]byte(nil), resp.Body()...),
		})
		return nil
	}
}

// release forgets a claimed key whose request failed, on a context of its
// own (the request's may have ended).
func release(store *models.Store, scope, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = store.AbandonIdempotent(ctx, scope, key)
}
