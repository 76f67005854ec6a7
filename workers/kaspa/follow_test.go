package kaspa_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
)

const (
	utxoRoute  = "POST /addresses/utxos"
	chainRoute = "GET /virtual-chain"
)

// followHarness is a harness whose watcher follows the chain, with a server
// capped at 1,000 bytes a request (13 addresses) and n sessions on their
// own addresses: more than followMinBodies request bodies, so the follower
// is used.
func followHarness(t *testing.T, n int, storeOpts ...func(*models.StoreOptions)) (h *harness, addrs []string, amts []int64) {
	t.Helper()
	h = newHarness(t, storeOpts...)
	h.client.MaxRequestBytes = 1_000
	h.watcher.Follow = true
	// Deep enough that a paid session outlives the follower's re-reads of
	// its transaction's window: then only its hotness keeps it polled.
	conf := 1_000
	if _, err := h.env.Store.UpdateSettings(h.ctx, h.m.ID, models.SettingsInput{RequiredConfirmations: &conf}); err != nil {
		t.Fatal(err)
	}
	as, ss := kpubSessions(t, h, n)
	for _, s := range ss {
		amt, err := double.ParseKAS(s)
		if err != nil {
			t.Fatal(err)
		}
		amts = append(amts, amt)
	}
	return h, as, amts
}

// cycleCalls runs one cycle and returns the chain calls it made.
func (h *harness) cycleCalls() (models.KaspaApplyResult, map[string]int) {
	h.t.Helper()
	h.chain.ResetCalls()
	res := h.cycle()
	return res, h.chain.Calls()
}

// TestFollowerPollsWhatTheChainPaid: once the watched addresses take more
// than one request, a following watcher asks for the UTXOs of one body a
// cycle, whatever the number of sessions; the addresses the chain paid are
// in it the cycle after the payment, and their payments confirm.
func TestFollowerPollsWhatTheChainPaid(t *testing.T) {
	h, addrs, amts := followHarness(t, 60)
	bodies := len(h.client.UTXOBatches(addrs))
	if bodies != 5 {
		t.Fatalf("60 addresses in %d bodies, want 5", bodies)
	}
	// The first cycle starts following: it polls every address.
	if _, calls := h.cycleCalls(); calls[utxoRoute] != bodies || calls[chainRoute] != 0 {
		t.Fatalf("first cycle: %v, want %d UTXO requests and no chain read", calls, bodies)
	}
	for _, more := range []int{0, 60} {
		if more > 0 {
			kpubSessions(t, h, more)
		}
		_, calls := h.cycleCalls()
		if calls[utxoRoute] != 1 || calls[chainRoute] < 1 || calls[chainRoute] > 3 {
			t.Fatalf("%d sessions: %v, want 1 UTXO request and 1–3 chain reads", 60+more, calls)
		}
	}
	// Ten payments, spread over the sorted addresses: the sweep's one body
	// holds at most 13 of 120, so finding all ten takes the chain's word.
	h.chain.Advance(1)
	paid := map[string]bool{}
	for i := 0; i < len(addrs); i += 6 {
		h.chain.Pay(addrs[i], amts[i], "")
		paid[addrs[i]] = true
	}
	res, calls := h.cycleCalls()
	if res.NewTransfers != len(paid) || res.Matched != len(paid) {
		t.Fatalf("the cycle after %d payments: %+v (calls %v)", len(paid), res, calls)
	}
	// Ten paid addresses and the sweep's half body (give or take the
	// spread of its hash range) take two bodies at most; a full poll, ten.
	if calls[utxoRoute] > 2 {
		t.Fatalf("%v: the paid addresses and the sweep take at most two bodies", calls)
	}
	// Paid, they are polled every cycle until confirmed, long after the
	// chain follower stopped naming them: 1,000 blocks in steps the
	// follower keeps up with.
	confirmed := 0
	for range 4 {
		h.chain.Advance(250)
		res, calls = h.cycleCalls()
		// Ten paid addresses and the sweep's half body (6 of 13 here):
		// one or two requests, not the five of a full poll.
		if calls[utxoRoute] > 2 || calls[chainRoute] == 0 {
			t.Fatalf("%v: still following, at most two UTXO requests", calls)
		}
		confirmed += res.Confirmed
	}
	if confirmed != len(paid) {
		t.Fatalf("1,000 blocks later: %d confirmed, want %d", confirmed, len(paid))
	}
}

// TestFollowerWaitsForFourBodies: up to four request bodies of
// watched addresses, a following cycle's calls (the sink's blue score, two
// or three windows, a body) would be no fewer than a full poll's, so the
// watcher polls every address and never reads the chain.
func TestFollowerWaitsForFourBodies(t *testing.T) {
	h, addrs, _ := followHarness(t, 40)
	bodies := len(h.client.UTXOBatches(addrs))
	if bodies < 3 || bodies > 4 {
		t.Fatalf("40 addresses in %d bodies, want 3 or 4", bodies)
	}
	for i := range 3 {
		if _, calls := h.cycleCalls(); calls[utxoRoute] != bodies || calls[chainRoute] != 0 {
			t.Fatalf("cycle %d: %v, want %d UTXO requests and no chain read", i+1, calls, bodies)
		}
	}
}

