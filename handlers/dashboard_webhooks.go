package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/handlers/session"
	"till/models"
	"till/views/pages"
)

// The webhooks section of the dashboard, over the webhook domain API:
// endpoints, their events and secrets, test events and the delivery log
// with redelivery.

// webhookForm reads the endpoint form. Ticking "*" means every event, so
// it replaces the others. A KiraPay endpoint has no events to choose and
// may be given a secret (empty: generated on create, kept on edit).
func webhookForm(c *fiber.Ctx) (models.WebhookInput, pages.WebhookFormData) {
	url, desc := c.FormValue("url"), c.FormValue("description")
	dialect := c.FormValue("dialect", models.DialectKasPay)
	events := []string{}
	for _, raw := range c.Context().PostArgs().PeekMulti("events") {
		events = append(events, string(raw)) // string() copies the request buffer
	}
	for _, e := range events {
		if e == models.EventAll {
			events = []string{models.EventAll}
			break
		}
	}
	d := pages.WebhookFormData{Form: pages.Form{Values: map[string]string{"url": url, "description": desc}}, Events: map[string]bool{}, Dialect: dialect}
	for _, e := range events {
		d.Events[e] = true
	}
	if dialect != models.DialectKiraPay {
		return models.WebhookInput{URL: &url, Description: &desc, Events: &events, Dialect: dialect}, d
	}
	in := models.WebhookInput{URL: &url, Description: &desc, Dialect: dialect}
	if secret := c.FormValue("secret"); secret != "" {
		in.Secret = &secret
	}
	return in, d
}

// WebhooksPage lists the endpoints: GET /dashboard/webhooks.
func (h *Handlers) WebhooksPage(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	eps, err := h.Store.Webhooks(ctx, authn.Merchant(c).ID)
	if err != nil {
		return err
	}
	return render.Page(c, fiber.StatusOK, pages.Webhooks(h.nav(c, "Webhooks", "webhooks"), pages.WebhooksData{Endpoints: eps}))
}

// NewWebhook shows the empty endpoint form: GET /dashboard/webhooks/new.
func (h *Handlers) NewWebhook(c *fiber.Ctx) error {
	d := pages.WebhookFormData{Events: map[string]bool{models.EventPaymentConfirmed: true}, Dialect: models.DialectKasPay}
	return render.Page(c, fiber.StatusOK, pages.WebhookForm(h.nav(c, "Add webhook endpoint", "webhooks"), d))
}

// CreateWebhook registers an endpoint: POST /dashboard/webhooks.
func (h *Handlers) CreateWebhook(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	in, d := webhookForm(c)
	e, _, err := h.Store.CreateWebhook(ctx, authn.Merchant(c).ID, in, h.WebhookPolicy)
	if err != nil {
		return h.webhookFormError(c, d, err)
	}
	session.Get(c).SetFlash("Endpoint added. Reveal its signing secret below to verify deliveries.")
	return render.Redirect(c, "/dashboard/webhooks/"+e.ID)
}

