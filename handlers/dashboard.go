package handlers

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/handlers/session"
	"till/models"
	"till/views/pages"
)

// dashTimeout bounds the domain calls of one dashboard request (Fiber has
// no per-request cancellation).
const dashTimeout = 15 * time.Second

func dashCtx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), dashTimeout)
}

// Overview renders the dashboard home: GET /dashboard.
func (h *Handlers) Overview(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	o, err := h.Store.Overview(ctx, m.ID, models.OverviewDays)
	if err != nil {
		return err
	}
	return render.Page(c, fiber.StatusOK, pages.Overview(h.nav(c, "Overview", "overview"),
		pages.OverviewData{O: o, HasAddress: m.KaspaAddress != "" || m.KaspaKpub != ""}))
}

// settingsData fills the settings page from the stored merchant.
func (h *Handlers) settingsData(m *models.Merchant) pages.SettingsData {
	return pages.SettingsData{ //nolint:gosec // G101: APIKeyHint is a mask shown in place of the key, not a credential
		Network:    string(h.Store.Network()),
		APIKeyHint: "••••••••-••••-••••-••••-••••••••••••",
		NextIndex:  strconv.FormatInt(m.KaspaNextIndex, 10),
		Form: pages.Form{Values: map[string]string{
			"name":                  m.Name,
			"kaspaAddress":          m.KaspaAddress,
			"paymentExpiry":         strconv.Itoa(m.PaymentExpiry),
			"kaspaKpub":             m.KaspaKpub,
			"requiredConfirmations": strconv.Itoa(m.RequiredConfirmations),
			"evmAddress":            m.EVMAddressHex(),
		}},
		EVMChains: h.Store.EVMChainNames(),
	}
}

// SettingsPage renders the settings form with the current values.
func (h *Handlers) SettingsPage(c *fiber.Ctx) error {
	return render.Page(c, fiber.StatusOK, pages.Settings(h.nav(c, "Settings", "settings"), h.settingsData(authn.Merchant(c))))
}

// UpdateSettings saves the settings form. Invalid input re-renders the form
// with the errors next to their fields and changes nothing.
func (h *Handlers) UpdateSettings(c *fiber.Ctx) error {
	m := authn.Merchant(c)
	name, addr, kpub := c.FormValue("name"), c.FormValue("kaspaAddress"), c.FormValue("kaspaKpub")
	expiryText, confText := c.FormValue("paymentExpiry"), c.FormValue("requiredConfirmations")
	values := map[string]string{"name": name, "kaspaAddress": addr, "paymentExpiry": expiryText, "kaspaKpub": kpub, "requiredConfirmations": confText}
	// evmAddress is changed only when the form carries the field ("" clears it).
	var evmAddr *string
	if c.Request().PostArgs().Has("evmAddress") {
		v := c.FormValue("evmAddress")
		evmAddr, values["evmAddress"] = &v, v
	}
	d := h.settingsData(m)
	d.Form.Values = values
	var conv models.ValidationErrors
	expiry, err := strconv.Atoi(strings.TrimSpace(expiryText))
	if err != nil {
		conv = append(conv, &models.ValidationError{Field: "paymentExpiry", Message: "Payment window must be a whole number of minutes"})
	}
	conf, err := strconv.Atoi(strings.TrimSpace(confText))
	if err != nil {
		conv = append(conv, &models.ValidationError{Field: "requiredConfirmations", Message: "Confirmations must be a whole number"})
	}
	if len(conv) > 0 {
		err = conv
	} else {
		var saved *models.Merchant
		saved, err = h.Store.UpdateSettings(c.UserContext(), m.ID, models.SettingsInput{
			Name: &name, KaspaAddress: &addr, PaymentExpiry: &expiry, KaspaKpub: &kpub, RequiredConfirmations: &conf,
			EVMAddress: evmAddr,
		})
		if err == nil {
			d = h.settingsData(saved)
		}
	}
	if err != nil {
		fields, general := formErrors(err)
		if fields == nil && general == "" {
			return err
		}
		d.Form.Errors, d.Form.Error = fields, general
		return h.renderSettings(c, render.FormStatus(c), d)
	}
	d.Form.Values["saved"] = "1"
	return h.renderSettings(c, fiber.StatusOK, d)
}