// TestFollowerSweepFindsWhatTheIndexerMissed: a payment the chain follower
// does not report (its indexer stopped) is still found by the sweep, which
// polls every watched address within about twice as many cycles as they
// take request bodies.
func TestFollowerSweepFindsWhatTheIndexerMissed(t *testing.T) {
	h, addrs, amts := followHarness(t, 60)
	h.cycle() // starts following
	h.cycle()
	h.chain.SetIndexerLag(true)
	h.chain.Advance(1)
	last := len(addrs) - 1
	h.chain.Pay(addrs[last], amts[last], "")
	bodies := len(h.client.UTXOBatches(addrs))
	for i := 1; ; i++ {
		res, calls := h.cycleCalls()
		if calls[utxoRoute] != 1 {
			t.Fatalf("cycle %d: %v, want one UTXO request", i, calls)
		}
		if res.Matched == 1 {
			break
		}
		if i > 2*bodies+2 { // half a body a cycle, spread by hash
			t.Fatalf("not found in %d cycles: the sweep missed an address", i)
		}
	}
}

// TestFollowerFallsBack: a server without GET /virtual-chain (an older
// kaspa-rest-server: 404) or one failing it makes the watcher poll every
// address, as without the follower; a refusal is not asked again for a
// while, a failure is retried the next cycle.
func TestFollowerFallsBack(t *testing.T) {
	h, addrs, amts := followHarness(t, 60)
	bodies := len(h.client.UTXOBatches(addrs))
	upstream, err := url.Parse(h.url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var refused atomic.Int32
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/virtual-chain" {
			refused.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"Not Found"}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(old.Close)

	h.cycle() // starts following
	if _, calls := h.cycleCalls(); calls[utxoRoute] != 1 {
		t.Fatalf("following: %v", calls)
	}
	// A failing read: this cycle polls every address and still sees a
	// payment to any of them; the next starts over.
	if err := h.chain.InjectFailure(double.Failure{Mode: double.Fail503, Count: 1, Route: chainRoute}); err != nil {
		t.Fatal(err)
	}
	h.chain.Advance(1)
	h.chain.Pay(addrs[0], amts[0], "")
	res, calls := h.cycleCalls()
	if calls[utxoRoute] != bodies || res.Matched != 1 {
		t.Fatalf("after a 503: %v %+v, want %d UTXO requests and the payment", calls, res, bodies)
	}
	if _, calls := h.cycleCalls(); calls[utxoRoute] != bodies || calls[chainRoute] != 0 {
		t.Fatalf("the cycle after a 503 starts over: %v", calls)
	}
	if _, calls := h.cycleCalls(); calls[utxoRoute] != 1 {
		t.Fatalf("following again: %v", calls)
	}
	// Refused: every address, and no more chain reads for a while.
	c := kaspa.NewClient(old.URL, &http.Client{Timeout: 2 * time.Second})
	c.MaxRequestBytes = h.client.MaxRequestBytes
	h.watcher.Client = c
	for i := range 5 {
		_, calls := h.cycleCalls()
		if calls[utxoRoute] != bodies {
			t.Fatalf("cycle %d after a 404: %v, want every address", i, calls)
		}
		if n := refused.Load(); n != 1 {
			t.Fatalf("cycle %d: GET /virtual-chain asked %d times, want once: a refusal waits", i, n)
		}
	}
}

// TestFollowerPollsSessionsNearTheirDeadline: within a minute of their
// deadline, pending sessions' addresses are polled directly every cycle, so
// the expirer, which trusts the last observation's time, never ends a
// session paid on time that a lagging indexer has not reported yet.
func TestFollowerPollsSessionsNearTheirDeadline(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func(o *models.StoreOptions) {
		o.Now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return now
		}
	}
	h, addrs, amts := followHarness(t, 60, clock)
	bodies := len(h.client.UTXOBatches(addrs))
	h.cycle() // starts following
	if _, calls := h.cycleCalls(); calls[utxoRoute] != 1 {
		t.Fatalf("30 minutes from the deadline: %v, want one UTXO request", calls)
	}
	mu.Lock()
	now = now.Add(29*time.Minute + 30*time.Second)
	mu.Unlock()
	h.chain.SetIndexerLag(true) // the follower hears of nothing new
	h.chain.Advance(1)
	last := len(addrs) - 1
	h.chain.Pay(addrs[last], amts[last], "")
	res, calls := h.cycleCalls()
	if calls[utxoRoute] != bodies || res.Matched != 1 {
		t.Fatalf("30 s from the deadline: %v %+v, want every address polled and the payment found", calls, res)
	}
}