// EditWebhook shows the form of an endpoint: GET /dashboard/webhooks/:id/edit.
func (h *Handlers) EditWebhook(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	e, err := h.Store.Webhook(ctx, authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	d := pages.WebhookFormData{ID: e.ID, Form: pages.Form{Values: map[string]string{"url": e.URL, "description": e.Description}}, Events: map[string]bool{}, Dialect: e.Dialect}
	for _, ev := range e.Events {
		d.Events[ev] = true
	}
	return render.Page(c, fiber.StatusOK, pages.WebhookForm(h.nav(c, "Edit webhook endpoint", "webhooks"), d))
}

// UpdateWebhook saves the form over an endpoint: POST /dashboard/webhooks/:id.
func (h *Handlers) UpdateWebhook(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	in, d := webhookForm(c)
	d.ID = c.Params("id")
	if _, err := h.Store.UpdateWebhook(ctx, m.ID, d.ID, in, h.WebhookPolicy); err != nil {
		return h.webhookFormError(c, d, err)
	}
	session.Get(c).SetFlash("Endpoint saved.")
	return render.Redirect(c, "/dashboard/webhooks/"+d.ID)
}

func (h *Handlers) webhookFormError(c *fiber.Ctx, d pages.WebhookFormData, err error) error {
	if !isValidation(err) {
		return err
	}
	d.Form.Errors, d.Form.Error = formErrors(err)
	if d.Form.Errors["events"] != "" && len(d.Events) == 0 {
		d.Form.Errors["events"] = "Choose at least one event" // the API's message speaks of arrays
	}
	n := h.nav(c, "Webhook endpoint", "webhooks")
	return render.PageOrPartial(c, render.FormStatus(c), pages.WebhookForm(n, d), pages.WebhookFormFields(n.CSRF, d))
}

// WebhookPage shows an endpoint with its delivery log:
// GET /dashboard/webhooks/:id[?status=pending|delivered|failed].
func (h *Handlers) WebhookPage(c *fiber.Ctx) error {
	return h.renderWebhook(c, "", false)
}

func (h *Handlers) renderWebhook(c *fiber.Ctx, secret string, rotated bool) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	e, err := h.Store.Webhook(ctx, m.ID, c.Params("id"))
	if err != nil {
		return err
	}
	status := strings.TrimSpace(c.Query("status"))
	if !models.DeliveryStatus(status).Valid() {
		status = ""
	}
	ds, err := h.Store.WebhookDeliveries(ctx, m.ID, e.ID, models.DeliveryFilter{Status: models.DeliveryStatus(status), Limit: 100})
	if err != nil {
		return err
	}
	if secret != "" {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	d := pages.WebhookDetailData{E: e, Deliveries: ds, Status: status, Secret: secret, Rotated: rotated}
	return render.Page(c, fiber.StatusOK, pages.WebhookDetail(h.nav(c, "Webhook endpoint", "webhooks"), d))
}

// RevealWebhookSecret shows an endpoint's signing secret (a fragment for
// htmx, else the endpoint page): GET /dashboard/webhooks/:id/secret.
func (h *Handlers) RevealWebhookSecret(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	id := c.Params("id")
	secret, err := h.Store.WebhookSecret(ctx, authn.Merchant(c).ID, id)
	if err != nil {
		return err
	}
	if render.IsHTMX(c) {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return render.Page(c, fiber.StatusOK, pages.WebhookSecretRevealed(id, secret, false))
	}
	return h.renderWebhook(c, secret, false)
}

// RotateWebhookSecret replaces the signing secret after a confirmation:
// GET asks, POST with confirm=yes acts (/dashboard/webhooks/:id/rotate-secret).
func (h *Handlers) RotateWebhookSecret(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m, id := authn.Merchant(c), c.Params("id")
	if c.Method() != fiber.MethodPost || !confirmed(c) {
		e, err := h.Store.Webhook(ctx, m.ID, id)
		if err != nil {
			return err
		}
		return h.renderConfirm(c, "webhooks", pages.ConfirmData{
			Title:  "Rotate the signing secret of " + e.URL + "?",
			Body:   "Deliveries, retries included, are signed with the new secret from now on. Update your server's secret right after.",
			Action: "/dashboard/webhooks/" + id + "/rotate-secret", Button: "Rotate secret", Cancel: "/dashboard/webhooks/" + id,
		})
	}
	secret, err := h.Store.RotateWebhookSecret(ctx, m.ID, id)
	if err != nil {
		return err
	}
	if render.IsHTMX(c) {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return render.Page(c, fiber.StatusOK, pages.WebhookSecretRevealed(id, secret, true))
	}
	return h.renderWebhook(c, secret, true)
}

// EnableWebhook turns an endpoint back on: POST /dashboard/webhooks/:id/enable.
func (h *Handlers) EnableWebhook(c *fiber.Ctx) error {
	return h.setWebhookActive(c, true, "Endpoint enabled: new events are delivered to it.")
}

// DisableWebhook stops deliveries to an endpoint after a confirmation:
// GET asks, POST with confirm=yes acts (/dashboard/webhooks/:id/disable).
func (h *Handlers) DisableWebhook(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodPost && confirmed(c) {
		return h.setWebhookActive(c, false, "Endpoint disabled: Till sends it nothing until you enable it.")
	}
	return h.confirmWebhook(c, "Disable %s?", "Till stops sending events to this endpoint, retries included, until you enable it again.", "disable", "Disable endpoint")
}

func (h *Handlers) setWebhookActive(c *fiber.Ctx, active bool, done string) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	id := c.Params("id")
	if _, err := h.Store.UpdateWebhook(ctx, authn.Merchant(c).ID, id, models.WebhookInput{IsActive: &active}, h.WebhookPolicy); err != nil {
		return err
	}
	session.Get(c).SetFlash(done)
	return render.Redirect(c, "/dashboard/webhooks/"+id)
}

// DeleteWebhook removes an endpoint and its log after a confirmation:
// GET asks, POST with confirm=yes acts (/dashboard/webhooks/:id/delete).
func (h *Handlers) DeleteWebhook(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodPost || !confirmed(c) {
		return h.confirmWebhook(c, "Delete %s?", "The endpoint and its delivery log are deleted and nothing more is sent to it. This cannot be undone.", "delete", "Delete endpoint")
	}
	ctx, cancel := dashCtx(c)
	defer cancel()
	if err := h.Store.DeleteWebhook(ctx, authn.Merchant(c).ID, c.Params("id")); err != nil {
		return err
	}
	session.Get(c).SetFlash("Endpoint deleted.")
	return render.Redirect(c, "/dashboard/webhooks")
}

func (h *Handlers) confirmWebhook(c *fiber.Ctx, title, body, action, button string) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	e, err := h.Store.Webhook(ctx, authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return h.renderConfirm(c, "webhooks", pages.ConfirmData{
		Title: strings.Replace(title, "%s", e.URL, 1), Body: body,
		Action: "/dashboard/webhooks/" + e.ID + "/" + action, Button: button, Cancel: "/dashboard/webhooks/" + e.ID,
	})
}

// TestWebhook queues a webhook.test event to an endpoint:
// POST /dashboard/webhooks/:id/test.
func (h *Handlers) TestWebhook(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	id := c.Params("id")
	if _, err := h.Store.SendTestWebhook(ctx, authn.Merchant(c).ID, id); err != nil {
		return err
	}
	session.Get(c).SetFlash("Test event queued: it appears in the delivery log below within seconds.")
	return render.Redirect(c, "/dashboard/webhooks/"+id)
}

// RedeliverWebhook sends a delivery again now:
// POST /dashboard/webhooks/:id/deliveries/:deliveryId/redeliver.
func (h *Handlers) RedeliverWebhook(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	id := c.Params("id")
	if _, err := h.Store.RedeliverWebhook(ctx, authn.Merchant(c).ID, id, c.Params("deliveryId")); err != nil {
		return err
	}
	session.Get(c).SetFlash("Delivery queued again: it is sent within seconds.")
	return render.Redirect(c, "/dashboard/webhooks/"+id)
}
