package kaspa_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"till/models"
	kaspaaddr "till/models/kaspa"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

// harness is a real Till (API over the full Fiber stack, real database) and
// a Kaspa REST double on loopback, with a watcher between them.
type harness struct {
	t       *testing.T
	ctx     context.Context
	env     *webtest.Env
	chain   *double.Chain
	client  *kaspa.Client
	watcher *kaspa.Watcher
	m       webtest.Merchant
	slug    string
	url     string // the double's base URL
}

func newHarness(t *testing.T, storeOpts ...func(*models.StoreOptions)) *harness {
	t.Helper()
	chain := double.New(double.Options{Clock: time.Now})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	env := webtest.NewWith(t, storeOpts)
	h := &harness{t: t, ctx: context.Background(), env: env, chain: chain, url: url}
	h.client = kaspa.NewClient(url, &http.Client{Timeout: 2 * time.Second})
	h.watcher = &kaspa.Watcher{Client: h.client, Store: env.Store, Interval: 20 * time.Millisecond}
	h.m = env.Register("watch@example.com", "Watch Shop", webtest.AddrA)
	r := env.Do("POST", "/api/links", map[string]any{"title": "Coffee", "amount": 10, "currency": "KAS"}, h.m.Bearer()...)
	if r.Status != 200 {
		t.Fatalf("link: %d %s", r.Status, r.Body)
	}
	h.slug = r.JSON(t)["slug"].(string)
	h.cycle() // the watcher has seen the chain
	return h
}

func (h *harness) cycle() models.KaspaApplyResult {
	h.t.Helper()
	res, err := h.watcher.Cycle(h.ctx)
	if err != nil {
		h.t.Fatalf("cycle: %v", err)
	}
	return res
}

