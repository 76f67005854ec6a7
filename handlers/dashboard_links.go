package handlers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	qrcode "github.com/skip2/go-qrcode"

	"till/handlers/authn"
	"till/handlers/render"
	"till/handlers/session"
	"till/models"
	"till/views/pages"
)

// The payment links section of the dashboard: the list, the link builder
// with its live preview, publish / deactivate / reactivate, and QR codes.

// linkFields are the builder's form fields; they carry the API's names, so
// domain validation errors land on the right field.
var linkFields = []string{"title", "description", "amount", "currency", "expiryMinutes", "status", "successMessage", "redirectUrl", "linkExpiresIn", "chain", "receiver"}

// linkForm reads the builder's fields into a LinkInput. Values that are
// not numbers where numbers belong come back as conversion errors (the
// domain never sees them).
func linkForm(c *fiber.Ctx) (models.LinkInput, map[string]string, models.ValidationErrors) {
	v := make(map[string]string, len(linkFields))
	for _, k := range linkFields {
		v[k] = c.FormValue(k)
	}
	in, conv := linkInput(v)
	return in, v, conv
}

// linkInput converts the builder's values to a LinkInput.
func linkInput(v map[string]string) (models.LinkInput, models.ValidationErrors) {
	title, desc, amount, currency := v["title"], v["description"], v["amount"], v["currency"]
	status, success, redirect := v["status"], v["successMessage"], v["redirectUrl"]
	in := models.LinkInput{Title: &title, Description: &desc, Amount: &amount, Currency: &currency,
		SuccessMessage: &success, RedirectURL: &redirect}
	if status != "" {
		in.Status = &status
	}
	if strings.EqualFold(strings.TrimSpace(currency), string(models.USDC)) {
		// The chain and receiver fields only mean something for USDC.
		chain, receiver := v["chain"], v["receiver"]
		in.Chain, in.Receiver = &chain, &receiver
	}
	var conv models.ValidationErrors
	if text := strings.TrimSpace(v["expiryMinutes"]); text == "" {
		var useDefault *int
		in.ExpiryMinutes = &useDefault
	} else if n, err := strconv.Atoi(text); err == nil {
		p := &n
		in.ExpiryMinutes = &p
	} else {
		conv = append(conv, &models.ValidationError{Field: "expiryMinutes", Message: "Payment window must be a whole number of minutes"})
	}
	switch text := strings.TrimSpace(v["linkExpiresIn"]); text {
	case "", "keep": // unchanged (a new link never expires)
	default:
		if n, err := strconv.Atoi(text); err == nil {
			p := &n
			in.LinkExpiresIn = &p
		} else {
			conv = append(conv, &models.ValidationError{Field: "linkExpiresIn", Message: "Choose a link lifetime from the list"})
		}
	}
	return in, conv
}

// linkValues fills the builder from a stored link.
func linkValues(l *models.PaymentLink) map[string]string {
	v := map[string]string{
		"title": l.Title, "description": l.Description, "amount": models.FormatUnits(l.Amount, l.Currency.Decimals(), 0),
		"currency": string(l.Currency), "status": string(l.Status), "successMessage": l.SuccessMessage,
		"redirectUrl": l.RedirectURL, "linkExpiresIn": "keep",
	}
	if l.Currency == models.USDC {
		v["chain"], v["receiver"] = l.Chain, l.ReceiverHex()
	}
	if l.ExpiryMinutes != nil {
		v["expiryMinutes"] = strconv.Itoa(*l.ExpiryMinutes)
	}
	return v
}

func (h *Handlers) linkURL(l *models.PaymentLink) string { return h.BaseURL + "/pay/" + l.Slug }

// LinksPage lists the merchant's links: GET /dashboard/links.
func (h *Handlers) LinksPage(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	links, err := h.Store.LinkSummaries(ctx, authn.Merchant(c).ID)
	if err != nil {
		return err
	}
	return render.Page(c, fiber.StatusOK, pages.Links(h.nav(c, "Payment links", "links"),
		pages.LinksData{Links: links, BaseURL: h.BaseURL, Now: h.Store.Now()}))
}

