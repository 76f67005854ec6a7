package handlers

import (
	"bufio"
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
	"till/views/pages"
)

// The payments section of the dashboard: the filtered, keyset-paged table
// (htmx swaps the results and appends pages), one payment's page, and the
// CSV export of the current filters.

// paymentsPageSize is how many rows one page of the table shows.
const paymentsPageSize = 50

// exportTimeout bounds one CSV export, which runs after the handler
// returns (the body is streamed).
const exportTimeout = 5 * time.Minute

// paymentFilter reads the table's query parameters: status, link, from and
// to (dates, UTC, both inclusive), q (search) and cursor.
func paymentFilter(c *fiber.Ctx) (pages.PaymentFilterForm, models.PaymentFilter, error) {
	form := pages.PaymentFilterForm{
		Status: strings.TrimSpace(c.Query("status")), Link: strings.TrimSpace(c.Query("link")),
		From: strings.TrimSpace(c.Query("from")), To: strings.TrimSpace(c.Query("to")),
		Q: strings.TrimSpace(c.Query("q")), Cursor: c.Query("cursor"),
	}
	f := models.PaymentFilter{Status: models.PaymentStatus(form.Status), LinkID: form.Link, Search: form.Q,
		Cursor: form.Cursor, Limit: paymentsPageSize}
	if form.From != "" {
		t, err := time.Parse(time.DateOnly, form.From)
		if err != nil {
			return form, f, models.Invalid("from", "From must be a date like 2026-03-01")
		}
		f.From = &t
	}
	if form.To != "" {
		t, err := time.Parse(time.DateOnly, form.To)
		if err != nil {
			return form, f, models.Invalid("to", "To must be a date like 2026-03-31")
		}
		end := t.AddDate(0, 0, 1) // the whole "to" day is included
		f.To = &end
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		return form, f, models.Invalid("from", "The From date must not be after the To date")
	}
	return form, f, nil
}

// PaymentsPage lists payments: GET /dashboard/payments. htmx gets the
// results fragment when the filters change and just the next rows for a
// cursor ("Load more"); everyone else gets the page.
func (h *Handlers) PaymentsPage(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	form, f, err := paymentFilter(c)
	var list *models.PaymentList
	if err == nil {
		list, err = h.Store.PaymentList(ctx, authn.Merchant(c).ID, f)
	}
	status := fiber.StatusOK
	if err != nil {
		if !isValidation(err) {
			return err
		}
		form.Error = err.Error()
		if !render.IsHTMX(c) {
			status = fiber.StatusBadRequest
		}
	}
	d := pages.PaymentsData{List: list, Filter: form, Network: string(h.Store.Network())}
	switch {
	case !render.IsHTMX(c):
		return render.Page(c, status, pages.Payments(h.nav(c, "Payments", "payments"), d))
	case form.Cursor != "" && err == nil:
		return render.Page(c, status, pages.PaymentRows(d))
	}
	return render.Page(c, status, pages.PaymentsResults(d))
}

// PaymentPage shows one payment: GET /dashboard/payments/:id.
func (h *Handlers) PaymentPage(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	d, err := h.Store.PaymentDetail(ctx, authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return render.Page(c, fiber.StatusOK, pages.PaymentDetail(h.nav(c, "Payment", "payments"),
		pages.PaymentDetailData{D: d, Network: string(h.Store.Network())}))
}

// ExportPayments downloads the payments matching the table's filters as
// CSV: GET /dashboard/payments.csv. The filter is checked and the first
// page read before anything is sent; the rows are then streamed. The file
// starts with a UTF-8 byte-order mark so spreadsheet programs read accents
// right; bom=0 omits it (for tools that treat it as data).
func (h *Handlers) ExportPayments(c *fiber.Ctx) error {
	_, f, err := paymentFilter(c)
	if err != nil {
		return err
	}
	bom := true
	switch c.Query("bom") {
	case "", "1":
	case "0":
		bom = false
	default:
		return models.Invalid("bom", "bom must be 0 (no byte-order mark) or 1")
	}
	ctx, cancel := dashCtx(c)
	defer cancel()
	export, err := h.Store.ExportPayments(ctx, authn.Merchant(c).ID, f)
	if err != nil {
		return err
	}
	name := "till-payments-" + h.Store.Now().Format(time.DateOnly) + ".csv"
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename=`+name)
	c.Set(fiber.HeaderCacheControl, "no-store")
	// The writer runs after this handler returns: it must not touch c, and
	// gets its own context.
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		defer cancel()
		if bom {
			_, _ = w.WriteString(models.UTF8BOM)
		}
		if err := export.WriteCSV(ctx, w); err != nil {
			slog.Default().Error("payments export failed", slog.Any("error", err))
		}
		_ = w.Flush()
	})
	return nil
}

// AssignCredit gives an unmatched credit to one of the merchant's payment
// sessions: POST /dashboard/payments/credits/:id/assign with the form field
// payment. Success leads to the payment's page, whose timeline shows the
// assignment; a refusal re-renders the payments page with the reason next to
// the credit (404 for a credit or payment that is not the merchant's, 409 for
// the other refusals, 400 without a choice).
func (h *Handlers) AssignCredit(c *fiber.Ctx) error {
	ctx, cancel := dashCtx(c)
	defer cancel()
	m := authn.Merchant(c)
	transferID, paymentID := c.Params("id"), strings.TrimSpace(c.FormValue("payment"))
	var err error
	if paymentID == "" {
		err = models.Invalid("payment", "Choose the payment this credit belongs to.")
	} else {
		var p *models.Payment
		if p, err = h.Store.AssignCredit(ctx, m.ID, transferID, paymentID); err == nil {
			return render.Redirect(c, "/dashboard/payments/"+p.ID)
		}
	}
	status, msg, internal := render.StatusOf(err)
	if internal {
		return err
	}
	list, lerr := h.Store.PaymentList(ctx, m.ID, models.PaymentFilter{Limit: paymentsPageSize})
	if lerr != nil {
		return lerr
	}
	if render.IsHTMX(c) {
		status = fiber.StatusOK // htmx 2 does not swap 4xx
	}
	d := pages.PaymentsData{List: list, Network: string(h.Store.Network()), AssignFor: transferID, AssignError: msg}
	return render.Page(c, status, pages.Payments(h.nav(c, "Payments", "payments"), d))
}