func (h *Handlers) renderSettings(c *fiber.Ctx, status int, d pages.SettingsData) error {
	n := h.nav(c, "Settings", "settings")
	return render.PageOrPartial(c, status, pages.Settings(n, d), pages.SettingsForm(n.CSRF, d))
}

// RevealAPIKey shows the merchant's API key (an htmx fragment, or the page).
func (h *Handlers) RevealAPIKey(c *fiber.Ctx) error {
	m := authn.Merchant(c)
	key, err := h.Store.APIKey(m)
	if err != nil {
		return err
	}
	return h.renderAPIKey(c, m, key, false)
}

// RotateAPIKey replaces the API key and shows the new one. htmx asked the
// merchant first (hx-confirm); a plain form post gets a confirmation page
// that posts again with confirm=yes.
func (h *Handlers) RotateAPIKey(c *fiber.Ctx) error {
	m := authn.Merchant(c)
	if !render.IsHTMX(c) && !confirmed(c) {
		return h.renderConfirm(c, "settings", pages.ConfirmData{
			Title:  "Rotate the API key?",
			Body:   "The current key stops working immediately; integrations using it get 401 until you give them the new key.",
			Action: "/dashboard/settings/api-key", Button: "Rotate API key", Cancel: "/dashboard/settings",
		})
	}
	key, err := h.Store.RotateAPIKey(c.UserContext(), m.ID)
	if err != nil {
		return err
	}
	// The rotation revoked every session; this browser stays signed in.
	if err := h.reissueSession(c, m.ID); err != nil {
		return err
	}
	return h.renderAPIKey(c, m, key, true)
}

// ChangePassword changes the merchant's password: POST
// /dashboard/settings/password. Other browser sessions and older API
// tokens are revoked; this browser gets a new session. Attempts count
// against the account's sign-in budget (the current password is guessed
// otherwise).
func (h *Handlers) ChangePassword(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	current, next, again := c.FormValue("currentPassword"), c.FormValue("newPassword"), c.FormValue("confirmPassword")
	err := h.Store.LoginAttempt(ctx, c.IP(), m.Email, h.LoginLimit)
	if err == nil {
		if next != again {
			err = &models.ValidationError{Field: "confirmPassword", Message: "The two new passwords do not match"}
		} else {
			err = h.Store.ChangePassword(ctx, m.ID, current, next)
		}
	}
	d := h.settingsData(m)
	if err != nil {
		status := render.FormStatus(c)
		var limited *models.RateLimitError
		if errors.As(err, &limited) {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(limited.RetryAfterSeconds()))
			d.Password.Error = "Too many attempts. Wait a minute, then try again."
			status = fiber.StatusTooManyRequests
		} else {
			fields, general := formErrors(err)
			if fields == nil && general == "" {
				return err
			}
			d.Password.Errors, d.Password.Error = fields, general
		}
		n := h.nav(c, "Settings", "settings")
		return render.PageOrPartial(c, status, pages.Settings(n, d), pages.PasswordForm(n.CSRF, d))
	}
	if err := h.reissueSession(c, m.ID); err != nil {
		return err
	}
	if !render.IsHTMX(c) {
		session.Get(c).SetFlash("Password changed. Your other devices were signed out.")
		return render.Redirect(c, "/dashboard/settings")
	}
	d.PasswordChanged = true
	n := h.nav(c, "Settings", "settings")
	return render.Page(c, fiber.StatusOK, pages.PasswordForm(n.CSRF, d))
}

func (h *Handlers) renderAPIKey(c *fiber.Ctx, m *models.Merchant, key string, rotated bool) error {
	c.Set("Cache-Control", "no-store")
	n := h.nav(c, "Settings", "settings")
	d := h.settingsData(m)
	d.APIKey, d.Rotated = key, rotated
	return render.PageOrPartial(c, fiber.StatusOK, pages.Settings(n, d), pages.APIKeyRevealed(n.CSRF, key, rotated))
}
