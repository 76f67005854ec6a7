package kirapay

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/models"
)

// Webhook endpoints of the KiraPay dialect (issue 10 §2.5): the merchant's
// own key administers its own endpoints. Bodies are type-checked here, before
// anything is written; the domain validates values and names each refusal
// by field and reason, which render.KiraPayFieldCodes turns into codes.

// endpointJSON is a KiraPay endpoint; Secret only in the create answer, when
// Till generated it.
type endpointJSON struct {
	ID        string `json:"_id"`
	URL       string `json:"url"`
	IsActive  bool   `json:"isActive"`
	Secret    string `json:"secret,omitempty"`
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func endpointFrom(e *models.WebhookEndpoint) endpointJSON {
	return endpointJSON{ID: models.ShortID(e.ID), URL: e.URL, IsActive: e.IsActive,
		CreatedAt: models.ISOTime(e.CreatedAt), UpdatedAt: models.ISOTime(e.UpdatedAt)}
}

// deliveryJSON is one delivery as the seed's deliveries view lists it.
type deliveryJSON struct {
	ID             string  `json:"_id"`
	EndpointID     string  `json:"endpointId"`
	EventID        string  `json:"eventId"`
	Event          string  `json:"event"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastStatusCode *int    `json:"lastStatusCode"`
	LastError      *string `json:"lastError"`
	CreatedAt      string  `json:"createdAt"`
	UpdatedAt      string  `json:"updatedAt"`
	DeliveredAt    *string `json:"deliveredAt"`
}

// deliveryStatuses maps the KiraPay delivery statuses to Till's: pending
// includes deliveries waiting for a retry; failed is a schedule run out.
var deliveryStatuses = map[string]models.DeliveryStatus{
	"pending": models.DeliveryPending,
	"success": models.DeliveryDelivered,
	"failed":  models.DeliveryFailed,
}

func kiraDeliveryStatus(s models.DeliveryStatus) string {
	for k, v := range deliveryStatuses {
		if v == s {
			return k
		}
	}
	return string(s)
}

func deliveryFrom(d *models.DeliveryRecord) deliveryJSON {
	out := deliveryJSON{
		ID: models.ShortID(d.ID), EndpointID: models.ShortID(d.EndpointID), EventID: d.EventID, Event: d.EventType,
		Status: kiraDeliveryStatus(d.Status), Attempts: d.Attempts, LastStatusCode: d.LastStatusCode,
		CreatedAt: models.ISOTime(d.CreatedAt), UpdatedAt: models.ISOTime(d.UpdatedAt),
	}
	if d.LastError != "" {
		out.LastError = &d.LastError
	}
	if d.DeliveredAt != nil {
		t := models.ISOTime(*d.DeliveredAt)
		out.DeliveredAt = &t
	}
	return out
}

// endpointBody reads a create or update body into a WebhookInput, checking
// JSON types only: not an object → INVALID_JSON, url not a string →
// INVALID_URL (missing on create → URL_REQUIRED), secret not a string →
// SECRET_MUST_BE_STRING, isActive not a boolean → INVALID_IS_ACTIVE.
// Unknown fields are ignored.
func endpointBody(c *fiber.Ctx, create bool) (models.WebhookInput, error) {
	in := models.WebhookInput{Dialect: models.DialectKiraPay}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(c.Body(), &body); err != nil || body == nil {
		return in, Fail(http.StatusBadRequest, "INVALID_JSON")
	}
	if raw, ok := body["url"]; ok && !isNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return in, Fail(http.StatusBadRequest, "INVALID_URL")
		}
		in.URL = &s
	} else if ok && !create {
		return in, Fail(http.StatusBadRequest, "INVALID_URL")
	}
	if raw, ok := body["secret"]; ok {
		var s string
		if isNull(raw) || json.Unmarshal(raw, &s) != nil {
			return in, Fail(http.StatusBadRequest, "SECRET_MUST_BE_STRING")
		}
		in.Secret = &s
	}
	if raw, ok := body["isActive"]; ok && !create {
		var b bool
		if isNull(raw) || json.Unmarshal(raw, &b) != nil {
			return in, Fail(http.StatusBadRequest, "INVALID_IS_ACTIVE")
		}
		in.IsActive = &b
	}
	return in, nil
}

func isNull(raw json.RawMessage) bool { return strings.TrimSpace(string(raw)) == "null" }

// CreateWebhookEndpoint registers an endpoint receiving every transaction
// event: POST /api/admin/webhooks/endpoints → 201. The secret is the
// merchant's, never echoed; when omitted Till generates one and returns it
// once in data.secret.
func (a *API) CreateWebhookEndpoint(c *fiber.Ctx) error {
	in, err := endpointBody(c, true)
	if err != nil {
		return err
	}
	e, secret, err := a.Store.CreateWebhook(c.UserContext(), authn.Merchant(c).ID, in, a.WebhookPolicy)
	if err != nil {
		return err
	}
	out := endpointFrom(e)
	if secret != "" {
		out.Secret = secret
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	return OK(c, http.StatusCreated, out)
}

// ListWebhookEndpoints lists the merchant's KiraPay endpoints, newest first:
// GET /api/admin/webhooks/endpoints.
func (a *API) ListWebhookEndpoints(c *fiber.Ctx) error {
	eps, err := a.Store.WebhooksIn(c.UserContext(), authn.Merchant(c).ID, models.DialectKiraPay)
	if err != nil {
		return err
	}
	out := make([]endpointJSON, len(eps))
	for i := range eps {
		out[i] = endpointFrom(&eps[i])
	}
	return OK(c, http.StatusOK, fiber.Map{"endpoints": out})
}

// UpdateWebhookEndpoint changes url, secret or isActive, all or nothing:
// PATCH /api/admin/webhooks/endpoints/:id.
func (a *API) UpdateWebhookEndpoint(c *fiber.Ctx) error {
	in, err := endpointBody(c, false)
	if err != nil {
		return err
	}
	e, err := a.Store.UpdateWebhook(c.UserContext(), authn.Merchant(c).ID, c.Params("id"), in, a.WebhookPolicy)
	if err != nil {
		return err
	}
	return OK(c, http.StatusOK, endpointFrom(e))
}

// DeleteWebhookEndpoint removes an endpoint and its delivery log (Till
// extension): DELETE /api/admin/webhooks/endpoints/:id.
func (a *API) DeleteWebhookEndpoint(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := a.Store.DeleteWebhookIn(c.UserContext(), authn.Merchant(c).ID, models.DialectKiraPay, id); err != nil {
		return err
	}
	return OK(c, http.StatusOK, fiber.Map{"_id": id, "deleted": true})
}

// ListWebhookDeliveries pages the deliveries of one endpoint or of all the
// merchant's KiraPay endpoints, newest first:
// GET /api/admin/webhooks/deliveries?endpointId=&status=&page=&limit=.
func (a *API) ListWebhookDeliveries(c *fiber.Ctx) error {
	f := models.DeliveryFilter{Dialect: models.DialectKiraPay, EndpointID: c.Query("endpointId")}
	if s := c.Query("status"); s != "" {
		// Exactly the three values (the wallet filter's case-insensitivity
		// is the reading of the seed's upper-case examples; this
		// list has lower-case values only).
		st, ok := deliveryStatuses[s]
		if !ok {
			return Fail(http.StatusBadRequest, "INVALID_STATUS")
		}
		f.Status = st
	}
	page, limit, err := PageParams(c)
	if err != nil {
		return err
	}
	f.Limit, f.Offset = limit, math.MaxInt32
	if page-1 < math.MaxInt32/limit {
		f.Offset = (page - 1) * limit
	}
	ds, total, err := a.Store.Deliveries(c.UserContext(), authn.Merchant(c).ID, f)
	if err != nil {
		return err
	}
	out := make([]deliveryJSON, len(ds))
	for i := range ds {
		out[i] = deliveryFrom(&ds[i])
	}
	return OK(c, http.StatusOK, fiber.Map{"deliveries": out, "total": total, "page": page, "totalPages": Pages(total, limit)})
}

// RedeliverWebhookDelivery queues a delivery again, now (Till extension):
// POST /api/admin/webhooks/deliveries/:id/redeliver → 202. An unknown or
// foreign delivery is 404 "Webhook delivery not found".
func (a *API) RedeliverWebhookDelivery(c *fiber.Ctx) error {
	d, err := a.Store.RedeliverDelivery(c.UserContext(), authn.Merchant(c).ID, models.DialectKiraPay, c.Params("id"))
	if err != nil {
		return err
	}
	return OK(c, http.StatusAccepted, deliveryFrom(d))
}
