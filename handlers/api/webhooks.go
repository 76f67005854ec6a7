package api

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
)

// webhookRequest is the body of POST /api/webhooks and PATCH
// /api/webhooks/:id. Events is parsed by hand for precise messages.
type webhookRequest struct {
	URL         optional[string]          `json:"url"`
	Events      optional[json.RawMessage] `json:"events"`
	IsActive    optional[bool]            `json:"isActive"`
	Description optional[string]          `json:"description"`
}

func (r webhookRequest) input() (models.WebhookInput, error) {
	var in models.WebhookInput
	if r.URL.Set {
		if r.URL.Null {
			return in, render.BadRequest("url must be a string")
		}
		in.URL = &r.URL.Value
	}
	if r.Events.Set {
		evs, err := parseEvents(r.Events)
		if err != nil {
			return in, err
		}
		in.Events = &evs
	}
	if r.IsActive.Set {
		if r.IsActive.Null {
			return in, render.BadRequest("isActive must be a boolean")
		}
		in.IsActive = &r.IsActive.Value
	}
	if r.Description.Set {
		in.Description = &r.Description.Value // null clears it
	}
	return in, nil
}

// parseEvents accepts only an array of strings.
func parseEvents(o optional[json.RawMessage]) ([]string, error) {
	const msg = "events must be a non-empty array of event names (payment.confirmed, payment.expired, *)"
	raw := bytes.TrimSpace(o.Value)
	if o.Null || len(raw) == 0 || raw[0] != '[' {
		return nil, render.BadRequest(msg)
	}
	var items []any
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, render.BadRequest(msg)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, render.BadRequest(msg)
		}
		out = append(out, s)
	}
	return out, nil
}

type webhookCreatedJSON struct {
	ID       string   `json:"id"`
	URL      string   `json:"url"`
	Events   []string `json:"events"`
	Secret   string   `json:"secret"`
	IsActive bool     `json:"isActive"`
}

type webhookListItemJSON struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	IsActive  bool     `json:"isActive"`
	CreatedAt string   `json:"createdAt"`
}

type webhookJSON struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	IsActive    bool     `json:"isActive"`
	Description string   `json:"description"`
	CreatedAt   string   `json:"createdAt"`
	UpdatedAt   string   `json:"updatedAt"`
}

func webhookFrom(e *models.WebhookEndpoint) webhookJSON {
	return webhookJSON{ID: e.ID, URL: e.URL, Events: eventsOf(e), IsActive: e.IsActive, Description: e.Description,
		CreatedAt: models.ISOTime(e.CreatedAt), UpdatedAt: models.ISOTime(e.UpdatedAt)}
}

func eventsOf(e *models.WebhookEndpoint) []string {
	if e.Events == nil {
		return []string{}
	}
	return e.Events
}

type secretJSON struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

type attemptJSON struct {
	ID              string  `json:"id"`
	AttemptedAt     string  `json:"attemptedAt"`
	StatusCode      *int    `json:"statusCode"`
	LatencyMS       int64   `json:"latencyMs"`
	Error           *string `json:"error"`
	ResponseSnippet string  `json:"responseSnippet"`
}

type deliveryJSON struct {
	ID             string        `json:"id"`
	EventID        string        `json:"eventId"`
	Event          string        `json:"event"`
	Status         string        `json:"status"`
	Attempts       int           `json:"attempts"`
	NextAttemptAt  *string       `json:"nextAttemptAt"`
	LastStatusCode *int          `json:"lastStatusCode"`
	LastError      *string       `json:"lastError"`
	DeliveredAt    *string       `json:"deliveredAt"`
	CreatedAt      string        `json:"createdAt"`
	UpdatedAt      string        `json:"updatedAt"`
	AttemptLog     []attemptJSON `json:"attemptLog"`
}

func optText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deliveryFrom(d *models.DeliveryRecord) deliveryJSON {
	out := deliveryJSON{
		ID: d.ID, EventID: d.EventID, Event: d.EventType, Status: string(d.Status), Attempts: d.Attempts,
		LastStatusCode: d.LastStatusCode, LastError: optText(d.LastError), DeliveredAt: isoTimePtr(d.DeliveredAt),
		CreatedAt: models.ISOTime(d.CreatedAt), UpdatedAt: models.ISOTime(d.UpdatedAt), AttemptLog: make([]attemptJSON, len(d.AttemptLog)),
	}
	if d.Status == models.DeliveryPending {
		out.NextAttemptAt = isoTimePtr(&d.NextAttemptAt)
	}
	for i, a := range d.AttemptLog {
		out.AttemptLog[i] = attemptJSON{ID: a.ID, AttemptedAt: models.ISOTime(a.AttemptedAt), StatusCode: a.StatusCode,
			LatencyMS: a.LatencyMS, Error: optText(a.Error), ResponseSnippet: a.ResponseSnippet}
	}
	return out
}

