package kaspa_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/web/webtest"
	"till/workers/kaspa/double"
)

// skewClock is the real clock plus an offset a test moves forward, so the
// store can be taken past the reversal grace period without sleeping.
type skewClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *skewClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *skewClock) Add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// newSkewHarness is a harness whose store runs on a skewable clock.
func newSkewHarness(t *testing.T, opts ...func(*models.StoreOptions)) (*harness, *skewClock) {
	t.Helper()
	clk := &skewClock{}
	all := append([]func(*models.StoreOptions){func(o *models.StoreOptions) { o.Now = clk.Now }}, opts...)
	return newHarness(t, all...), clk
}

// control calls a /_double/ control endpoint over HTTP.
func (h *harness) control(path string, body any) map[string]any {
	h.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(h.url+"/_double/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("/_double/%s: %d %v", path, resp.StatusCode, out)
	}
	return out
}

// settings changes the merchant's settings through the API.
func (h *harness) settings(fields map[string]any) {
	h.t.Helper()
	if r := h.env.Do("PATCH", "/api/settings", fields, h.m.Bearer()...); r.Status != http.StatusOK {
		h.t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
}

// open opens a session and returns its id, amount and pay-to address.
func (h *harness) open() (id string, sompi int64, addr string) {
	h.t.Helper()
	r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": h.slug})
	if r.Status != http.StatusOK {
		h.t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	body := r.JSON(h.t)
	amt, err := double.ParseKAS(body["amountExpected"].(string))
	if err != nil {
		h.t.Fatal(err)
	}
	return body["id"].(string), amt, body["kaspaAddress"].(string)
}

func (h *harness) payment(id string) *models.Payment {
	h.t.Helper()
	p, err := h.env.Store.Payment(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) events(id string) []string {
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

func (h *harness) activities(id string) []models.PaymentActivity {
	h.t.Helper()
	as, err := h.env.Store.PaymentActivities(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return as
}

func (h *harness) transfers(id string) []models.Transfer {
	h.t.Helper()
	ts, err := h.env.Store.PaymentTransfers(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return ts
}

func (h *harness) wantStatus(id string, want models.PaymentStatus, when string) *models.Payment {
	h.t.Helper()
	p := h.payment(id)
	if p.Status != want {
		h.t.Fatalf("%s: status %s (received %d, %d confirmations), want %s", when, p.Status, p.AmountReceived, p.Confirmations, want)
	}
	return p
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// kinds lists activity kinds in order.
func kinds(as []models.PaymentActivity) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Kind
	}
	return out
}

const reversalKpub = "kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"

// TestWatcherRejectedCreditNeverConfirms pays, waits for confirming, then
// has the transaction lose a double spend: the payment never confirms, no
// event is sent, and after the grace period the credit is reversed (kept)
// and the session goes back.
func TestWatcherRejectedCreditNeverConfirms(t *testing.T) {
	cases := []struct {
		name     string
		required int
		kpub     bool
		partial  bool // a first, partial credit stays (per-address mode)
		want     models.PaymentStatus
	}{
		{"shared address", 100, false, false, models.StatusPending},
		{"shared address, 300 confirmations", 300, false, false, models.StatusPending},
		{"per-address", 100, true, false, models.StatusPending},
		{"per-address, partial credit left", 100, true, true, models.StatusUnderpaid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, clk := newSkewHarness(t)
			if tc.required != 100 {
				h.settings(map[string]any{"requiredConfirmations": tc.required})
			}
			if tc.kpub {
				h.settings(map[string]any{"kaspaKpub": reversalKpub})
			}
			id, amt, addr := h.open()
			var kept int64
			if tc.partial {
				kept = amt / 3
				h.chain.Advance(1)
				h.chain.Pay(addr, kept, "")
				h.cycle()
				h.wantStatus(id, models.StatusUnderpaid, "after the partial credit")
			}
			h.chain.Advance(1)
			tx := h.chain.Pay(addr, amt-kept, "")
			h.cycle()
			h.wantStatus(id, models.StatusConfirming, "after detection")
			h.chain.Advance(10)
			h.cycle()

			h.control("reject", map[string]any{"transactionId": tx})
			h.chain.Advance(uint64(tc.required) + 50)
			for i := 0; i < 3; i++ { // inside the grace period: it waits
				h.cycle()
				h.wantStatus(id, models.StatusConfirming, "rejected, inside the grace period")
			}
			clk.Add(models.DefaultReversalGrace + time.Second)
			res := h.cycle()
			if res.Reversed != 1 || res.Confirmed != 0 {
				t.Fatalf("cycle after the grace period: %+v", res)
			}
			for i := 0; i < 3; i++ {
				h.chain.Advance(uint64(tc.required))
				h.cycle()
			}
			p := h.wantStatus(id, tc.want, "after the reversal")
			if p.AmountReceived != kept || p.ConfirmedAt != nil {
				t.Fatalf("received %d confirmed at %v, want %d and never", p.AmountReceived, p.ConfirmedAt, kept)
			}
			if !tc.partial && (p.TxID != "" || p.DetectedAt != nil) {
				t.Fatalf("tx %q detected %v after the only credit was reversed", p.TxID, p.DetectedAt)
			}
			if evs := h.events(id); contains(evs, models.EventPaymentConfirmed) {
				t.Fatalf("events %v: a rejected payment was announced confirmed", evs)
			}
			var reversed *models.Transfer
			for _, tr := range h.transfers(id) {
				if tr.TxID == tx {
					reversed = &tr
				}
			}
			if reversed == nil || reversed.ReversedAt == nil {
				t.Fatalf("the rejected credit was not kept as reversed: %+v", reversed)
			}
			as := h.activities(id)
			if len(as) != 1 || as[0].Kind != models.ActivityReversed || as[0].TxID != tx || as[0].Amount != amt-kept {
				t.Fatalf("activities %+v", as)
			}
		})
	}
}

// TestWatcherReversalTakenAmount reverses a shared-address session whose
// unique amount a newer pending session holds by then: it cannot wait for
// that amount again (one credit, two sessions), so it ends as expired with
// payment.expired, keeps its transaction id so no credit by amount matches
// it, and the cycle goes on. If the chain accepts the transaction again, it
// is still credited to it.
func TestWatcherReversalTakenAmount(t *testing.T) {
	h, clk := newSkewHarness(t, func(o *models.StoreOptions) { o.UniqueOffsetRange = 1 })
	first, amt, addr := h.open()
	h.chain.Advance(1)
	tx := h.chain.Pay(addr, amt, "")
	h.cycle()
	h.wantStatus(first, models.StatusConfirming, "after detection")
	second, amt2, _ := h.open()
	if amt2 != amt {
		t.Fatalf("the second session got %d, want the freed amount %d", amt2, amt)
	}
	h.control("reject", map[string]any{"transactionId": tx})
	h.cycle()
	clk.Add(models.DefaultReversalGrace + time.Second)
	h.cycle()
	h.chain.Advance(200)
	h.cycle()
	p := h.wantStatus(first, models.StatusExpired, "reversed while its amount is taken")
	if p.AmountReceived != 0 || p.TxID != tx || p.ConfirmedAt != nil {
		t.Fatalf("received %d tx %q confirmed %v", p.AmountReceived, p.TxID, p.ConfirmedAt)
	}
	if evs := h.events(first); len(evs) != 1 || evs[0] != models.EventPaymentExpired {
		t.Fatalf("events %v, want payment.expired only", evs)
	}
	h.wantStatus(second, models.StatusPending, "the newer session")
	if as := h.activities(first); len(as) != 1 || as[0].Kind != models.ActivityReversed {
		t.Fatalf("activities %v", kinds(as))
	}
	// The newer session is paid normally, by the same amount.
	h.chain.Pay(addr, amt, "")
	h.cycle()
	h.wantStatus(second, models.StatusConfirming, "the newer session paid")
	h.wantStatus(first, models.StatusExpired, "the reversed session")
	// The rejected transaction is accepted again: it still pays the first.
	h.control("accept", map[string]any{"transactionId": tx})
	h.cycle()
	h.chain.Advance(100)
	h.cycle()
	h.wantStatus(first, models.StatusConfirmed, "accepted again")
	h.wantStatus(second, models.StatusConfirmed, "the newer session")
	if as := h.activities(first); len(as) != 2 || as[1].Kind != models.ActivityRecredited {
		t.Fatalf("activities %v", kinds(as))
	}
}

// TestWatcherSpentCreditStillConfirms: the merchant's wallet spends the
// credited output while the payment confirms. The indexer says the
// transaction is accepted, so it keeps counting, on the blue-score scale
// from the accepting block stored on the transfer.
func TestWatcherSpentCreditStillConfirms(t *testing.T) {
	h := newHarness(t)
	id, amt, addr := h.open()
	h.chain.Advance(1)
	tx := h.chain.Pay(addr, amt, "")
	accepting := h.chain.BlueScore() - 1
	h.cycle()
	h.control("spend", map[string]any{"transactionId": tx, "index": 0})
	h.chain.ResetCalls()
	h.chain.Advance(97) // depth 98
	h.cycle()
	if n := h.chain.Calls()["GET /transactions/{transaction_id}"]; n != 1 {
		t.Fatalf("%d lookups of the spent credit, want 1", n)
	}
	p := h.wantStatus(id, models.StatusConfirming, "spent, depth 98")
	if p.Confirmations != 98 {
		t.Fatalf("%d confirmations, want 98 (blue score %d − accepting %d)", p.Confirmations, h.chain.BlueScore(), accepting)
	}
	ts := h.transfers(id)
	if len(ts) != 1 || ts[0].AcceptingBlueScore == nil || uint64(*ts[0].AcceptingBlueScore) != accepting || ts[0].MissingSince != nil {
		t.Fatalf("transfer %+v, want accepting blue score %d", ts, accepting)
	}
	h.chain.Advance(2)
	h.cycle()
	p = h.wantStatus(id, models.StatusConfirmed, "spent, depth 100")
	if p.Confirmations != 100 || !contains(h.events(id), models.EventPaymentConfirmed) {
		t.Fatalf("confirmations %d events %v", p.Confirmations, h.events(id))
	}
}

// TestWatcherIndexerLagDuringGrace: the credited output is spent while the
// indexer has not seen its transaction (404). Inside the grace period the
// payment neither confirms nor goes back; once the indexer catches up it
// confirms.
func TestWatcherIndexerLagDuringGrace(t *testing.T) {
	h, clk := newSkewHarness(t)
	id, amt, addr := h.open()
	h.control("indexer-lag", map[string]any{"on": true})
	h.chain.Advance(1)
	tx := h.chain.Pay(addr, amt, "")
	h.cycle()
	h.wantStatus(id, models.StatusConfirming, "after detection")
	h.control("spend", map[string]any{"transactionId": tx, "index": 0})
	h.chain.Advance(300)
	for _, step := range []time.Duration{0, 20 * time.Second, 30 * time.Second} {
		clk.Add(step)
		res := h.cycle()
		if res.Confirmed != 0 || res.Reversed != 0 {
			t.Fatalf("inside the grace period: %+v", res)
		}
		p := h.wantStatus(id, models.StatusConfirming, "unverified, inside the grace period")
		if p.AmountReceived != amt {
			t.Fatalf("received %d", p.AmountReceived)
		}
	}
	if ts := h.transfers(id); ts[0].MissingSince == nil || ts[0].ReversedAt != nil {
		t.Fatalf("transfer %+v: want missing, not reversed", ts[0])
	}
	h.control("indexer-lag", map[string]any{"on": false})
	h.cycle()
	h.wantStatus(id, models.StatusConfirmed, "after the indexer caught up")
	if as := h.activities(id); len(as) != 0 {
		t.Fatalf("activities %v", kinds(as))
	}
}

// TestWatcherReacceptedCreditCountsOnce: a reversed credit that the chain
// accepts again is credited again exactly once, whether its output comes
// back in the UTXO answer or the indexer says accepted (output spent).
func TestWatcherReacceptedCreditCountsOnce(t *testing.T) {
	for _, spent := range []bool{false, true} {
		name := "utxo back"
		if spent {
			name = "accepted and spent"
		}
		t.Run(name, func(t *testing.T) {
			h, clk := newSkewHarness(t)
			id, amt, addr := h.open()
			h.chain.Advance(1)
			tx := h.chain.Pay(addr, amt, "")
			h.cycle()
			h.control("reject", map[string]any{"transactionId": tx})
			h.cycle()
			clk.Add(models.DefaultReversalGrace + time.Second)
			h.cycle()
			h.wantStatus(id, models.StatusPending, "after the reversal")

			h.control("accept", map[string]any{"transactionId": tx})
			if spent {
				h.control("spend", map[string]any{"transactionId": tx, "index": 0})
			}
			recredited := 0
			for i := 0; i < 4; i++ {
				recredited += h.cycle().Recredited
			}
			p := h.wantStatus(id, models.StatusConfirming, "accepted again")
			if recredited != 1 || p.AmountReceived != amt || p.TxID != tx {
				t.Fatalf("recredited %d times, received %d tx %q", recredited, p.AmountReceived, p.TxID)
			}
			if got := kinds(h.activities(id)); len(got) != 2 || got[0] != models.ActivityReversed || got[1] != models.ActivityRecredited {
				t.Fatalf("activities %v", got)
			}
			if ts := h.transfers(id); len(ts) != 1 || ts[0].ReversedAt != nil {
				t.Fatalf("transfers %+v", ts)
			}
			h.chain.Advance(100)
			for i := 0; i < 3; i++ {
				h.cycle()
			}
			p = h.wantStatus(id, models.StatusConfirmed, "accepted again, deep enough")
			if p.AmountReceived != amt {
				t.Fatalf("received %d, want %d", p.AmountReceived, amt)
			}
			n := 0
			for _, e := range h.events(id) {
				if e == models.EventPaymentConfirmed {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d payment.confirmed events", n)
			}
		})
	}
}

// TestWatcherReconciledCreditRejected: a credit found through history (its
// output already spent) that the chain then rejects is reversed too.
func TestWatcherReconciledCreditRejected(t *testing.T) {
	h, clk := newSkewHarness(t)
	h.watcher.ReconcileEvery = 1
	id, amt, addr := h.open()
	h.chain.Advance(1)
	tx := h.chain.Pay(addr, amt, "")
	h.chain.SpendAll(addr)
	h.cycle()
	h.wantStatus(id, models.StatusConfirming, "found through history")
	h.control("reject", map[string]any{"transactionId": tx})
	h.chain.Advance(150)
	h.cycle()
	h.wantStatus(id, models.StatusConfirming, "rejected, inside the grace period")
	clk.Add(models.DefaultReversalGrace + time.Second)
	for i := 0; i < 3; i++ {
		h.chain.Advance(100)
		h.cycle()
	}
	p := h.wantStatus(id, models.StatusPending, "after the reversal")
	if p.AmountReceived != 0 || contains(h.events(id), models.EventPaymentConfirmed) {
		t.Fatalf("received %d events %v", p.AmountReceived, h.events(id))
	}
	if as := h.activities(id); len(as) != 1 || as[0].Kind != models.ActivityReversed {
		t.Fatalf("activities %v", kinds(as))
	}
}

// TestWatcherVerifyLookupsBounded: spent credits are looked up at most
// VerifyPerCycle per cycle, in rotation, so every payment still confirms.
func TestWatcherVerifyLookupsBounded(t *testing.T) {
	h := newHarness(t)
	h.watcher.VerifyPerCycle = 2
	var ids []string
	for i := 0; i < 5; i++ {
		id, amt, addr := h.open()
		h.chain.Advance(1)
		h.chain.Pay(addr, amt, "")
		ids = append(ids, id)
	}
	h.cycle()
	h.cycle() // sender details fetched
	h.chain.SpendAll(webtest.AddrA)
	h.chain.Advance(150)
	// A payment confirms only in a cycle that verified its credit.
	for i, want := range []int{2, 2, 1} {
		h.chain.ResetCalls()
		got := h.cycle().Confirmed
		if n := h.chain.Calls()["GET /transactions/{transaction_id}"]; n > 2 || got != want {
			t.Fatalf("cycle %d: %d lookups (at most 2) and %d confirmed, want %d", i, n, got, want)
		}
	}
	for _, id := range ids {
		h.wantStatus(id, models.StatusConfirmed, "every payment")
	}
}

// TestWatcherCreditsPaymentAtFrozenScore: the DAG stands still while the
// session opens and the payment lands, so the payment's block has exactly
// the virtual DAA score observed before the session: it is credited.
func TestWatcherCreditsPaymentAtFrozenScore(t *testing.T) {
	h := newHarness(t)
	frozen := h.control("freeze", map[string]any{"on": true})["virtualDaaScore"].(float64)
	h.cycle()
	id, amt, addr := h.open()
	if p := h.payment(id); p.StartDaaScore != int64(frozen) {
		t.Fatalf("start score %d, want the observed %v", p.StartDaaScore, frozen)
	}
	paid := h.control("pay", map[string]any{"address": addr, "sompi": amt})
	if paid["blockDaaScore"].(float64) != frozen || paid["virtualDaaScore"].(float64) != frozen {
		t.Fatalf("pay at %v: the DAG moved (%v)", frozen, paid)
	}
	h.cycle()
	h.wantStatus(id, models.StatusConfirming, "paid in the block at the start score")
	h.control("freeze", map[string]any{"on": false})
	h.chain.Advance(100)
	h.cycle()
	h.wantStatus(id, models.StatusConfirmed, "100 blocks later")
}

// TestWatcherNeverCreditsCoinbase: a coinbase output of exactly the
// expected amount pays nothing, seen in the UTXO set or in history.
func TestWatcherNeverCreditsCoinbase(t *testing.T) {
	for _, history := range []bool{false, true} {
		name := "utxo"
		if history {
			name = "history"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.watcher.ReconcileEvery = 1
			id, amt, addr := h.open()
			h.chain.Advance(1)
			h.control("pay", map[string]any{"address": addr, "sompi": amt, "coinbase": true})
			if history {
				h.chain.SpendAll(addr)
			}
			for i := 0; i < 3; i++ {
				h.cycle()
			}
			p := h.wantStatus(id, models.StatusPending, "after a coinbase output")
			if p.AmountReceived != 0 || len(h.transfers(id)) != 0 {
				t.Fatalf("received %d transfers %d", p.AmountReceived, len(h.transfers(id)))
			}
			un, err := h.env.Store.UnmatchedTransfers(h.ctx, h.m.ID, 10)
			if err != nil || len(un) != 0 {
				t.Fatalf("coinbase listed as the merchant's unmatched credit: %v %v", un, err)
			}
			// A customer payment still works.
			h.chain.Pay(addr, amt, "")
			h.cycle()
			h.wantStatus(id, models.StatusConfirming, "after the customer's payment")
		})
	}
}
