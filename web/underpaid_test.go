package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/web"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
	"till/workers/price"
)

// Tests of sessions that end with the wrong amount: underpaid sessions
// expiring with their partial amount, overpaid per-address sessions, and the
// checkout notice for a credit that matched nothing.

// newShiftedHarness is newCheckoutHarness with one clock for Till and the
// chain double: shift moves both, so block times follow (a payment sent
// after the shift is late by its block time too).
func newShiftedHarness(t testing.TB) *checkoutHarness {
	t.Helper()
	offset := new(atomic.Int64)
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	chain := double.New(double.Options{Clock: now, Price: "0.125"})
	chainURL, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	feed := &price.Feed{CoinGeckoURL: chainURL + "/coingecko"}
	env := webtest.NewWith(t, []func(*models.StoreOptions){func(o *models.StoreOptions) { o.Rates = feed; o.Now = now }},
		func(o *web.Options) { o.Rates = feed })
	env.Listen()
	h := &checkoutHarness{t: t, ctx: context.Background(), env: env, chain: chain, offset: offset,
		watcher: &kaspa.Watcher{Client: kaspa.NewClient(chainURL, &http.Client{Timeout: 5 * time.Second}), Store: env.Store, Interval: 50 * time.Millisecond}}
	h.m = env.Register("shop@example.com", "Kaspa Coffee Roasters", webtest.AddrA)
	h.cycle()
	return h
}

// expireDue runs the expirer once and checks how many sessions it ended.
func (h *checkoutHarness) expireDue(want int) {
	h.t.Helper()
	n, err := h.env.Store.ExpireDue(h.ctx, 100)
	if err != nil || n != want {
		h.t.Fatalf("ExpireDue ended %d (err %v), want %d", n, err, want)
	}
}

// watched reports whether the watcher would poll addr now.
func (h *checkoutHarness) watched(addr string) bool {
	h.t.Helper()
	w, err := h.env.Store.KaspaWatchList(h.ctx, h.chain.VirtualDaaScore())
	if err != nil {
		h.t.Fatal(err)
	}
	return slices.Contains(w.Addresses, addr)
}