// CreateWebhook registers an endpoint and returns its signing secret:
// POST /api/webhooks.
func (a *API) CreateWebhook(c *fiber.Ctx) error {
	var req webhookRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	e, secret, err := a.Store.CreateWebhook(c.UserContext(), authn.Merchant(c).ID, in, a.WebhookPolicy)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render.JSON(c, fiber.StatusOK, webhookCreatedJSON{ID: e.ID, URL: e.URL, Events: eventsOf(e), Secret: secret, IsActive: e.IsActive})
}

// ListWebhooks lists the merchant's KasPay endpoints (KiraPay ones are listed
// by the KiraPay surface), without secrets:
// GET /api/webhooks.
func (a *API) ListWebhooks(c *fiber.Ctx) error {
	eps, err := a.Store.WebhooksIn(c.UserContext(), authn.Merchant(c).ID, models.DialectKasPay)
	if err != nil {
		return err
	}
	out := make([]webhookListItemJSON, len(eps))
	for i := range eps {
		e := &eps[i]
		out[i] = webhookListItemJSON{ID: e.ID, URL: e.URL, Events: eventsOf(e), IsActive: e.IsActive, CreatedAt: models.ISOTime(e.CreatedAt)}
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{"data": out})
}

// GetWebhook returns one endpoint: GET /api/webhooks/:id.
func (a *API) GetWebhook(c *fiber.Ctx) error {
	e, err := a.Store.Webhook(c.UserContext(), authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, webhookFrom(e))
}

// UpdateWebhook changes url, events, isActive or description:
// PATCH /api/webhooks/:id.
func (a *API) UpdateWebhook(c *fiber.Ctx) error {
	var req webhookRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	e, err := a.Store.UpdateWebhook(c.UserContext(), authn.Merchant(c).ID, c.Params("id"), in, a.WebhookPolicy)
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, webhookFrom(e))
}

// DeleteWebhook removes an endpoint and stops its pending deliveries:
// DELETE /api/webhooks/:id.
func (a *API) DeleteWebhook(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := a.Store.DeleteWebhook(c.UserContext(), authn.Merchant(c).ID, id); err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{"id": id, "deleted": true})
}

// RotateWebhookSecret replaces the signing secret and returns the new one:
// POST /api/webhooks/:id/rotate-secret.
func (a *API) RotateWebhookSecret(c *fiber.Ctx) error {
	id := c.Params("id")
	secret, err := a.Store.RotateWebhookSecret(c.UserContext(), authn.Merchant(c).ID, id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render.JSON(c, fiber.StatusOK, secretJSON{ID: id, Secret: secret})
}

// WebhookSecret reveals the signing secret to its owner:
// GET /api/webhooks/:id/secret.
func (a *API) WebhookSecret(c *fiber.Ctx) error {
	id := c.Params("id")
	secret, err := a.Store.WebhookSecret(c.UserContext(), authn.Merchant(c).ID, id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render.JSON(c, fiber.StatusOK, secretJSON{ID: id, Secret: secret})
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first, each
// with its attempts: GET /api/webhooks/:id/deliveries[?status=&limit=].
func (a *API) ListWebhookDeliveries(c *fiber.Ctx) error {
	f := models.DeliveryFilter{Status: models.DeliveryStatus(c.Query("status"))}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return render.BadRequest("limit must be an integer between 1 and 200")
		}
		f.Limit = n
	}
	ds, err := a.Store.WebhookDeliveries(c.UserContext(), authn.Merchant(c).ID, c.Params("id"), f)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(ds))
	for i := range ds {
		out[i] = deliveryFrom(&ds[i])
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{"data": out})
}

// RedeliverWebhook queues one delivery again, now:
// POST /api/webhooks/:id/deliveries/:deliveryId/redeliver.
func (a *API) RedeliverWebhook(c *fiber.Ctx) error {
	d, err := a.Store.RedeliverWebhook(c.UserContext(), authn.Merchant(c).ID, c.Params("id"), c.Params("deliveryId"))
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusAccepted, deliveryFrom(d))
}

// TestWebhook queues a webhook.test event to the endpoint:
// POST /api/webhooks/:id/test.
func (a *API) TestWebhook(c *fiber.Ctx) error {
	d, err := a.Store.SendTestWebhook(c.UserContext(), authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusAccepted, deliveryFrom(d))
}