// NewLink shows the empty link builder: GET /dashboard/links/new.
func (h *Handlers) NewLink(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	d := pages.LinkFormData{DefaultWindow: m.PaymentExpiry, EVMChains: h.Store.EVMChainNames(),
		Form: pages.Form{Values: map[string]string{"currency": "KAS", "status": "active", "linkExpiresIn": "0",
			"receiver": m.EVMAddressHex()}}}
	if len(d.EVMChains) > 0 {
		d.Form.Values["chain"] = d.EVMChains[0]
	}
	kas, active := "KAS", "active"
	p, err := h.Store.PreviewLink(ctx, m.ID, models.LinkInput{Currency: &kas, Status: &active})
	if err != nil {
		return err
	}
	d.Preview = p
	return render.Page(c, fiber.StatusOK, pages.LinkForm(h.nav(c, "New payment link", "links"), d))
}

// EditLink shows the builder for an existing link: GET /dashboard/links/:id/edit.
func (h *Handlers) EditLink(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	l, err := h.Store.Link(ctx, m.ID, c.Params("id"))
	if err != nil {
		return err
	}
	d := pages.LinkFormData{ID: l.ID, URL: h.linkURL(l), ExpiresAt: l.ExpiresAt, DefaultWindow: m.PaymentExpiry,
		Form: pages.Form{Values: linkValues(l)}, EVMChains: h.Store.EVMChainNames()}
	if l.ReceiverChecksumMismatch() {
		d.ReceiverGiven = l.ReceiverGiven
	}
	in, _ := linkInput(d.Form.Values)
	if d.Preview, err = h.Store.PreviewLink(ctx, m.ID, in); err != nil {
		return err
	}
	d.Preview.Link.ExpiresAt = l.ExpiresAt
	return render.Page(c, fiber.StatusOK, pages.LinkForm(h.nav(c, "Edit payment link", "links"), d))
}

// PreviewLink renders the checkout preview of the builder's current values
// without saving anything: POST /dashboard/links/preview (htmx).
func (h *Handlers) PreviewLink(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	in, _, _ := linkForm(c)
	p, err := h.Store.PreviewLink(ctx, authn.Merchant(c).ID, in)
	if err != nil {
		return err
	}
	return render.Page(c, fiber.StatusOK, pages.LinkPreviewCard(p))
}

// CreateLink saves a new link from the builder: POST /dashboard/links.
func (h *Handlers) CreateLink(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	in, values, conv := linkForm(c)
	d := pages.LinkFormData{DefaultWindow: m.PaymentExpiry, Form: pages.Form{Values: values}, EVMChains: h.Store.EVMChainNames()}
	if len(conv) == 0 {
		l, err := h.Store.CreateLink(ctx, m.ID, in)
		if err == nil {
			session.Get(c).SetFlash("Payment link “" + l.Title + "” created.")
			return render.Redirect(c, "/dashboard/links")
		}
		return h.linkFormError(c, d, in, nil, err)
	}
	return h.linkFormError(c, d, in, conv, nil)
}

// UpdateLink saves the builder over an existing link: POST /dashboard/links/:id.
func (h *Handlers) UpdateLink(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	in, values, conv := linkForm(c)
	d := pages.LinkFormData{ID: c.Params("id"), DefaultWindow: m.PaymentExpiry, Form: pages.Form{Values: values}, EVMChains: h.Store.EVMChainNames()}
	if len(conv) == 0 {
		l, err := h.Store.UpdateLink(ctx, m.ID, d.ID, in)
		if err == nil {
			session.Get(c).SetFlash("Payment link “" + l.Title + "” saved.")
			return render.Redirect(c, "/dashboard/links")
		}
		return h.linkFormError(c, d, in, nil, err)
	}
	if _, err := h.Store.Link(ctx, m.ID, d.ID); err != nil {
		return err // someone else's link: 404 before any form
	}
	return h.linkFormError(c, d, in, conv, nil)
}

