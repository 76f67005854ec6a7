package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/uuid"

	"till/models"
	"till/web/webtest"
)

// Manual assignment of unmatched credits from the dashboard, through the
// real stack: the customer pays a wrong amount on the chain double, the
// watcher records it unmatched, the merchant assigns it with the form.

// stray pays sompi to addr (not matching any session), buries it under
// depth blocks and runs the watcher; it returns the unmatched credit's id and
// transaction id.
func (h *checkoutHarness) stray(addr string, sompi int64, depth uint64, m webtest.Merchant) (transferID, tx string) {
	h.t.Helper()
	h.chain.Advance(1)
	tx = h.chain.Pay(addr, sompi, "")
	h.chain.Advance(depth)
	h.cycle()
	ts, err := h.env.Store.UnmatchedTransfers(h.ctx, m.ID, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, t := range ts {
		if t.TxID == tx {
			return t.ID, tx
		}
	}
	h.t.Fatalf("credit %s is not unmatched", tx)
	return "", ""
}

// apiSession opens a session on slug through the public API.
func (h *checkoutHarness) apiSession(slug string) *models.Payment {
	h.t.Helper()
	r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": slug})
	if r.Status != http.StatusOK {
		h.t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	return h.payment(r.JSON(h.t)["id"].(string))
}

// assign posts the dashboard's assignment form as a browser would.
func assign(c *webtest.Client, transferID, paymentID string) webtest.Page {
	return c.Submit("/dashboard/payments", "/dashboard/payments/credits/"+transferID+"/assign", url.Values{"payment": {paymentID}})
}

// offered lists the session ids the payments page offers for a credit.
func offered(p webtest.Page, transferID string) []string {
	var ids []string
	p.Doc.Find(`[data-transfer-id="` + transferID + `"] select[name="payment"] option`).Each(func(_ int, s *goquery.Selection) {
		if v := s.AttrOr("value", ""); v != "" {
			ids = append(ids, v)
		}
	})
	return ids
}

func (h *checkoutHarness) activities(id string) []string {
	h.t.Helper()
	as, err := h.env.Store.PaymentActivities(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Kind+" "+a.TxID)
	}
	return out
}

func TestAssignUnmatchedCredit(t *testing.T) {
	const kas = models.SompiPerKAS
	cases := []struct {
		name    string
		expired bool  // the session expired before the assignment
		delta   int64 // credit minus the session's amount
		deep    bool  // the credit is buried deep enough to confirm
		want    models.PaymentStatus
		events  string
	}{
		{"open session, overpaid and deep: confirmed", false, 5 * kas, true, models.StatusConfirmed, "payment.confirmed"},
		{"open session, not deep yet: confirming, then confirmed", false, 1 * kas, false, models.StatusConfirming, ""},
		{"short credit: underpaid", false, -1 * kas, true, models.StatusUnderpaid, ""},
		{"recently expired session: confirmed", true, 2 * kas, true, models.StatusConfirmed, "payment.expired,payment.confirmed"},
		{"recently expired session, short credit: underpaid, then expired with it", true, -3 * kas, true, models.StatusUnderpaid, "payment.expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newShiftedHarness(t)
			slug := h.link(map[string]any{"amount": 10, "expiryMinutes": 5})
			p := h.apiSession(slug)
			other := h.apiSession(slug)
			depth := uint64(0)
			if tc.deep {
				depth = uint64(p.RequiredConfirmations) + 1
			}
			credit := p.AmountExpected + tc.delta
			tid, tx := h.stray(webtest.AddrA, credit, depth, h.m)
			if got := h.payment(p.ID); got.Status != models.StatusPending {
				t.Fatalf("a wrong amount matched: %s", got.Status)
			}
			if tc.expired {
				h.shift(6 * time.Minute)
				h.cycle()
				h.expireDue(2)
			}
			dc := dashLogin(t, h.env, h.m)
			list := dc.Get("/dashboard/payments")
			if ids := offered(list, tid); !strings.Contains(strings.Join(ids, ","), p.ID) || !strings.Contains(strings.Join(ids, ","), other.ID) {
				t.Fatalf("sessions offered for the credit %v, want %s and %s", ids, p.ID, other.ID)
			}

			r := assign(dc, tid, p.ID)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/dashboard/payments/"+p.ID {
				t.Fatalf("assign: %d %s %s", r.Status, r.Header.Get("Location"), r.TestID("assign-error"))
			}
			got := h.payment(p.ID)
			if got.Status != tc.want || got.AmountReceived != credit || got.TxID != tx {
				t.Fatalf("after the assignment: %s received %d tx %s, want %s %d %s", got.Status, got.AmountReceived, got.TxID, tc.want, credit, tx)
			}
			if evs := strings.Join(h.eventTypes(p.ID), ","); evs != tc.events {
				t.Fatalf("events %q, want %q", evs, tc.events)
			}
			if acts := h.activities(p.ID); len(acts) != 1 || acts[0] != models.ActivityAssigned+" "+tx {
				t.Fatalf("activities %v", acts)
			}
			if got := h.payment(other.ID); got.AmountReceived != 0 {
				t.Fatalf("the other session received %d", got.AmountReceived)
			}
			if tc.want == models.StatusUnderpaid && tc.expired {
				// Like any underpaid session it ends after the late window,
				// and its last payment.expired carries what arrived.
				h.shift(5*time.Minute + h.env.Store.LateWindow() + time.Minute)
				h.cycle()
				h.expireDue(1)
				if got := h.payment(p.ID); got.Status != models.StatusExpired || got.AmountReceived != credit {
					t.Fatalf("after the late window: %s %d", got.Status, got.AmountReceived)
				}
				if amt := h.eventAmountReceived(p.ID, models.EventPaymentExpired); amt != credit {
					t.Fatalf("last payment.expired amountReceived %d, want %d", amt, credit)
				}
			}
			if tc.want == models.StatusConfirming {
				h.chain.Advance(uint64(p.RequiredConfirmations) + 1)
				h.cycle()
				if got := h.payment(p.ID); got.Status != models.StatusConfirmed {
					t.Fatalf("deep enough: %s", got.Status)
				}
				if evs := strings.Join(h.eventTypes(p.ID), ","); evs != "payment.confirmed" {
					t.Fatalf("events %q", evs)
				}
			}

			// The credit has left the unmatched list; the payment's page
			// says what happened.
			after := dc.Get("/dashboard/payments")
			if after.Doc.Find(`[data-transfer-id="`+tid+`"]`).Length() != 0 {
				t.Error("the assigned credit is still listed as unmatched")
			}
			d := dc.Get("/dashboard/payments/" + p.ID)
			if got := squash(d.Doc.Find(`[data-kind="assigned"]`).Text()); !strings.Contains(got, "assigned by the merchant") {
				t.Errorf("timeline %q", got)
			}
			if d.TestID("transfer-tx") != tx {
				t.Errorf("transfer %q", d.TestID("transfer-tx"))
			}
			over := d.TestID("detail-overpaid")
			if tc.delta > 0 && over != "overpaid by "+kasText(tc.delta)+" KAS" {
				t.Errorf("overpaid %q for %d sompi", over, tc.delta)
			}
			if tc.delta <= 0 && over != "" {
				t.Errorf("overpaid %q", over)
			}
			if tc.delta > 0 {
				row := after.Doc.Find(`[data-payment-id="` + p.ID + `"]`)
				if got := squash(row.Find(`[data-testid="payment-overpaid"]`).Text()); got != over {
					t.Errorf("list overpaid %q", got)
				}
			}
			if tc.want == models.StatusConfirmed {
				page := h.env.Client().Get("/pay/" + slug + "/p/" + p.ID)
				if page.TestID("pay-overpaid") != kasText(tc.delta)+" KAS" {
					t.Errorf("checkout overpaid %q", page.TestID("pay-overpaid"))
				}
			}
			if tc.want == models.StatusUnderpaid && !tc.expired {
				page := h.env.Client().Get("/pay/" + slug + "/p/" + p.ID)
				if page.Doc.Find(`[data-testid="pay-wallet-rest"]`).Length() != 0 {
					t.Error("a shared-address session asks for a top-up that cannot match")
				}
			}
		})
	}
}

