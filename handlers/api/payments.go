package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
	"till/models/kaspa"
)

type createPaymentRequest struct {
	PaymentLinkSlug *string         `json:"paymentLinkSlug"`
	CustomerEmail   *string         `json:"customerEmail"`
	CustomerName    *string         `json:"customerName"`
	Metadata        json.RawMessage `json:"metadata"`
}

type createPaymentResponse struct {
	ID                    string  `json:"id"`
	KaspaAddress          string  `json:"kaspaAddress"`
	AmountExpected        string  `json:"amountExpected"`
	Status                string  `json:"status"`
	ExpiresAt             string  `json:"expiresAt"`
	PaymentURI            string  `json:"paymentUri"`
	DerivationIndex       *int64  `json:"derivationIndex"`
	Currency              string  `json:"currency"`
	OriginalUSDAmount     *string `json:"originalUsdAmount"`
	Rate                  *string `json:"rate"`
	RequiredConfirmations int     `json:"requiredConfirmations"`
	CreatedAt             string  `json:"createdAt"`
}

// CreatePayment opens a payment session for a link (public):
// POST /api/payments.
func (a *API) CreatePayment(c *fiber.Ctx) error {
	var req createPaymentRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Metadata) > 0 && req.Metadata[0] != '{' && string(req.Metadata) != "null" {
		return render.BadRequest("metadata must be a JSON object")
	}
	p, err := a.Store.CreatePayment(c.UserContext(), models.CreatePaymentInput{
		LinkSlug: deref(req.PaymentLinkSlug), CustomerEmail: deref(req.CustomerEmail),
		CustomerName: deref(req.CustomerName), Metadata: req.Metadata,
	})
	if err != nil {
		return err
	}
	out := createPaymentResponse{
		ID: p.ID, KaspaAddress: p.PayAddress, AmountExpected: models.FormatAmount8(p.AmountExpected, models.KAS),
		Status: string(p.Status), ExpiresAt: isoTime(p.ExpiresAt), PaymentURI: p.PaymentURI(),
		DerivationIndex: p.DerivationIndex, Currency: string(p.PriceCurrency),
		RequiredConfirmations: p.RequiredConfirmations, CreatedAt: isoTime(p.CreatedAt),
	}
	if p.PriceCurrency == models.USD {
		usd := models.FormatAmount8(p.PriceAmount, models.USD)
		out.OriginalUSDAmount, out.Rate = &usd, &p.Rate
	}
	return render.JSON(c, fiber.StatusOK, out)
}

type statusResponse struct {
	ID                    string      `json:"id"`
	Status                string      `json:"status"`
	AmountReceived        json.Number `json:"amountReceived"`
	SenderAddress         *string     `json:"senderAddress"`
	TxID                  *string     `json:"txId"`
	Confirmations         int64       `json:"confirmations"`
	ConfirmedAt           *string     `json:"confirmedAt"`
	AmountExpected        string      `json:"amountExpected"`
	RequiredConfirmations int         `json:"requiredConfirmations"`
	ExpiresAt             string      `json:"expiresAt"`
	Late                  bool        `json:"late"`
}