// session opens a payment session through the public API.
func (h *harness) session() (id string, sompi int64) {
	h.t.Helper()
	r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": h.slug})
	if r.Status != 200 {
		h.t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	body := r.JSON(h.t)
	amt, err := double.ParseKAS(body["amountExpected"].(string))
	if err != nil {
		h.t.Fatal(err)
	}
	return body["id"].(string), amt
}

// status polls the public status endpoint, as a customer's browser does.
func (h *harness) status(id string) map[string]any {
	h.t.Helper()
	r := h.env.Do("GET", "/api/payments/"+id+"/status", nil)
	if r.Status != 200 {
		h.t.Fatalf("status: %d %s", r.Status, r.Body)
	}
	return r.JSON(h.t)
}

func TestWatcherDetectsAndConfirms(t *testing.T) {
	h := newHarness(t)
	id, amt := h.session()
	h.chain.Advance(1)
	tx := h.chain.Pay(webtest.AddrA, amt, "")
	res := h.cycle()
	if res.NewTransfers != 1 || res.Matched != 1 {
		t.Fatalf("cycle result %+v", res)
	}
	st := h.status(id)
	if st["stage"] != "confirming" || st["txId"] != tx {
		t.Fatalf("after detection: %v", st)
	}
	if st["senderAddress"] != h.chain.DefaultSender() {
		t.Fatalf("sender %v, want %s (filled from /transactions/{id})", st["senderAddress"], h.chain.DefaultSender())
	}
	h.chain.Advance(98)
	h.cycle()
	if st := h.status(id); st["stage"] != "confirming" {
		t.Fatalf("before depth 100: %v", st)
	}
	h.chain.Advance(1)
	h.cycle()
	st = h.status(id)
	if st["status"] != "confirmed" || st["confirmedAt"] == nil || st["confirmations"].(interface{ String() string }).String() != "100" {
		t.Fatalf("at depth 100: %v", st)
	}
	if got := st["amountReceived"].(interface{ String() string }).String(); got != kaspaaddr.FormatKAS(amt) {
		t.Fatalf("amountReceived %s, want the number %s", got, kaspaaddr.FormatKAS(amt))
	}
}

func TestWatcherIndexerLagDoesNotHoldConfirmation(t *testing.T) {
	h := newHarness(t)
	id, amt := h.session()
	h.chain.SetIndexerLag(true)
	h.chain.Advance(1)
	h.chain.Pay(webtest.AddrA, amt, "")
	h.chain.Advance(150)
	h.cycle()
	st := h.status(id)
	if st["status"] != "confirmed" || st["senderAddress"] != nil {
		t.Fatalf("with the indexer behind: %v", st)
	}
	h.chain.SetIndexerLag(false)
	h.cycle()
	if st := h.status(id); st["senderAddress"] != h.chain.DefaultSender() {
		t.Fatalf("sender after the indexer caught up: %v", st["senderAddress"])
	}
}

func TestWatcherOutage(t *testing.T) {
	for _, mode := range []double.FailMode{double.Fail503, double.Fail500, double.FailJunk, double.FailTruncated, double.FailTimeout} {
		t.Run(string(mode), func(t *testing.T) {
			h := newHarness(t)
			id, amt := h.session()
			h.chain.Advance(1)
			h.chain.Pay(webtest.AddrA, amt, "")
			h.chain.Fail(mode, 0)
			ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
			_, err := h.watcher.Cycle(ctx)
			cancel()
			if err == nil {
				t.Fatal("a failing chain API gave no error")
			}
			var he *kaspa.HTTPError
			switch mode {
			case double.Fail503:
				if !errors.As(err, &he) || he.Status != 503 {
					t.Fatalf("err %v", err)
				}
			case double.FailJunk, double.FailTruncated:
				if !errors.Is(err, kaspa.ErrBadResponse) {
					t.Fatalf("err %v", err)
				}
			}
			if st := h.status(id); st["stage"] != "awaiting_payment" {
				t.Fatalf("during the outage: %v", st)
			}
			h.chain.Clear()
			h.cycle()
			if st := h.status(id); st["stage"] != "confirming" {
				t.Fatalf("after recovery: %v", st)
			}
		})
	}
}

func TestWatcherFindsSpentCoin(t *testing.T) {
	h := newHarness(t)
	h.watcher.ReconcileEvery = 1
	id, amt := h.session()
	h.chain.Advance(1)
	tx := h.chain.Pay(webtest.AddrA, amt, "")
	// The merchant's wallet spends the coin before the watcher looks.
	if n := h.chain.SpendAll(webtest.AddrA); n == 0 {
		t.Fatal("nothing spent")
	}
	h.cycle()
	st := h.status(id)
	if st["stage"] != "confirming" || st["txId"] != tx {
		t.Fatalf("spent coin not found through history: %v", st)
	}
	h.chain.Advance(120)
	h.cycle()
	if st := h.status(id); st["status"] != "confirmed" {
		t.Fatalf("spent coin never confirmed: %v", st)
	}
}

// TestWatcherCallCount proves the chain is never called for customer polls
// and that one cycle's calls do not grow with the sessions on an address.
func TestWatcherCallCount(t *testing.T) {
	h := newHarness(t)
	ids := []string{}
	for i := 0; i < 5; i++ {
		id, _ := h.session()
		ids = append(ids, id)
	}
	h.cycle()
	h.chain.ResetCalls()
	for i := 0; i < 50; i++ {
		h.status(ids[i%len(ids)])
	}
	if calls := h.chain.Calls(); len(calls) != 0 {
		t.Fatalf("customer polls reached the chain: %v", calls)
	}
	h.cycle()
	few := h.chain.Calls()
	for i := 0; i < 200; i++ {
		h.session()
	}
	h.cycle() // sessions created: settle start scores
	h.chain.ResetCalls()
	h.cycle()
	many := h.chain.Calls()
	for _, route := range []string{"GET /info/blockdag", "POST /addresses/utxos"} {
		if few[route] != 1 || many[route] != 1 {
			t.Fatalf("%s: %d calls with 5 sessions, %d with 205; want 1 each (all: %v / %v)", route, few[route], many[route], few, many)
		}
	}
	total := 0
	for _, n := range many {
		total += n
	}
	if total != 2 {
		t.Fatalf("a quiet cycle with 205 sessions made %d calls: %v", total, many)
	}
}

// TestWatcherCallsPerAddressBatch: with a derived address per session, a
// cycle makes one UTXO request per body the server's cap allows
// (Client.UTXOBatches), not one per fixed count of addresses, and every
// address is asked about. A server capped at 1,000 bytes keeps the test
// small: 13 addresses a request.
func TestWatcherCallsPerAddressBatch(t *testing.T) {
	h := newHarness(t)
	h.client.MaxRequestBytes = 1_000
	addrs, amts := kpubSessions(t, h, 27)
	if n := len(h.client.UTXOBatches(addrs)); n != 3 {
		t.Fatalf("%d batches of 27 addresses under a 1,000-byte cap, want 3", n)
	}
	h.cycle() // sessions created: settle start scores
	h.chain.ResetCalls()
	h.cycle()
	if calls := h.chain.Calls(); calls["POST /addresses/utxos"] != 3 {
		t.Fatalf("27 open sessions on their own addresses: %v; want 3 UTXO requests", calls)
	}
	// Every address was in one of the requests: a payment to the last one
	// is seen.
	amt, err := double.ParseKAS(amts[len(amts)-1])
	if err != nil {
		t.Fatal(err)
	}
	h.chain.Advance(1)
	h.chain.Pay(addrs[len(addrs)-1], amt, "")
	if res := h.cycle(); res.NewTransfers != 1 || res.Matched != 1 {
		t.Fatalf("payment to the last address: %+v", res)
	}
}

// TestWatcherUTXOBatchesInFlight: a cycle's UTXO requests run
// concurrently (utxoBatchesInFlight), not one after another. The double
// holds each request until three are in flight at once; a watcher that
// sent them in turn would be let through one by one after the hold's
// timeout, and the peak would read 1.
func TestWatcherUTXOBatchesInFlight(t *testing.T) {
	h := newHarness(t)
	h.client.MaxRequestBytes = 1_000
	// 27 derived addresses: batches of 13, 13 and 1 under a 1,000-byte cap.
	addrs, amts := kpubSessions(t, h, 27)
	h.cycle() // sessions created: settle start scores
	// One payment in the first batch and one in the last: both are seen,
	// whichever request answers first.
	h.chain.Advance(1)
	for _, i := range []int{0, len(addrs) - 1} {
		amt, err := double.ParseKAS(amts[i])
		if err != nil {
			t.Fatal(err)
		}
		h.chain.Pay(addrs[i], amt, "")
	}
	h.chain.ResetCalls()
	const route = "POST /addresses/utxos"
	h.chain.HoldUntilInFlight(route, 3, 5*time.Second)
	res := h.cycle()
	if peak := h.chain.PeakInFlight()[route]; peak != 3 {
		t.Fatalf("at most %d UTXO requests in flight at once; want all 3 of the cycle's", peak)
	}
	if calls := h.chain.Calls()[route]; calls != 3 {
		t.Fatalf("%d UTXO requests, want 3", calls)
	}
	if res.NewTransfers != 2 || res.Matched != 2 {
		t.Fatalf("payments in the first and last batch: %+v", res)
	}
}

// kpubSessions sets the merchant's kpub (watchKpub) and opens n sessions,
// each on its own derived address; it returns their addresses and amounts.
func kpubSessions(t *testing.T, h *harness, n int) (addrs, amts []string) {
	t.Helper()
	r := h.env.Do("PATCH", "/api/settings", map[string]any{"kaspaKpub": watchKpub}, h.m.Bearer()...)
	if r.Status != 200 {
		t.Fatalf("kpub: %d %s", r.Status, r.Body)
	}
	for range n {
		s := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": h.slug}).JSON(t)
		addrs = append(addrs, s["kaspaAddress"].(string))
		amts = append(amts, s["amountExpected"].(string))
	}
	return addrs, amts
}

// watchKpub is the account kpub of research/kaspa.md §3.4 (mainnet).
const watchKpub = "kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"

// TestConfirmedWithoutPolling runs the watcher as the server does and pays
// on the double: the payment confirms with nobody polling.
func TestConfirmedWithoutPolling(t *testing.T) {
	h := newHarness(t)
	id, amt := h.session()
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.watcher.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher Run: %v", err)
		}
	}()
	h.chain.Advance(1)
	h.chain.Pay(webtest.AddrA, amt, "")
	stopAuto := h.chain.AutoAdvance(10 * time.Millisecond) // blocks keep coming
	defer stopAuto()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := h.env.Store.Payment(h.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == models.StatusConfirmed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not confirmed: %s with %d confirmations", p.Status, p.Confirmations)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatcherFullReadAfterWrite: the watched sessions' periodic full read
// (the only read that notices a deleted row) runs after a cycle's write,
// not before its chain query (workers.Rereads): the first cycle after the
// period still asks the chain about the deleted session's address, the
// next one no longer does.
func TestWatcherFullReadAfterWrite(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	h := newHarness(t, func(o *models.StoreOptions) {
		o.Now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
	})
	id, _ := h.session()
	h.cycle() // watched
	if err := h.env.Store.DB().W(h.ctx).Exec("DELETE FROM payments WHERE id = ?", id).Error; err != nil {
		t.Fatal(err)
	}
	const route = "POST /addresses/utxos"
	utxoCalls := func() int {
		h.chain.ResetCalls()
		h.cycle()
		return h.chain.Calls()[route]
	}
	if n := utxoCalls(); n != 1 {
		t.Fatalf("%d UTXO requests before the period, want 1 (changed rows only: the deletion is not seen)", n)
	}
	mu.Lock()
	now = now.Add(6 * time.Minute) // past the index's 5 minutes
	mu.Unlock()
	if n := utxoCalls(); n != 1 {
		t.Fatalf("%d UTXO requests in the cycle after the period, want 1: the full read came before the query", n)
	}
	if n := utxoCalls(); n != 0 {
		t.Fatalf("%d UTXO requests after the full read, want 0: the deleted session is still watched", n)
	}
}
