package api

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
)

type createPaymentRequest struct {
	PaymentLinkSlug *string         `json:"paymentLinkSlug"`
	CustomerEmail   *string         `json:"customerEmail"`
	CustomerName    *string         `json:"customerName"`
	Metadata        json.RawMessage `json:"metadata"`
	// Amount is the customer's amount on an open-amount USDC link (an
	// extension): a JSON number or decimal string, read from its text.
	Amount json.RawMessage `json:"amount"`
}

// customerAmount reads the optional open-amount field: absent or null is
// "", a JSON number is its text, a string its content.
func customerAmount(raw json.RawMessage) (string, error) {
	t := strings.TrimSpace(string(raw))
	switch {
	case t == "" || t == "null":
		return "", nil
	case t[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", render.BadRequest("amount must be a number")
		}
		return s, nil
	case t[0] == '-' || (t[0] >= '0' && t[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", render.BadRequest("amount must be a number")
		}
		return n.String(), nil
	}
	return "", render.BadRequest("amount must be a number")
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
	amount, err := customerAmount(req.Amount)
	if err != nil {
		return err
	}
	p, err := a.Store.CreatePayment(c.UserContext(), models.CreatePaymentInput{
		LinkSlug: deref(req.PaymentLinkSlug), CustomerEmail: deref(req.CustomerEmail),
		CustomerName: deref(req.CustomerName), Metadata: req.Metadata, Amount: amount,
	})
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, p.KasPayCreated())
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
	return render.JSON(c, fiber.StatusOK, p.KasPayStatus())
}

// ListPayments lists the merchant's payments, newest first:
// GET /api/payments[?status=&link=&from=&to=&q=&limit=&cursor=].
// Without limit it is the document's "List all payments": {"data": [...]}
// with every match, streamed from a keyset cursor page by page so memory
// stays flat at any number of rows. With limit (an extension) it is one
// page plus nextCursor (null on the last page).
func (a *API) ListPayments(c *fiber.Ctx) error {
	statuses, err := models.KasPayStatusFilter(c.Query("status"))
	if err != nil {
		return err
	}
	f := models.PaymentFilter{
		Statuses: statuses, LinkID: c.Query("link", c.Query("paymentLinkId")),
		Search: c.Query("q"), Cursor: c.Query("cursor"),
	}
	paged := c.Query("limit") != ""
	if paged {
		n, err := strconv.Atoi(c.Query("limit"))
		if err != nil || n < 1 {
			return render.BadRequest("limit must be an integer between 1 and 500")
		}
		f.Limit = n
	}
	if f.From, err = parseTimeParam(c.Query("from"), "from"); err != nil {
		return err
	}
	if f.To, err = parseTimeParam(c.Query("to"), "to"); err != nil {
		return err
	}
	merchantID := authn.Merchant(c).ID
	if !paged {
		stream, err := a.Store.StreamPayments(c.UserContext(), merchantID, f)
		if err != nil {
			return err
		}
		streamPayments(c, stream)
		return nil
	}
	page, err := a.Store.Payments(c.UserContext(), merchantID, f)
	if err != nil {
		return err
	}
	out := make([]models.KasPayPayment, len(page.Payments))
	for i := range page.Payments {
		out[i] = page.Payments[i].KasPayItem()
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{"data": out, "nextCursor": next})
}

// Streaming bounds: the whole list may take listStreamTimeout, and each
// page must reach the client within listWriteIdle (the server's write
// timeout would otherwise cut a long list at 30 s).
const (
	listStreamTimeout = 15 * time.Minute
	listWriteIdle     = 30 * time.Second
)

// streamPayments writes {"data":[...]} from stream after the handler
// returns, flushing after each page. The status (200) is sent before the
// rows are read, so a failure half way can only cut the body short: the
// client sees invalid JSON, never a shorter valid list.
func streamPayments(c *fiber.Ctx, stream *models.PaymentStream) {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	conn := c.Context().Conn()
	// The writer runs after this handler returns: it must not touch c.
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), listStreamTimeout)
		defer cancel()
		_, _ = w.WriteString(`{"data":[`)
		first := true
		err := stream.EachPage(ctx, func(ps []models.Payment) error {
			for i := range ps {
				b, err := json.Marshal(ps[i].KasPayItem())
				if err != nil {
					return err
				}
				if !first {
					_ = w.WriteByte(',')
				}
				first = false
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			if conn != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(listWriteIdle))
			}
			return w.Flush()
		})
		if err != nil {
			// Most often the client went away; the body ends unclosed.
			slog.Default().Warn("payments list stream ended early", slog.Any("error", err))
			return
		}
		_, _ = w.WriteString("]}")
		_ = w.Flush()
	})
}

// GetPayment returns one of the merchant's payments: GET /api/payments/:id.
func (a *API) GetPayment(c *fiber.Ctx) error {
	p, err := a.Store.MerchantPayment(c.UserContext(), authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, p.KasPayItem())
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
