package web_test

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"till/models"
	"till/views/pages"
	"till/web/webtest"
)

// paymentIDs lists the ids of the payment rows of a page, in order.
func paymentIDs(p webtest.Page) []string {
	var ids []string
	p.Doc.Find(`[data-testid="payment-row"]`).Each(func(_ int, s *goquery.Selection) { ids = append(ids, s.AttrOr("data-payment-id", "")) })
	return ids
}

func TestPaymentsPageFilters(t *testing.T) {
	h := newDashHarness(t)
	if p := h.c.Get("/dashboard/payments"); p.Doc.Find(`[data-testid="empty-state"]`).Length() != 1 || p.Doc.Find(`[data-testid="payment-filters"]`).Length() != 0 {
		t.Fatal("no empty state before the first payment")
	}
	coffee := h.link(h.m, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})
	tea := h.link(h.m, map[string]any{"title": "Tea", "amount": 3, "currency": "KAS"})
	paidID, paidSompi := h.session(coffee["slug"].(string), map[string]any{"customerEmail": "alice@example.com", "customerName": "Alice"})
	tx := h.pay(webtest.AddrA, paidSompi)
	teaID, _ := h.session(tea["slug"].(string), map[string]any{"customerEmail": "bob@example.com"})
	pendingID, _ := h.session(coffee["slug"].(string), nil)

	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"all, newest first", "", []string{pendingID, teaID, paidID}},
		{"status", "status=confirmed", []string{paidID}},
		{"link", "link=" + tea["id"].(string), []string{teaID}},
		{"search email", "q=ALICE@example.com", []string{paidID}},
		{"search name", "q=ali", []string{paidID}},
		{"search tx id prefix", "q=" + tx[:10], []string{paidID}},
		{"today", "from=" + today + "&to=" + today, []string{pendingID, teaID, paidID}},
		{"from tomorrow", "from=" + tomorrow, nil},
		{"combined", "status=pending&link=" + coffee["id"].(string), []string{pendingID}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			full := h.c.Get("/dashboard/payments?" + tc.query)
			if full.Status != http.StatusOK || isFragment(full) || strings.Join(paymentIDs(full), ",") != strings.Join(tc.want, ",") {
				t.Fatalf("full page: %d rows %v, want %v", full.Status, paymentIDs(full), tc.want)
			}
			part := h.c.Get("/dashboard/payments?"+tc.query, htmx...)
			if part.Status != http.StatusOK || !isFragment(part) || part.Doc.Find(`#payments-results`).Length() != 1 ||
				strings.Join(paymentIDs(part), ",") != strings.Join(tc.want, ",") {
				t.Fatalf("htmx: %d fragment=%v rows %v", part.Status, isFragment(part), paymentIDs(part))
			}
			if !strings.Contains(part.Header.Get("Vary"), "HX-Request") {
				t.Errorf("Vary %q", part.Header.Get("Vary"))
			}
			if len(tc.want) == 0 && part.TestID("no-results") == "" {
				t.Error("no 'no results' row")
			}
			// The export link carries the same filters.
			href, _ := part.Doc.Find(`[data-testid="export-csv"]`).Attr("href")
			u, _ := url.Parse(href)
			q, _ := url.ParseQuery(tc.query)
			if u.Path != "/dashboard/payments.csv" || u.Query().Encode() != q.Encode() {
				t.Errorf("export link %q for %q", href, tc.query)
			}
		})
	}

	// The filter form pushes its URL and targets the results.
	page := h.c.Get("/dashboard/payments?status=pending")
	f := page.Doc.Find(`form[data-testid="payment-filters"]`)
	if f.AttrOr("hx-get", "") != "/dashboard/payments" || f.AttrOr("hx-push-url", "") != "true" || f.AttrOr("hx-target", "") != "#payments-results" {
		t.Errorf("filter form attributes %v", f.Nodes[0].Attr)
	}
	if f.Find(`#status option[value="pending"][selected]`).Length() != 1 {
		t.Error("the status filter is not kept")
	}
	if r := page.Doc.Find(`[data-payment-id="` + paidID + `"]`); r.Length() != 0 {
		t.Error("filtered out row shown")
	}

	// The detail of the paid payment.
	d := h.c.Get("/dashboard/payments/" + paidID)
	if d.Status != http.StatusOK || d.TestID("detail-status") != "Confirmed" || d.TestID("detail-received") != pages.KAS(paidSompi) {
		t.Fatalf("detail: %d %q %q", d.Status, d.TestID("detail-status"), d.TestID("detail-received"))
	}
	if d.TestID("transfer-tx") != tx || d.Doc.Find(`a[data-testid="explorer-link"]`).AttrOr("href", "") != "https://explorer.kaspa.org/txs/"+tx {
		t.Errorf("transfer %q explorer %q", d.TestID("transfer-tx"), d.Doc.Find(`a[data-testid="explorer-link"]`).AttrOr("href", ""))
	}
	if !strings.Contains(d.Doc.Find(`[data-testid="transfer-row"]`).Text(), h.chain.DefaultSender()) {
		t.Error("sender not shown")
	}
	var kinds []string
	d.Doc.Find(`[data-testid="timeline-entry"]`).Each(func(_ int, s *goquery.Selection) { kinds = append(kinds, s.AttrOr("data-kind", "")) })
	if strings.Join(kinds, ",") != "created,detected,confirmed,event" {
		t.Errorf("timeline %v", kinds)
	}
	if h.c.Get("/dashboard/payments/"+pendingID).TestID("detail-status") != "Pending" {
		t.Error("pending detail")
	}
	if h.c.Get("/dashboard/payments/00000000-0000-0000-0000-000000000000").Status != http.StatusNotFound {
		t.Error("unknown payment not 404")
	}
}