// PaymentStatus reports a session's status from the database only — it
// never calls the chain, so customer polling costs one indexed read:
// GET /api/payments/:id/status.
func (a *API) PaymentStatus(c *fiber.Ctx) error {
	p, err := a.Store.Payment(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return render.JSON(c, fiber.StatusOK, statusResponse{
		ID: p.ID, Status: string(p.Status),
		// A JSON number in KAS, printed exactly from sompi (no float).
		AmountReceived: json.Number(kaspa.FormatKAS(p.AmountReceived)),
		SenderAddress:  optString(p.SenderAddress), TxID: optString(p.TxID),
		Confirmations: p.Confirmations, ConfirmedAt: isoTimePtr(p.ConfirmedAt),
		AmountExpected: models.FormatAmount8(p.AmountExpected, models.KAS), RequiredConfirmations: p.RequiredConfirmations,
		ExpiresAt: isoTime(p.ExpiresAt), Late: p.Late,
	})
}

type paymentJSON struct {
	ID                    string          `json:"id"`
	AmountExpected        string          `json:"amountExpected"`
	AmountReceived        string          `json:"amountReceived"`
	Status                string          `json:"status"`
	TxID                  *string         `json:"txId"`
	SenderAddress         *string         `json:"senderAddress"`
	CustomerName          *string         `json:"customerName"`
	CustomerEmail         *string         `json:"customerEmail"`
	CreatedAt             string          `json:"createdAt"`
	ConfirmedAt           *string         `json:"confirmedAt"`
	PaymentLinkID         *string         `json:"paymentLinkId"`
	KaspaAddress          string          `json:"kaspaAddress"`
	DerivationIndex       *int64          `json:"derivationIndex"`
	Confirmations         int64           `json:"confirmations"`
	RequiredConfirmations int             `json:"requiredConfirmations"`
	ExpiresAt             string          `json:"expiresAt"`
	Currency              string          `json:"currency"`
	PriceAmount           string          `json:"priceAmount"`
	Rate                  *string         `json:"rate"`
	RateSource            *string         `json:"rateSource"`
	Late                  bool            `json:"late"`
	Metadata              json.RawMessage `json:"metadata"`
}

func paymentFrom(p *models.Payment) paymentJSON {
	meta := json.RawMessage(p.Metadata)
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	return paymentJSON{
		ID: p.ID, AmountExpected: models.FormatAmount8(p.AmountExpected, models.KAS),
		AmountReceived: models.FormatAmount8(p.AmountReceived, models.KAS), Status: string(p.Status),
		TxID: optString(p.TxID), SenderAddress: optString(p.SenderAddress), CustomerName: optString(p.CustomerName),
		CustomerEmail: optString(p.CustomerEmail), CreatedAt: isoTime(p.CreatedAt), ConfirmedAt: isoTimePtr(p.ConfirmedAt),
		PaymentLinkID: p.LinkID, KaspaAddress: p.PayAddress, DerivationIndex: p.DerivationIndex,
		Confirmations: p.Confirmations, RequiredConfirmations: p.RequiredConfirmations, ExpiresAt: isoTime(p.ExpiresAt),
		Currency: string(p.PriceCurrency), PriceAmount: models.FormatAmount8(p.PriceAmount, p.PriceCurrency),
		Rate: optString(p.Rate), RateSource: optString(p.RateSource), Late: p.Late, Metadata: meta,
	}
}

// ListPayments lists the merchant's payments, newest first:
// GET /api/payments[?status=&link=&from=&to=&q=&limit=&cursor=].
// Without parameters it returns the newest page; nextCursor continues.
func (a *API) ListPayments(c *fiber.Ctx) error {
	f := models.PaymentFilter{
		Status: models.PaymentStatus(c.Query("status")), LinkID: c.Query("link", c.Query("paymentLinkId")),
		Search: c.Query("q"), Cursor: c.Query("cursor"),
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return render.BadRequest("limit must be an integer between 1 and 500")
		}
		f.Limit = n
	}
	var err error
	if f.From, err = parseTimeParam(c.Query("from"), "from"); err != nil {
		return err
	}
	if f.To, err = parseTimeParam(c.Query("to"), "to"); err != nil {
		return err
	}
	page, err := a.Store.Payments(c.UserContext(), authn.Merchant(c).ID, f)
	if err != nil {
		return err
	}
	out := make([]paymentJSON, len(page.Payments))
	for i := range page.Payments {
		out[i] = paymentFrom(&page.Payments[i])
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{"data": out, "nextCursor": next})
}

// GetPayment returns one of the merchant's payments: GET /api/payments/:id.
func (a *API) GetPayment(c *fiber.Ctx) error {
	p, err := a.Store.MerchantPayment(c.UserContext(), authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, paymentFrom(p))
}

// parseTimeParam accepts an RFC 3339 time or a YYYY-MM-DD date (UTC midnight).
func parseTimeParam(v, name string) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, render.BadRequest(name + " must be a date (YYYY-MM-DD) or an RFC 3339 time")
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
