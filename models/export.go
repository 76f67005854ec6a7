package models

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// CSV export of a merchant's payments: RFC 4180 (encoding/csv quotes any
// field holding a comma, quote or line break; lines end in CRLF), one row
// per payment, newest first, streamed page by page so memory stays flat
// whatever the number of rows.

// PaymentCSVHeader is the first line of a payments export.
var PaymentCSVHeader = []string{
	"payment_id", "created_at", "status", "late", "link_id", "link_title",
	"price_amount", "price_currency", "amount_expected_kas", "amount_received_kas",
	"rate_usd_per_kas", "rate_source", "rate_at",
	"tx_id", "sender_address", "pay_address", "customer_name", "customer_email", "metadata",
	"confirmations", "required_confirmations", "detected_at", "confirmed_at", "expired_at", "expires_at",
}

// exportPageSize is how many payments one export query reads (a variable
// only so tests can cross page boundaries with few rows).
var exportPageSize = MaxPageSize

// PaymentExport is a validated export in progress: the first page is read
// (so a bad filter fails before anything is sent) and WriteCSV streams the
// rest.
type PaymentExport struct {
	s          *Store
	merchantID string
	filter     PaymentFilter
	first      *PaymentPage
	links      map[string]*PaymentLink
}

// UTF8BOM is the byte-order mark a CSV export starts with, so spreadsheet
// programs read it as UTF-8.
const UTF8BOM = "\ufeff"

// ExportPayments prepares the CSV export of the merchant's payments
// matching f (f.Cursor and f.Limit are ignored: every match is exported).
func (s *Store) ExportPayments(ctx context.Context, merchantID string, f PaymentFilter) (*PaymentExport, error) {
	f.Cursor, f.Limit = "", exportPageSize
	first, err := s.Payments(ctx, merchantID, f)
	if err != nil {
		return nil, err
	}
	links, err := s.merchantLinks(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	return &PaymentExport{s: s, merchantID: merchantID, filter: f, first: first, links: linksByID(links)}, nil
}

// WriteCSV writes the header and every matching payment to w, flushing
// after each page.
func (e *PaymentExport) WriteCSV(ctx context.Context, w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(PaymentCSVHeader); err != nil {
		return fmt.Errorf("models: export: %w", err)
	}
	page, f := e.first, e.filter
	for {
		for i := range page.Payments {
			if err := cw.Write(e.row(&page.Payments[i])); err != nil {
				return fmt.Errorf("models: export: %w", err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("models: export: %w", err)
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
		next, err := e.s.Payments(ctx, e.merchantID, f)
		if err != nil {
			return err
		}
		page = next
	}
}

// WritePaymentsCSV is ExportPayments followed by WriteCSV.
func (s *Store) WritePaymentsCSV(ctx context.Context, merchantID string, f PaymentFilter, w io.Writer) error {
	e, err := s.ExportPayments(ctx, merchantID, f)
	if err != nil {
		return err
	}
	return e.WriteCSV(ctx, w)
}

func (e *PaymentExport) row(p *Payment) []string {
	linkID, title := "", ""
	if p.LinkID != nil {
		linkID = *p.LinkID
		if l := e.links[linkID]; l != nil {
			title = l.Title
		}
	}
	dec := p.PriceCurrency.Decimals()
	cells := []string{
		p.ID, ISOTime(p.CreatedAt), string(p.Status), strconv.FormatBool(p.Late), linkID, title,
		FormatUnits(p.PriceAmount, dec, dec), string(p.PriceCurrency),
		FormatAmount8(p.AmountExpected, p.AssetOf()), FormatAmount8(p.AmountReceived, p.AssetOf()),
		p.Rate, p.RateSource, csvTime(p.RateAt),
		p.TxID, p.SenderAddress, p.PayAddress, p.CustomerName, p.CustomerEmail, p.Metadata,
		strconv.FormatInt(p.Confirmations, 10), strconv.Itoa(p.RequiredConfirmations),
		csvTime(p.DetectedAt), csvTime(p.ConfirmedAt), csvTime(p.ExpiredAt), ISOTime(p.ExpiresAt),
	}
	for i, c := range cells {
		cells[i] = SpreadsheetSafe(c)
	}
	return cells
}

func csvTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return ISOTime(*t)
}

// SpreadsheetSafe defuses a cell a spreadsheet would run as a formula:
// text starting with = + - @ (or a tab or carriage return, which some
// programs skip before looking) gets a leading single quote, as OWASP
// advises for CSV injection. The quote shows in the cell; the data is kept.
func SpreadsheetSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