func TestPaymentsPageBadFilters(t *testing.T) {
	h := newDashHarness(t)
	l := h.link(h.m, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})
	h.session(l["slug"].(string), nil)
	for _, q := range []string{"from=yesterday", "to=2026-13-01", "from=2026-03-05&to=2026-03-01", "status=paid", "link=nope", "cursor=junk"} {
		t.Run(q, func(t *testing.T) {
			full := h.c.Get("/dashboard/payments?" + q)
			if full.Status != http.StatusBadRequest || full.TestID("form-error") == "" || isFragment(full) {
				t.Fatalf("full: %d %q", full.Status, full.TestID("form-error"))
			}
			part := h.c.Get("/dashboard/payments?"+q, htmx...)
			if part.Status != http.StatusOK || part.TestID("form-error") == "" || !isFragment(part) {
				t.Fatalf("htmx: %d %q", part.Status, part.TestID("form-error"))
			}
			if q == "cursor=junk" {
				return // the export ignores the cursor: it exports every page
			}
			if csv := h.c.Get("/dashboard/payments.csv?" + q); csv.Status != http.StatusBadRequest {
				t.Fatalf("csv: %d", csv.Status)
			}
		})
	}
}

func TestPaymentsPagination(t *testing.T) {
	h := newDashHarness(t)
	l := h.link(h.m, map[string]any{"title": "Sticker", "amount": 1, "currency": "KAS"})
	var ids []string
	for i := 0; i < 53; i++ {
		id, _ := h.session(l["slug"].(string), nil)
		ids = append([]string{id}, ids...) // newest first
	}
	first := h.c.Get("/dashboard/payments")
	got := paymentIDs(first)
	more := first.Doc.Find(`[data-testid="load-more"]`)
	if len(got) != 50 || more.Length() != 1 {
		t.Fatalf("first page: %d rows, load more %d", len(got), more.Length())
	}
	href, _ := more.Attr("href")
	if more.AttrOr("hx-get", "") != href || more.AttrOr("hx-target", "") != "#payments-more" || more.AttrOr("hx-swap", "") != "outerHTML" {
		t.Fatalf("load more attributes %v", more.Nodes[0].Attr)
	}
	// htmx: only the next rows, no more button.
	next := h.c.Get(href, htmx...)
	// Bare <tr>s: parse them inside a table, as htmx does.
	doc, err := goquery.NewDocumentFromReader(strings.NewReader("<table><tbody>" + next.Body + "</tbody></table>"))
	if err != nil {
		t.Fatal(err)
	}
	next.Doc = doc
	rows := paymentIDs(next)
	if next.Status != http.StatusOK || len(rows) != 3 || next.Doc.Find(`[data-testid="load-more"]`).Length() != 0 || next.Doc.Find(`#payments-results`).Length() != 0 {
		t.Fatalf("next rows: %d %d rows", next.Status, len(rows))
	}
	all := append(got, rows...)
	if strings.Join(all, ",") != strings.Join(ids, ",") {
		t.Fatal("pages are not the payments newest first without gaps or repeats")
	}
	// Without JavaScript the same link is a full page.
	if p := h.c.Get(href); isFragment(p) || len(paymentIDs(p)) != 3 {
		t.Fatalf("next page without htmx: %d rows", len(paymentIDs(p)))
	}
	// Filters stay on the next page.
	p := h.c.Get("/dashboard/payments?link=" + l["id"].(string))
	href, _ = p.Doc.Find(`[data-testid="load-more"]`).Attr("href")
	if u, _ := url.Parse(href); u.Query().Get("link") != l["id"].(string) || u.Query().Get("cursor") == "" {
		t.Fatalf("load more %q", href)
	}
}