// kasText prints sompi as the pages do (no trailing zeros).
func kasText(sompi int64) string {
	s := models.FormatAmount8(sompi, models.KAS)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func TestAssignCreditRefusals(t *testing.T) {
	h := newShiftedHarness(t)
	slug := h.link(map[string]any{"amount": 10, "expiryMinutes": 5})
	dc := dashLogin(t, h.env, h.m)
	// Another merchant, with its own address, link, session and credit.
	rival := h.env.Register("rival@example.com", "Rival", webtest.AddrB)
	r := h.env.Do("POST", "/api/links", map[string]any{"title": "Rival", "amount": 10, "currency": "KAS"}, rival.Bearer()...)
	rivalSession := h.apiSession(r.JSON(t)["slug"].(string))
	rivalCredit, _ := h.stray(webtest.AddrB, rivalSession.AmountExpected+models.SompiPerKAS, 0, rival)

	type fixture struct{ transfer, payment string }
	cases := []struct {
		name   string
		setup  func(t *testing.T) fixture
		status int
		msg    string
	}{
		{"unknown credit", func(t *testing.T) fixture {
			return fixture{uuid.NewString(), h.apiSession(slug).ID}
		}, http.StatusNotFound, "Credit not found"},
		{"another merchant's credit", func(t *testing.T) fixture {
			return fixture{rivalCredit, h.apiSession(slug).ID}
		}, http.StatusNotFound, "Credit not found"},
		{"another merchant's payment", func(t *testing.T) fixture {
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			return fixture{tid, rivalSession.ID}
		}, http.StatusNotFound, "Payment not found"},
		{"no session chosen", func(t *testing.T) fixture {
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			return fixture{tid, ""}
		}, http.StatusBadRequest, "Choose the payment"},
		{"already assigned", func(t *testing.T) fixture {
			p := h.apiSession(slug)
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			if r := assign(dc, tid, p.ID); r.Status != http.StatusSeeOther {
				t.Fatalf("first assignment %d %s", r.Status, r.TestID("assign-error"))
			}
			return fixture{tid, h.apiSession(slug).ID}
		}, http.StatusConflict, "already been assigned"},
		{"reversed credit", func(t *testing.T) fixture {
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			// The chain took it back (what the watcher records on a reversal).
			if err := h.env.Store.DB().W(h.ctx).Exec("UPDATE transfers SET reversed_at = ? WHERE id = ?", time.Now().UTC(), tid).Error; err != nil {
				t.Fatal(err)
			}
			return fixture{tid, h.apiSession(slug).ID}
		}, http.StatusConflict, "reversed"},
		{"confirmed session", func(t *testing.T) fixture {
			p := h.apiSession(slug)
			h.payFully(p.ID)
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			return fixture{tid, p.ID}
		}, http.StatusConflict, "already confirmed"},
		{"credit older than the session", func(t *testing.T) fixture {
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			h.cycle()
			return fixture{tid, h.apiSession(slug).ID}
		}, http.StatusConflict, "before this payment session opened"},
		{"different address", func(t *testing.T) fixture {
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			h.settings(map[string]any{"kaspaAddress": webtest.AddrC})
			defer h.settings(map[string]any{"kaspaAddress": webtest.AddrA})
			return fixture{tid, h.apiSession(slug).ID}
		}, http.StatusConflict, "different address"},
		{"expired more than 7 days ago", func(t *testing.T) fixture {
			p := h.apiSession(slug)
			tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
			h.shift(models.RecentExpiryWindow + time.Hour)
			h.cycle()
			if n, err := h.env.Store.ExpireDue(h.ctx, 1000); err != nil || n == 0 {
				t.Fatalf("expire: %d %v", n, err)
			}
			h.shift(2*models.RecentExpiryWindow + time.Hour)
			return fixture{tid, p.ID}
		}, http.StatusConflict, "expired more than 7 days ago"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.setup(t)
			var before *models.Payment
			if f.payment != "" {
				before, _ = h.env.Store.Payment(h.ctx, f.payment)
			}
			// A fresh login: a case may move the clock past a browser
			// session's 7-day lifetime.
			dc = dashLogin(t, h.env, h.m)
			r := assign(dc, f.transfer, f.payment)
			if r.Status != tc.status || !strings.Contains(r.TestID("assign-error"), tc.msg) {
				t.Fatalf("got %d %q, want %d %q", r.Status, r.TestID("assign-error"), tc.status, tc.msg)
			}
			if before != nil {
				after := h.payment(f.payment)
				if after.Status != before.Status || after.AmountReceived != before.AmountReceived {
					t.Fatalf("refused, yet the payment changed: %s %d → %s %d", before.Status, before.AmountReceived, after.Status, after.AmountReceived)
				}
				if acts := h.activities(f.payment); len(acts) != 0 && tc.name != "already assigned" {
					t.Fatalf("activities %v", acts)
				}
			}
		})
	}
	// Without the form's CSRF token nothing happens.
	dc = dashLogin(t, h.env, h.m)
	p := h.apiSession(slug)
	tid, _ := h.stray(webtest.AddrA, 3*models.SompiPerKAS, 0, h.m)
	if r := dc.PostForm("/dashboard/payments/credits/"+tid+"/assign", url.Values{"payment": {p.ID}}); r.Status != http.StatusForbidden {
		t.Fatalf("assignment without a CSRF token: %d", r.Status)
	}
	if got := h.payment(p.ID); got.AmountReceived != 0 {
		t.Fatalf("assigned without a CSRF token: %d", got.AmountReceived)
	}

	// The rival's credit is still unassigned and its session untouched.
	if got := h.payment(rivalSession.ID); got.AmountReceived != 0 {
		t.Fatalf("rival session received %d", got.AmountReceived)
	}
	if ts, _ := h.env.Store.UnmatchedTransfers(h.ctx, rival.ID, 10); len(ts) != 1 || ts[0].ID != rivalCredit {
		t.Fatalf("rival credits %v", ts)
	}
}

