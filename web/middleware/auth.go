package middleware

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/handlers/session"
	"till/models"
)

// APIAuth authenticates JSON API requests with either a Bearer JWT or an
// x-api-key header and stores the merchant on the request. Anything missing,
// malformed, expired, wrongly signed or revoked is a 401.
func APIAuth(store *models.Store, tokens *authn.Tokens) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var (
			m   *models.Merchant
			err error
		)
		if key := c.Get("X-Api-Key"); key != "" {
			m, err = store.MerchantByAPIKey(ctx, strings.TrimSpace(key))
		} else if h := c.Get(fiber.HeaderAuthorization); h != "" {
			scheme, tok, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return render.Unauthorized
			}
			var id string
			if id, err = tokens.Verify(strings.TrimSpace(tok)); err == nil {
				m, err = store.Merchant(ctx, id)
			}
		} else {
			return render.Unauthorized
		}
		if err != nil {
			if errors.Is(err, models.ErrNotFound) || errors.Is(err, models.ErrInvalidCredentials) || errors.Is(err, authn.ErrBadToken) {
				return render.Unauthorized
			}
			return err
		}
		authn.SetMerchant(c, m)
		return c.Next()
	}
}

// Sessions loads the dashboard session cookie before the handler and saves it
// after, and puts the logged-in merchant (if any) on the request.
func Sessions(mgr *session.Manager, store *models.Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		s := mgr.Load(c)
		if id := s.MerchantID(); id != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			m, err := store.Merchant(ctx, id)
			cancel()
			switch {
			case err == nil:
				authn.SetMerchant(c, m)
			case errors.Is(err, models.ErrNotFound):
				s.Logout() // the account is gone; forget the cookie
			default:
				return err
			}
		}
		err := c.Next()
		if serr := mgr.Save(c); serr != nil && err == nil {
			err = serr
		}
		return err
	}
}

// RequireLogin sends visitors without a dashboard session to the login page
// (HX-Redirect for htmx requests).
func RequireLogin() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if authn.Merchant(c) == nil {
			return render.Redirect(c, "/login?next="+safeNext(c.OriginalURL()))
		}
		return c.Next()
	}
}

// safeNext keeps only a local path for the post-login redirect.
func safeNext(u string) string {
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.ContainsAny(u, "\\\r\n") {
		return "/dashboard"
	}
	return strings.NewReplacer("&", "%26", "?", "%3F", "#", "%23").Replace(u)
}

// CSRF rejects state-changing dashboard requests whose token (form field
// "_csrf" or header X-CSRF-Token, sent by htmx) does not match the session's.
func CSRF() fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		s := session.Get(c)
		tok := c.Get("X-CSRF-Token")
		if tok == "" {
			tok = c.FormValue("_csrf")
		}
		if s == nil || !s.CheckCSRF(tok) {
			return render.Errorf(fiber.StatusForbidden, "Your session expired or the form is stale. Reload the page and try again.")
		}
		return c.Next()
	}
}