func TestPaymentsCSVExport(t *testing.T) {
	h := newDashHarness(t)
	l := h.link(h.m, map[string]any{"title": `Mugs, "large"`, "amount": 10, "currency": "KAS"})
	names := map[string]string{
		`Smith, John`:                    `Smith, John`,
		`The "Best" Shop`:                `The "Best" Shop`,
		`=HYPERLINK("http://x.example")`: `'=HYPERLINK("http://x.example")`,
		`@SUM(A1:A9)`:                    `'@SUM(A1:A9)`,
		`-1+2`:                           `'-1+2`,
		`+cmd|' /C calc'!A0`:             `'+cmd|' /C calc'!A0`,
		`Plain`:                          `Plain`,
	}
	byID := map[string]string{}
	for name := range names {
		id, _ := h.session(l["slug"].(string), map[string]any{"customerName": name, "metadata": map[string]any{"note": "a,b\"c"}})
		byID[id] = name
	}
	// A name with line breaks (not possible through the API; imported data).
	nlID, _ := h.session(l["slug"].(string), nil)
	if err := h.env.Store.DB().W(h.ctx).Model(&models.Payment{}).Where("id = ?", nlID).Update("customer_name", "two\nlines, here").Error; err != nil {
		t.Fatal(err)
	}
	paidID, paidSompi := h.session(l["slug"].(string), map[string]any{"customerEmail": "payer@example.com"})
	tx := h.pay(webtest.AddrA, paidSompi)

	r := h.c.Get("/dashboard/payments.csv")
	today := time.Now().UTC().Format(time.DateOnly)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		r.Header.Get("Content-Disposition") != "attachment; filename=till-payments-"+today+".csv" {
		t.Fatalf("csv: %d %v", r.Status, r.Header)
	}
	// The file starts with a UTF-8 byte-order mark; bom=0 sends the same
	// rows without it.
	body, ok := strings.CutPrefix(r.Body, models.UTF8BOM)
	if !ok {
		t.Fatalf("export does not start with a byte-order mark: %q", r.Body[:min(len(r.Body), 8)])
	}
	if plain := h.c.Get("/dashboard/payments.csv?bom=0"); plain.Status != http.StatusOK || plain.Body != body {
		t.Fatalf("bom=0: %d, same rows without the mark: %v", plain.Status, plain.Body == body)
	}
	if bad := h.c.Get("/dashboard/payments.csv?bom=yes"); bad.Status != http.StatusBadRequest {
		t.Fatalf("bom=yes: %d", bad.Status)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.Body)
	}
	if len(recs) != 1+len(names)+2 || strings.Join(recs[0], ",") != strings.Join(models.PaymentCSVHeader, ",") {
		t.Fatalf("%d records, header %v", len(recs), recs[0])
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	seen := 0
	for _, rec := range recs[1:] {
		id := rec[col["payment_id"]]
		if rec[col["link_title"]] != `Mugs, "large"` || rec[col["price_currency"]] != "KAS" || rec[col["price_amount"]] != "10.00000000" {
			t.Errorf("row %v", rec)
		}
		switch id {
		case nlID:
			if rec[col["customer_name"]] != "two\nlines, here" {
				t.Errorf("multi-line name %q", rec[col["customer_name"]])
			}
		case paidID:
			if rec[col["status"]] != "confirmed" || rec[col["tx_id"]] != tx || rec[col["sender_address"]] != h.chain.DefaultSender() ||
				rec[col["customer_email"]] != "payer@example.com" || rec[col["amount_received_kas"]] != models.FormatAmount8(paidSompi, models.KAS) ||
				rec[col["confirmed_at"]] == "" {
				t.Errorf("paid row %v", rec)
			}
		default:
			name, ok := byID[id]
			if !ok {
				t.Fatalf("unknown row %v", rec)
			}
			seen++
			if got := rec[col["customer_name"]]; got != names[name] {
				t.Errorf("name %q exported as %q, want %q", name, got, names[name])
			}
			if rec[col["metadata"]] != `{"note":"a,b\"c"}` {
				t.Errorf("metadata %q", rec[col["metadata"]])
			}
		}
	}
	if seen != len(names) {
		t.Fatalf("%d named rows", seen)
	}
	// The current filters apply.
	f := h.c.Get("/dashboard/payments.csv?status=confirmed&q=payer@example.com&bom=0")
	recs, _ = csv.NewReader(strings.NewReader(f.Body)).ReadAll()
	if len(recs) != 2 || recs[1][col["payment_id"]] != paidID {
		t.Fatalf("filtered export: %d records", len(recs))
	}
}
