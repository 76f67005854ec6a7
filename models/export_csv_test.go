package models_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"till/models"
)

func TestSpreadsheetSafe(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"Alice", "Alice"},
		{"=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
		{"10.00000000", "10.00000000"},
	}
	for _, tc := range cases {
		if got := models.SpreadsheetSafe(tc.in); got != tc.want {
			t.Errorf("SpreadsheetSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// readCSV parses an export back with encoding/csv and indexes each row by
// the header's column names.
func readCSV(t *testing.T, raw []byte) []map[string]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(raw))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("export is not valid CSV: %v\n%s", err, raw)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(models.PaymentCSVHeader, ",") {
		t.Fatalf("header %v", recs)
	}
	out := make([]map[string]string, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, name := range recs[0] {
			row[name] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

// TestPaymentsCSV exports tricky values, honours filters, crosses page
// boundaries and never includes another merchant's payments.
func TestPaymentsCSV(t *testing.T) {
	defer models.SetExportPageSize(2)()
	f := newDashFixture(t)
	_, otherLink := f.otherMerchant()
	f.sessionOn(otherLink, models.CreatePaymentInput{CustomerName: "Not mine"})
	usdLink := f.linkFor(f.m, `Hoodie, "limited"`, "19.99", "USD")

	names := []string{
		`Smith, John`,
		`The "Best" Shop`,
		`=HYPERLINK("http://evil.example","click")`,
		`+33 1 23`,
		`@admin`,
		`Zoë 🎉`,
	}
	var ps []*models.Payment
	for _, n := range names {
		f.clock.Add(time.Second) // distinct creation times: a known order
		ps = append(ps, f.sessionOn(f.link, models.CreatePaymentInput{CustomerName: n, CustomerEmail: "buyer@example.com",
			Metadata: []byte(`{"order":"A,1","note":"say \"hi\""}`)}))
	}
	// Names cannot hold line breaks through the API; older or imported
	// rows might, and the export must still be one row per payment.
	f.clock.Add(time.Second)
	multi := f.sessionOn(f.link, models.CreatePaymentInput{})
	if err := f.s.DB().W(f.ctx).Model(&models.Payment{}).Where("id = ?", multi.ID).
		Update("customer_name", "line one\nline two, with comma\r\n-line three").Error; err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Second)
	usd := f.confirm(f.sessionOn(usdLink, models.CreatePaymentInput{CustomerName: "USD buyer"}))

	export := func(t *testing.T, flt models.PaymentFilter) []map[string]string {
		t.Helper()
		var buf bytes.Buffer
		if err := f.s.WritePaymentsCSV(f.ctx, f.m.ID, flt, &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(buf.Bytes(), []byte("\r\n")) {
			t.Errorf("RFC 4180 lines end in CRLF")
		}
		return readCSV(t, buf.Bytes())
	}

	cases := []struct {
		name   string
		filter models.PaymentFilter
		check  func(t *testing.T, rows []map[string]string)
	}{
		{
			name: "everything, newest first, across pages",
			check: func(t *testing.T, rows []map[string]string) {
				if len(rows) != len(names)+2 {
					t.Fatalf("%d rows, want %d", len(rows), len(names)+2)
				}
				if rows[0]["payment_id"] != usd.ID || rows[len(rows)-1]["payment_id"] != ps[0].ID {
					t.Errorf("order: first %s last %s", rows[0]["payment_id"], rows[len(rows)-1]["payment_id"])
				}
				byID := map[string]map[string]string{}
				for _, r := range rows {
					byID[r["payment_id"]] = r
					if r["customer_name"] == "Not mine" {
						t.Fatal("another merchant's payment in the export")
					}
				}
				wantNames := []string{
					`Smith, John`, `The "Best" Shop`, `'=HYPERLINK("http://evil.example","click")`, `'+33 1 23`, `'@admin`, `Zoë 🎉`,
				}
				for i, p := range ps {
					r := byID[p.ID]
					if r["customer_name"] != wantNames[i] {
						t.Errorf("name %q, want %q", r["customer_name"], wantNames[i])
					}
					if r["metadata"] != `{"order":"A,1","note":"say \"hi\""}` || r["link_title"] != "Item" || r["status"] != "pending" {
						t.Errorf("row %v", r)
					}
					if r["amount_expected_kas"] != models.FormatAmount8(p.AmountExpected, models.KAS) || r["price_amount"] != "10.00000000" || r["price_currency"] != "KAS" {
						t.Errorf("amounts %q %q %q", r["amount_expected_kas"], r["price_amount"], r["price_currency"])
					}
				}
				if got := byID[multi.ID]["customer_name"]; got != "line one\nline two, with comma\n-line three" {
					t.Errorf("multi-line name %q", got)
				}
				u := byID[usd.ID]
				if u["link_title"] != `Hoodie, "limited"` || u["price_amount"] != "19.99" || u["price_currency"] != "USD" ||
					u["rate_usd_per_kas"] != "0.125" || u["rate_source"] != "test" || u["rate_at"] != "2026-03-01T11:59:00.000Z" ||
					u["status"] != "confirmed" || u["tx_id"] != usd.TxID || u["amount_received_kas"] != models.FormatAmount8(usd.AmountReceived, models.KAS) ||
					u["confirmed_at"] != models.ISOTime(*usd.ConfirmedAt) || u["created_at"] != models.ISOTime(usd.CreatedAt) || u["confirmations"] != "100" {
					t.Errorf("USD row %v", u)
				}
			},
		},
		{
			name:   "status filter",
			filter: models.PaymentFilter{Status: models.StatusConfirmed},
			check: func(t *testing.T, rows []map[string]string) {
				if len(rows) != 1 || rows[0]["payment_id"] != usd.ID {
					t.Fatalf("rows %v", rows)
				}
			},
		},
		{
			name:   "search by tx id",
			filter: models.PaymentFilter{Search: usd.TxID[:12]},
			check: func(t *testing.T, rows []map[string]string) {
				if len(rows) != 1 || rows[0]["tx_id"] != usd.TxID {
					t.Fatalf("rows %v", rows)
				}
			},
		},
		{
			name:   "link filter",
			filter: models.PaymentFilter{LinkID: f.link.ID, Limit: 1, Cursor: "ignored"},
			check: func(t *testing.T, rows []map[string]string) {
				if len(rows) != len(names)+1 {
					t.Fatalf("%d rows", len(rows))
				}
			},
		},
		{
			name:   "nothing matches",
			filter: models.PaymentFilter{Status: models.StatusUnderpaid},
			check: func(t *testing.T, rows []map[string]string) {
				if len(rows) != 0 {
					t.Fatalf("rows %v", rows)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, export(t, tc.filter)) })
	}

	t.Run("bad filter fails before writing", func(t *testing.T) {
		var buf bytes.Buffer
		err := f.s.WritePaymentsCSV(f.ctx, f.m.ID, models.PaymentFilter{Status: "paid"}, &buf)
		var ve *models.ValidationError
		if !errors.As(err, &ve) || buf.Len() != 0 {
			t.Fatalf("err %v, %d bytes written", err, buf.Len())
		}
	})
}