// eventTypes lists a payment's events, oldest first.
func (h *checkoutHarness) eventTypes(id string) []string {
	h.t.Helper()
	evs, err := h.env.Store.EventsForPayment(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// eventAmountReceived is the amountReceived of a payment's last event of
// type typ, in sompi (a string or a number in the payload, whichever the
// document's type is).
func (h *checkoutHarness) eventAmountReceived(id, typ string) int64 {
	h.t.Helper()
	evs, err := h.env.Store.EventsForPayment(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	slices.Reverse(evs)
	for _, e := range evs {
		if e.Type != typ {
			continue
		}
		var data map[string]any
		dec := json.NewDecoder(bytes.NewReader([]byte(e.Data)))
		dec.UseNumber()
		if err := dec.Decode(&data); err != nil {
			h.t.Fatal(err)
		}
		v, ok := data["amountReceived"]
		if !ok {
			h.t.Fatalf("%s has no amountReceived: %s", typ, e.Data)
		}
		sompi, err := double.ParseKAS(fmt.Sprint(v))
		if err != nil {
			h.t.Fatalf("amountReceived %v: %v", v, err)
		}
		return sompi
	}
	h.t.Fatalf("no %s event", typ)
	return 0
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestUnderpaidSessionEndsAfterLateWindow(t *testing.T) {
	cases := []struct {
		name  string
		topUp bool // the customer sends the rest inside the late window
	}{
		{"no top-up: expired with the partial amount", false},
		{"top-up inside the late window: confirmed late", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newShiftedHarness(t)
			h.settings(map[string]any{"kaspaKpub": checkoutKpub})
			slug := h.link(map[string]any{"amount": 10, "expiryMinutes": 5})
			c := h.env.Client()
			id, _ := h.start(c, slug, nil)
			p := h.payment(id)
			h.chain.Advance(1)
			tx := h.chain.Pay(p.PayAddress, 4*models.SompiPerKAS, "")
			h.cycle()
			if got := h.payment(id); got.Status != models.StatusUnderpaid || got.AmountReceived != 4*models.SompiPerKAS {
				t.Fatalf("after 4 of 10 KAS: %s %d", got.Status, got.AmountReceived)
			}

			// Past the deadline but inside the late window it can still be
			// completed: not expired, still watched.
			h.shift(10 * time.Minute)
			h.cycle()
			h.expireDue(0)
			if got := h.payment(id); got.Status != models.StatusUnderpaid || !h.watched(p.PayAddress) {
				t.Fatalf("inside the late window: %s, watched %v", got.Status, h.watched(p.PayAddress))
			}
			end := 5*time.Minute + h.env.Store.LateWindow() + time.Minute

			if tc.topUp {
				h.chain.Advance(1)
				h.chain.Pay(p.PayAddress, 6*models.SompiPerKAS, "")
				h.cycle()
				got := h.payment(id)
				if got.Status != models.StatusConfirming || !got.Late || got.AmountReceived != 10*models.SompiPerKAS {
					t.Fatalf("after the top-up: %s late=%v received %d", got.Status, got.Late, got.AmountReceived)
				}
				h.chain.Advance(uint64(got.RequiredConfirmations) + 1)
				h.cycle()
				h.shift(end)
				h.cycle()
				h.expireDue(0)
				if got := h.payment(id); got.Status != models.StatusConfirmed || !got.Late {
					t.Fatalf("topped up late: %s late=%v", got.Status, got.Late)
				}
				if evs := h.eventTypes(id); strings.Join(evs, ",") != models.EventPaymentConfirmed {
					t.Fatalf("events %v", evs)
				}
				return
			}

			// After the late window it ends, but only once the chain has been
			// observed past that time (an outage expires nothing).
			h.shift(end)
			h.expireDue(0)
			h.cycle()
			h.expireDue(1)
			got := h.payment(id)
			if got.Status != models.StatusExpired || got.AmountReceived != 4*models.SompiPerKAS || got.ExpiredAt == nil {
				t.Fatalf("after the late window: %s received %d expired_at %v", got.Status, got.AmountReceived, got.ExpiredAt)
			}
			if evs := h.eventTypes(id); strings.Join(evs, ",") != models.EventPaymentExpired {
				t.Fatalf("events %v", evs)
			}
			if amt := h.eventAmountReceived(id, models.EventPaymentExpired); amt != 4*models.SompiPerKAS {
				t.Fatalf("payment.expired amountReceived %d sompi, want the partial 4 KAS", amt)
			}
			if h.watched(p.PayAddress) {
				t.Fatal("the expired underpaid session's address is still watched")
			}
			h.expireDue(0) // once

			// The checkout shows what arrived and sends the customer to the
			// merchant, with the transaction id.
			page := c.Get("/pay/" + slug + "/p/" + id)
			if ph, _ := page.Doc.Find("#pay-panel").Attr("data-phase"); ph != "expired" {
				t.Fatalf("phase %q", ph)
			}
			partial := squash(page.TestID("pay-partial"))
			if !strings.Contains(partial, "4 KAS of 10 KAS") || !strings.Contains(partial, "contact Kaspa Coffee Roasters") {
				t.Errorf("partial notice %q", partial)
			}
			if page.TestID("pay-txid") != tx {
				t.Errorf("transaction id %q, want %s", page.TestID("pay-txid"), tx)
			}
			if got := squash(page.Doc.Find("#pay-status").Text()); !strings.Contains(got, "Received 4 of 10 KAS") {
				t.Errorf("status line %q", got)
			}
			// Coming back to the link shows that session, not "expired before
			// a payment arrived".
			if back := c.Get("/pay/" + slug); sessionID(back) != id {
				t.Errorf("the link page hides the partly paid session:\n%s", back.TestID("checkout-notice"))
			}

			// The dashboard shows the partial amount.
			dc := dashLogin(t, h.env, h.m)
			d := dc.Get("/dashboard/payments/" + id)
			if d.TestID("detail-status") != "Expired" || d.TestID("detail-received") != "4 KAS" || d.TestID("detail-partial") == "" {
				t.Fatalf("detail: %q %q %q", d.TestID("detail-status"), d.TestID("detail-received"), d.TestID("detail-partial"))
			}
			if got := d.Doc.Find(`[data-kind="expired"]`).Text(); !strings.Contains(squash(got), "4 KAS of 10 KAS received") {
				t.Errorf("timeline %q", squash(got))
			}
			row := dc.Get("/dashboard/payments").Doc.Find(`[data-payment-id="` + id + `"]`)
			if !strings.Contains(squash(row.Find(`[data-testid="payment-amount"]`).Text()), "4 KAS partial, of 10 KAS") {
				t.Errorf("list amount %q", squash(row.Find(`[data-testid="payment-amount"]`).Text()))
			}
		})
	}
}

func TestKpubOverpaymentShown(t *testing.T) {
	h := newCheckoutHarness(t)
	h.settings(map[string]any{"kaspaKpub": checkoutKpub})
	slug := h.link(map[string]any{"amount": 10})
	c := h.env.Client()
	id, _ := h.start(c, slug, nil)
	p := h.payment(id)
	h.chain.Advance(1)
	h.chain.Pay(p.PayAddress, 12*models.SompiPerKAS, "")
	h.chain.Advance(uint64(p.RequiredConfirmations) + 1)
	h.cycle()
	got := h.payment(id)
	if got.Status != models.StatusConfirmed || got.AmountReceived != 12*models.SompiPerKAS || got.Overpaid() != 2*models.SompiPerKAS {
		t.Fatalf("overpaid session: %s received %d", got.Status, got.AmountReceived)
	}
	if amt := h.eventAmountReceived(id, models.EventPaymentConfirmed); amt != 12*models.SompiPerKAS {
		t.Fatalf("payment.confirmed amountReceived %d", amt)
	}
	page := c.Get("/pay/" + slug + "/p/" + id)
	if page.TestID("pay-overpaid") != "2 KAS" || page.TestID("pay-received") != "12 KAS" {
		t.Errorf("checkout: overpaid %q received %q", page.TestID("pay-overpaid"), page.TestID("pay-received"))
	}
	dc := dashLogin(t, h.env, h.m)
	if d := dc.Get("/dashboard/payments/" + id); d.TestID("detail-overpaid") != "overpaid by 2 KAS" {
		t.Errorf("detail overpaid %q", d.TestID("detail-overpaid"))
	}
	row := dc.Get("/dashboard/payments").Doc.Find(`[data-payment-id="` + id + `"]`)
	if got := squash(row.Find(`[data-testid="payment-overpaid"]`).Text()); got != "overpaid by 2 KAS" {
		t.Errorf("list overpaid %q", got)
	}
}

func TestCheckoutStrayCreditNotice(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(map[string]any{"amount": 10, "expiryMinutes": 5})
	c := h.env.Client()
	id, page := h.start(c, slug, nil)
	p := h.payment(id)
	if page.TestID("pay-stray-notice") != "" {
		t.Fatal("notice before any credit")
	}
	next := pollURL(t, page)
	if r := h.poll(c, next); r.Status != 204 {
		t.Fatalf("idle poll %d", r.Status)
	}

	// The customer sends a different amount: it matches nothing.
	wrong := p.AmountExpected + 1*models.SompiPerKAS
	h.chain.Advance(1)
	tx := h.chain.Pay(webtest.AddrA, wrong, "")
	h.cycle()
	if got := h.payment(id); got.Status != models.StatusPending || got.AmountReceived != 0 {
		t.Fatalf("a wrong amount matched: %s %d", got.Status, got.AmountReceived)
	}
	r := h.poll(c, next)
	notice := squash(r.TestID("pay-stray-notice"))
	if r.Status != 200 || !strings.Contains(notice, "exact amount") || !strings.Contains(notice, "Contact Kaspa Coffee Roasters with the transaction id") {
		t.Fatalf("poll after the stray credit: %d %q", r.Status, notice)
	}
	if oob, _ := r.Doc.Find("#pay-notice").Attr("hx-swap-oob"); oob != "innerHTML" {
		t.Errorf("the notice is not swapped into the page (hx-swap-oob %q)", oob)
	}
	if r2 := h.poll(c, pollURL(t, r)); r2.Status != 204 {
		t.Errorf("poll with the new version: %d", r2.Status)
	}
	// The page says it too, and never shows that credit's id or amount (it
	// could be another customer's).
	full := c.Get("/pay/" + slug + "/p/" + id)
	for _, b := range []string{r.Body, full.Body} {
		if strings.Contains(b, tx) || strings.Contains(b, models.FormatAmount8(wrong, models.KAS)) || strings.Contains(b, strings.TrimRight(strings.TrimRight(models.FormatAmount8(wrong, models.KAS), "0"), ".")) {
			t.Fatal("the checkout reveals the stray credit")
		}
	}
	if full.TestID("pay-stray-notice") == "" {
		t.Fatal("no notice on the page")
	}

	// A session opened after that credit is not concerned.
	other, otherPage := h.start(h.env.Client(), slug, nil)
	if otherPage.TestID("pay-stray-notice") != "" {
		t.Errorf("session %s opened after the credit shows the notice", other)
	}

	// Once expired, the notice stays, and the link page leads back to it.
	h.shift(6 * time.Minute)
	h.cycle()
	h.expireDue(2)
	if got := c.Get("/pay/" + slug); sessionID(got) != id || got.TestID("pay-stray-notice") == "" {
		t.Fatalf("expired session with a stray credit: session %q notice %q", sessionID(got), got.TestID("pay-stray-notice"))
	}
}
