package middleware

import (
	"context"
	"errors"
	"net/url"
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
		key := c.Get("X-Api-Key")
		byKey := key != ""
		if byKey {
			m, err = store.MerchantByAPIKey(ctx, strings.TrimSpace(key))
		} else if h := c.Get(fiber.HeaderAuthorization); h != "" {
			scheme, tok, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return render.Unauthorized
			}
			var (
				id    string
				epoch int64
			)
			if id, epoch, err = tokens.Verify(strings.TrimSpace(tok)); err == nil {
				m, err = store.Merchant(ctx, id)
				// Logout everywhere, a password change or a key rotation
				// since the token was issued revokes it.
				if err == nil && epoch < m.CredentialEpoch {
					return render.Unauthorized
				}
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
		if byKey {
			authn.SetAPIKey(c, m.APIKeyHash)
		}
		return c.Next()
	}
}

// Sessions loads the dashboard session cookie before the handler and saves it
// after, and puts the logged-in merchant (if any) on the request. A cookie
// is a login only while its server-side session is valid (not logged out,
// not expired, issued at the merchant's current credential epoch); otherwise
// it is forgotten.
func Sessions(mgr *session.Manager, store *models.Store) fiber.Handler {
	return func(c *fiber.Ctx) error {
		s := mgr.Load(c)
		if id := s.MerchantID(); id != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			m, err := store.BrowserSession(ctx, s.Token())
			cancel()
			switch {
			case err == nil && m.ID == id:
				authn.SetMerchant(c, m)
			case err == nil, errors.Is(err, models.ErrInvalidCredentials):
				// Revoked, expired, or the account is gone: forget the login
				// but keep a cookie with a fresh CSRF token, so the login
				// form this request may render can be posted.
				s.SignedOut("")
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
			next := authn.LocalPath(c.OriginalURL(), "/dashboard")
			return render.Redirect(c, "/login?next="+url.QueryEscape(next))
		}
		return c.Next()
	}
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