// linkFormError re-renders the builder with every problem next to its
// field: the domain's (err) or, when some field could not even be
// converted (conv), the conversion errors plus what validation says about
// the rest. Other errors (a missing link) go to the error handler.
func (h *Handlers) linkFormError(c *fiber.Ctx, d pages.LinkFormData, in models.LinkInput, conv models.ValidationErrors, err error) error {
	if err != nil && !isValidation(err) {
		return err
	}
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	// The preview validates without writing: it completes conversion
	// errors and feeds the full page's preview card.
	p, perr := h.Store.PreviewLink(ctx, m.ID, in)
	if perr != nil {
		return perr
	}
	errs := conv
	if err != nil {
		errs = append(errs, mustValidation(err)...)
	} else {
		for _, e := range p.Errors {
			if conv.For(e.Field) == "" {
				errs = append(errs, e)
			}
		}
	}
	d.Form.Errors, d.Form.Error = formErrors(errs)
	d.Preview = p
	if d.ID != "" {
		if l, lerr := h.Store.Link(ctx, m.ID, d.ID); lerr == nil {
			d.URL, d.ExpiresAt = h.linkURL(l), l.ExpiresAt
		}
	}
	title := "New payment link"
	if d.ID != "" {
		title = "Edit payment link"
	}
	n := h.nav(c, title, "links")
	return render.PageOrPartial(c, render.FormStatus(c), pages.LinkForm(n, d), pages.LinkFormFields(n.CSRF, d))
}

func isValidation(err error) bool {
	_, ok := models.AsValidation(err)
	return ok
}

func mustValidation(err error) models.ValidationErrors {
	v, _ := models.AsValidation(err)
	return v
}

// ActivateLink publishes a draft or reactivates an inactive link:
// POST /dashboard/links/:id/activate.
func (h *Handlers) ActivateLink(c *fiber.Ctx) error {
	return h.setLinkStatus(c, models.LinkActive, "is live: customers can pay with it.")
}

// DeactivateLink stops a link taking payments, after a confirmation:
// GET shows the confirmation, POST with confirm=yes acts
// (/dashboard/links/:id/deactivate).
func (h *Handlers) DeactivateLink(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodPost && confirmed(c) {
		return h.setLinkStatus(c, models.LinkInactive, "is deactivated: customers can no longer pay with it.")
	}
	ctx, cancel := dashCtx(c)
	defer cancel()
	l, err := h.Store.Link(ctx, authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return h.renderConfirm(c, "links", pages.ConfirmData{
		Title:  "Deactivate “" + l.Title + "”?",
		Body:   "Customers will no longer be able to start a payment with this link. Sessions already open can still be paid. You can reactivate it later.",
		Action: "/dashboard/links/" + l.ID + "/deactivate", Button: "Deactivate link", Cancel: "/dashboard/links",
	})
}

func (h *Handlers) setLinkStatus(c *fiber.Ctx, st models.LinkStatus, done string) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	s := string(st)
	l, err := h.Store.UpdateLink(ctx, authn.Merchant(c).ID, c.Params("id"), models.LinkInput{Status: &s})
	if err != nil {
		return err
	}
	session.Get(c).SetFlash("“" + l.Title + "” " + done)
	return render.Redirect(c, "/dashboard/links")
}

// LinkQR downloads the QR code of a link's checkout URL as a PNG:
// GET /dashboard/links/:id/qr.png.
func (h *Handlers) LinkQR(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	l, err := h.Store.Link(ctx, authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	png, err := qrcode.Encode(h.linkURL(l), qrcode.Medium, 512)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "image/png")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="till-`+l.Slug+`.png"`)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.Send(png)
}

// confirmed reports whether a destructive POST carries the confirmation
// (hx-vals from the dialog, or the hidden field of the confirmation page).
func confirmed(c *fiber.Ctx) bool { return c.FormValue("confirm") == "yes" }

// renderConfirm shows the confirmation page of a destructive action.
func (h *Handlers) renderConfirm(c *fiber.Ctx, section string, d pages.ConfirmData) error {
	return render.Page(c, fiber.StatusOK, pages.Confirm(h.nav(c, "Confirm", section), d))
}
