package web_test

import (
	"net/http"
	"strings"
	"testing"

	"till/views/pages"
	"till/web/webtest"
)

func TestDashboardOverview(t *testing.T) {
	h := newDashHarness(t)

	// A new merchant: zeros, an empty chart and the first step.
	p := h.c.Get("/dashboard")
	if p.Status != http.StatusOK || p.TestID("stat-revenue") != "0 KAS" || p.TestID("stat-payments") != "0" || p.TestID("stat-links") != "0" {
		t.Fatalf("empty overview: %d %q %q %q", p.Status, p.TestID("stat-revenue"), p.TestID("stat-payments"), p.TestID("stat-links"))
	}
	if p.Doc.Find(`[data-testid="empty-state"] a[href="/dashboard/links/new"]`).Length() != 1 {
		t.Error("no first-step empty state")
	}
	if n := p.Doc.Find(`[data-testid="chart-bar"]`).Length(); n != 30 {
		t.Errorf("%d bars, want 30", n)
	}

	kas := h.link(h.m, map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"})
	usd := h.link(h.m, map[string]any{"title": "Hoodie", "amount": 19.99, "currency": "USD"})
	_, s1 := h.session(kas["slug"].(string), nil)
	h.pay(webtest.AddrA, s1)
	_, s2 := h.session(usd["slug"].(string), map[string]any{"customerName": "Ann"})
	h.pay(webtest.AddrA, s2)
	h.session(kas["slug"].(string), nil) // stays pending
	h.pay(webtest.AddrA, 777_000_000)    // matches no session

	p = h.c.Get("/dashboard")
	if got, want := p.TestID("stat-revenue"), pages.KAS(s1+s2); got != want {
		t.Errorf("revenue %q, want %q", got, want)
	}
	if got := p.TestID("stat-revenue-usd"); got != "$19.99" {
		t.Errorf("USD revenue %q", got)
	}
	if p.TestID("stat-payments") != "3" || p.TestID("count-confirmed") != "2 Confirmed" || p.TestID("count-pending") != "1 Pending" || p.TestID("stat-links") != "2" {
		t.Errorf("counts: %q %q %q links %q", p.TestID("stat-payments"), p.TestID("count-confirmed"), p.TestID("count-pending"), p.TestID("stat-links"))
	}
	if !strings.Contains(p.TestID("unmatched-notice"), "1 credit (7.77 KAS)") {
		t.Errorf("unmatched notice %q", p.TestID("unmatched-notice"))
	}
	if p.TestID("chart-total") != pages.KAS(s1+s2) {
		t.Errorf("chart total %q", p.TestID("chart-total"))
	}

	// The chart is an accessible image with a text alternative.
	svg := p.Doc.Find(`svg[data-testid="revenue-chart"]`)
	if svg.AttrOr("role", "") != "img" || svg.AttrOr("aria-labelledby", "") != "chart-title chart-desc" ||
		!strings.Contains(svg.Find("#chart-desc").Text(), "2 payments") || svg.Find("title#chart-title").Length() != 1 {
		t.Errorf("chart accessibility: role=%q labelledby=%q desc=%q", svg.AttrOr("role", ""), svg.AttrOr("aria-labelledby", ""), svg.Find("#chart-desc").Text())
	}
	rows := p.Doc.Find(`table[data-testid="chart-table"] tbody tr`)
	if rows.Length() != 30 || !strings.Contains(p.Doc.Find(`table[data-testid="chart-table"]`).AttrOr("class", ""), "sr-only") {
		t.Fatalf("hidden table: %d rows", rows.Length())
	}
	if last := rows.Last().Find("td").Eq(1).Text(); last != pages.KAS(s1+s2) {
		t.Errorf("today's revenue in the table %q", last)
	}
	if p.Doc.Find(`[data-testid="chart-bar"].fill-brand-500`).Length() != 1 {
		t.Errorf("want one revenue bar (today)")
	}
	if n := p.Doc.Find(`[data-testid="recent-payments"] tbody tr`).Length(); n != 3 {
		t.Errorf("%d recent payments", n)
	}
	if strings.Contains(p.Body, " style=") {
		t.Error("inline style attribute (the CSP forbids them)")
	}
}