func TestAssignCreditRace(t *testing.T) {
	h := newShiftedHarness(t)
	slug := h.link(map[string]any{"amount": 10})
	a, b := h.apiSession(slug), h.apiSession(slug)
	tid, _ := h.stray(webtest.AddrA, 7*models.SompiPerKAS, 0, h.m)
	dc := dashLogin(t, h.env, h.m)
	tok := dc.Get("/dashboard/payments").Doc.Find(`input[name="_csrf"]`).First().AttrOr("value", "")

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, pid := range []string{a.ID, b.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = dc.PostForm("/dashboard/payments/credits/"+tid+"/assign", url.Values{"_csrf": {tok}, "payment": {pid}}).Status
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusSeeOther:
			won++
		case http.StatusConflict:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if won != 1 {
		t.Fatalf("%d assignments won (statuses %v), want exactly 1", won, statuses)
	}
	ga, gb := h.payment(a.ID), h.payment(b.ID)
	if ga.AmountReceived+gb.AmountReceived != 7*models.SompiPerKAS {
		t.Fatalf("the credit counted %d + %d sompi", ga.AmountReceived, gb.AmountReceived)
	}
	if n := len(h.activities(a.ID)) + len(h.activities(b.ID)); n != 1 {
		t.Fatalf("%d assignment entries", n)
	}
}
