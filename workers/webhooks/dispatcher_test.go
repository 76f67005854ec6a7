package webhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/workers/webhooks"
)

func TestRetriesUntilTheReceiverRecovers(t *testing.T) {
	schedule := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour}
	cases := []struct {
		name  string
		fails int // the receiver fails this many times, then answers 2xx
	}{
		{"first try", 0},
		{"one failure", 1},
		{"three failures", 3},
		{"four failures (last retry)", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			long := strings.Repeat("upstream exploded ", 200) // 3.6 KB
			rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, n int) {
				if n < tc.fails {
					w.WriteHeader([]int{500, 502, 404, 429}[n%4])
					_, _ = w.Write([]byte(long))
					return
				}
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte(`{"ok":true}`))
			})
			ep, _ := e.endpoint(rc.URL)
			e.confirm(e.payment("Ann", `{"n":1}`))
			d := e.dispatcher(func(d *webhooks.Dispatcher) { d.Schedule = schedule })

			for attempt := 1; ; attempt++ {
				if n := e.deliverDue(d); n != 1 {
					t.Fatalf("attempt %d: sent %d deliveries, want 1", attempt, n)
				}
				rec := e.deliveries(ep)[0]
				if rec.Status == models.DeliveryDelivered {
					break
				}
				if attempt > tc.fails {
					t.Fatalf("still %s after attempt %d", rec.Status, attempt)
				}
				wait := schedule[attempt-1]
				if !rec.NextAttemptAt.Equal(e.clk.Now().Add(wait)) {
					t.Fatalf("attempt %d: next at %v, want now+%v", attempt, rec.NextAttemptAt, wait)
				}
				// Not due a moment before its time, due at it.
				e.clk.Add(wait - time.Second)
				if n := e.deliverDue(d); n != 0 {
					t.Fatalf("attempt %d: retried %v early", attempt, time.Second)
				}
				e.clk.Add(time.Second)
			}

			reqs := rc.requests()
			if len(reqs) != tc.fails+1 {
				t.Fatalf("receiver got %d requests, want %d", len(reqs), tc.fails+1)
			}
			for _, r := range reqs[1:] {
				if !bytes.Equal(r.Body, reqs[0].Body) || r.Header.Get("X-KasPay-Signature") != reqs[0].Header.Get("X-KasPay-Signature") ||
					r.Header.Get("X-KasPay-Delivery") != reqs[0].Header.Get("X-KasPay-Delivery") {
					t.Fatal("a retry sent different bytes, signature or delivery id")
				}
			}
			rec := e.deliveries(ep)[0]
			if rec.Attempts != tc.fails+1 || len(rec.AttemptLog) != tc.fails+1 || rec.DeliveredAt == nil || rec.LastError != "" || *rec.LastStatusCode != 202 {
				t.Fatalf("delivered record: %+v", rec.WebhookDelivery)
			}
			for i, a := range rec.AttemptLog {
				want := 202
				if i < tc.fails {
					want = []int{500, 502, 404, 429}[i%4]
				}
				if a.StatusCode == nil || *a.StatusCode != want || a.LatencyMS < 0 || len(a.ResponseSnippet) > 1024 {
					t.Fatalf("attempt %d: %+v", i+1, a)
				}
				if i < tc.fails && (len(a.ResponseSnippet) != 1024 || a.Error != fmt.Sprintf("HTTP %d", want)) {
					t.Fatalf("failed attempt %d: snippet %d bytes, error %q", i+1, len(a.ResponseSnippet), a.Error)
				}
				if i == tc.fails && (a.ResponseSnippet != `{"ok":true}` || a.Error != "") {
					t.Fatalf("successful attempt: %+v", a)
				}
			}
		})
	}
}

func TestFailsAfterTheScheduleThenRedelivers(t *testing.T) {
	e := newEnv(t)
	var healthy atomic.Bool
	rc := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) {
		if healthy.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	ep, _ := e.endpoint(rc.URL)
	e.confirm(e.payment("Ann", `{}`))
	d := e.dispatcher(func(d *webhooks.Dispatcher) { d.Schedule = []time.Duration{time.Minute, time.Hour} })
	for i, wait := range []time.Duration{time.Minute, time.Hour, 0} {
		if n := e.deliverDue(d); n != 1 {
			t.Fatalf("attempt %d: sent %d", i+1, n)
		}
		e.clk.Add(wait)
	}
	e.clk.Add(30 * 24 * time.Hour)
	if n := e.deliverDue(d); n != 0 {
		t.Fatal("a failed delivery was retried")
	}
	rec := e.deliveries(ep)[0]
	if rec.Status != models.DeliveryFailed || rec.Attempts != 3 || len(rec.AttemptLog) != 3 || *rec.LastStatusCode != 503 {
		t.Fatalf("after the schedule: %+v", rec.WebhookDelivery)
	}
	if !strings.HasPrefix(rec.AttemptLog[2].ResponseSnippet, "down for maintenance") {
		t.Fatalf("snippet: %q", rec.AttemptLog[2].ResponseSnippet)
	}

	// The merchant fixes the server and redelivers from the delivery log.
	healthy.Store(true)
	again, err := e.s.RedeliverWebhook(e.ctx, e.m.ID, ep.ID, rec.ID)
	if err != nil || again.Status != models.DeliveryPending || !again.NextAttemptAt.Equal(e.clk.Now()) {
		t.Fatalf("redeliver: %+v %v", again, err)
	}
	if n := e.deliverDue(d); n != 1 {
		t.Fatalf("redelivery sent %d", n)
	}
	rec = e.deliveries(ep)[0]
	if rec.Status != models.DeliveryDelivered || rec.Attempts != 4 || len(rec.AttemptLog) != 4 {
		t.Fatalf("after redelivery: %+v", rec.WebhookDelivery)
	}
	reqs := rc.requests()
	if !bytes.Equal(reqs[3].Body, reqs[0].Body) || reqs[3].Header.Get("X-KasPay-Signature") != reqs[0].Header.Get("X-KasPay-Signature") {
		t.Fatal("redelivery body or signature differs from the first attempt")
	}
	// A delivered delivery can be sent again on request too.
	if _, err := e.s.RedeliverWebhook(e.ctx, e.m.ID, ep.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.deliverDue(d); n != 1 || len(rc.requests()) != 5 {
		t.Fatalf("second redelivery: sent %d", n)
	}
}

func TestTestEventGoesOnlyToTheTestedEndpoint(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, nil)
	tested, secret := e.endpoint(rc.URL+"/tested", models.EventPaymentExpired)
	e.endpoint(rc.URL+"/other", "*")
	rec, err := e.s.SendTestWebhook(e.ctx, e.m.ID, tested.ID)
	if err != nil || rec.EventType != models.EventWebhookTest || rec.Status != models.DeliveryPending {
		t.Fatalf("queue test: %+v %v", rec, err)
	}
	if n := e.deliverDue(e.dispatcher()); n != 1 {
		t.Fatalf("sent %d deliveries, want 1", n)
	}
	r := rc.requests()[0]
	if r.Header.Get("X-KasPay-Event") != "webhook.test" || !webhooks.Verify(secret, r.Body, r.Header.Get("X-KasPay-Signature")) {
		t.Fatalf("test delivery headers: %v", r.Header)
	}
	if !bytes.HasPrefix(r.Body, []byte(`{"event":"webhook.test","payment":{"id":"00000000-0000-0000-0000-000000000000","status":"confirmed"`)) {
		t.Fatalf("test body: %s", r.Body)
	}
	if got := e.deliveries(tested)[0]; got.Status != models.DeliveryDelivered || got.EventID != rec.EventID {
		t.Fatalf("test delivery: %+v", got.WebhookDelivery)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	e := newEnv(t)
	target := newReceiver(t, nil)
	for _, code := range []int{301, 302, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
				http.Redirect(w, r, target.URL+"/stolen", code)
			})
			ep, _ := e.endpoint(rc.URL)
			e.confirm(e.payment("Ann", `{}`))
			if n := e.deliverDue(e.dispatcher()); n != 1 {
				t.Fatalf("sent %d", n)
			}
			rec := e.deliveries(ep)[0]
			a := rec.AttemptLog[0]
			if rec.Status != models.DeliveryPending || a.StatusCode == nil || *a.StatusCode != code || !strings.Contains(a.Error, "redirects are not followed") {
				t.Fatalf("redirect attempt: %+v / %+v", rec.WebhookDelivery, a)
			}
			if len(target.requests()) != 0 {
				t.Fatal("the redirect was followed")
			}
			if err := e.s.DeleteWebhook(e.ctx, e.m.ID, ep.ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTimeoutIsRecordedAsAFailedAttempt(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ep, _ := e.endpoint(rc.URL)
	e.confirm(e.payment("Ann", `{}`))
	d := e.dispatcher(func(d *webhooks.Dispatcher) { d.Timeout = 200 * time.Millisecond })
	if n := e.deliverDue(d); n != 1 {
		t.Fatalf("sent %d", n)
	}
	rec := e.deliveries(ep)[0]
	a := rec.AttemptLog[0]
	if rec.Status != models.DeliveryPending || a.StatusCode != nil || !strings.Contains(a.Error, "timeout") || a.LatencyMS < 200 {
		t.Fatalf("timed-out attempt: %+v", a)
	}
}

func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseSlow := func() { releaseOnce.Do(func() { close(release) }) }
	var slowInFlight, slowMax atomic.Int32
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		n := slowInFlight.Add(1)
		defer slowInFlight.Add(-1)
		for {
			m := slowMax.Load()
			if n <= m || slowMax.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	failing := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int) { w.WriteHeader(http.StatusInternalServerError) })
	fast := newReceiver(t, nil)
	slowEp, _ := e.endpoint(slow.URL)
	e.endpoint(failing.URL)
	fastEp, _ := e.endpoint(fast.URL)
	const payments = 5
	for range payments {
		e.confirm(e.payment("Ann", `{}`))
	}
	d := e.dispatcher(func(d *webhooks.Dispatcher) { d.Workers = 4; d.PerEndpoint = 2; d.Timeout = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { releaseSlow(); cancel() }) // on failure too: no send is left hanging

	// Every fast delivery arrives while the slow endpoint holds its
	// requests open, and the slow one never had more than its share.
	eventually(t, "all fast deliveries", func() bool { return len(fast.requests()) == payments })
	eventually(t, "fast deliveries recorded", func() bool {
		for _, r := range e.deliveries(fastEp) {
			if r.Status != models.DeliveryDelivered {
				return false
			}
		}
		return true
	})
	eventually(t, "the slow endpoint's share of requests open", func() bool { return slowInFlight.Load() == 2 })
	if len(fast.requests()) != payments {
		t.Fatal("extra fast requests")
	}
	eventually(t, "a first attempt at every failing delivery", func() bool { return len(failing.requests()) == payments })
	releaseSlow()
	eventually(t, "slow deliveries", func() bool {
		for _, r := range e.deliveries(slowEp) {
			if r.Status != models.DeliveryDelivered {
				return false
			}
		}
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if slowMax.Load() > 2 {
		t.Fatalf("slow endpoint had %d concurrent requests, cap is 2", slowMax.Load())
	}
}

func TestGracefulShutdownLetsInFlightSendsFinish(t *testing.T) {
	e := newEnv(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		once.Do(func() { close(arrived) })
		<-release
		w.WriteHeader(http.StatusOK)
	})
	ep, _ := e.endpoint(rc.URL)
	e.confirm(e.payment("Ann", `{}`))
	d := e.dispatcher(func(d *webhooks.Dispatcher) { d.Grace = time.Minute })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-arrived
	cancel() // shutdown starts while the receiver holds the request
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) before its in-flight send finished", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rec := e.deliveries(ep)[0]; rec.Status != models.DeliveryDelivered || len(rc.requests()) != 1 {
		t.Fatalf("after graceful shutdown: %+v, %d requests", rec.WebhookDelivery, len(rc.requests()))
	}
}

// TestCancelledDispatcherLosesNothing stops a dispatcher (no grace) while
// the receiver holds its request, before the result can be recorded: the
// delivery is released unrecorded, and another dispatcher sends it.
func TestCancelledDispatcherLosesNothing(t *testing.T) {
	e := newEnv(t)
	arrived := make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 0 {
			once.Do(func() { close(arrived) })
			<-r.Context().Done() // holds until the dispatcher hangs up
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep, _ := e.endpoint(rc.URL)
	e.confirm(e.payment("Ann", `{}`))
	a := e.dispatcher(func(d *webhooks.Dispatcher) { d.Grace = time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-arrived
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec := e.deliveries(ep)[0]
	if rec.Status != models.DeliveryPending || rec.Attempts != 0 || rec.LockedUntil != nil {
		t.Fatalf("after the cut-off send: %+v", rec.WebhookDelivery)
	}
	b := e.dispatcher()
	if n := e.deliverDue(b); n != 1 {
		t.Fatalf("second dispatcher sent %d", n)
	}
	reqs := rc.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("X-KasPay-Delivery") != reqs[1].Header.Get("X-KasPay-Delivery") || !bytes.Equal(reqs[0].Body, reqs[1].Body) {
		t.Fatalf("receiver saw %d requests", len(reqs))
	}
	if rec := e.deliveries(ep)[0]; rec.Status != models.DeliveryDelivered || rec.Attempts != 1 {
		t.Fatalf("final: %+v", rec.WebhookDelivery)
	}
}

// TestTwoDispatchersDeliverEachOnce runs three dispatchers, each with its own
// connection pool, on one database (Postgres: FOR UPDATE SKIP LOCKED;
// SQLite: the exclusive write transaction) and counts what arrives.
//
// The receiver holds every request until requests from two different
// dispatchers have arrived. A dispatcher claims no more than it has free
// workers, so while the first one's sends are held the rest of the work can
// only go out through another dispatcher: if claims were not shared, the
// gate would never open and the test fails. Without the gate, which
// dispatcher claims what is the scheduler's choice (on SQLite under -race
// one of them sometimes took all 45 alone).
func TestTwoDispatchersDeliverEachOnce(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	_, stores := storesOnOneDatabase(t, 3, clk)
	e := setupEnv(t, stores[0], clk)
	var mu sync.Mutex
	perDelivery := map[string]int{}
	perEventEndpoint := map[string]int{}
	perDispatcher := map[string]int{}
	shared := make(chan struct{})
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		mu.Lock()
		perDelivery[r.Header.Get("X-KasPay-Delivery")]++
		perEventEndpoint[r.Header.Get("X-KasPay-Event-Id")+" "+r.URL.Path]++
		perDispatcher[r.Header.Get(dispatcherHeader)]++
		if len(perDispatcher) == 2 && perDispatcher[r.Header.Get(dispatcherHeader)] == 1 {
			close(shared) // the second dispatcher's first request
		}
		mu.Unlock()
		select {
		case <-shared:
		case <-time.After(5 * time.Second): // let the test end and report
		}
		w.WriteHeader(http.StatusOK)
	})
	const endpoints, payments = 3, 15
	for i := range endpoints {
		e.endpoint(fmt.Sprintf("%s/ep%d", rc.URL, i))
	}
	for range payments {
		e.confirm(e.payment("Ann", `{}`))
	}
	want := endpoints * payments
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() }) // before the receiver closes, also on failure
	for i, s := range stores {
		d := &webhooks.Dispatcher{Store: s, Policy: allowPrivate(), Client: taggedClient(i), Interval: 5 * time.Millisecond,
			Workers: 3, PerEndpoint: 2, Log: e.dispatcher().Log.With("dispatcher", i)}
		wg.Add(1)
		go func() { defer wg.Done(); _ = d.Run(ctx) }()
	}
	eventually(t, "every delivery recorded", func() bool {
		var n int64
		e.s.DB().R(e.ctx).Model(&models.WebhookDelivery{}).Where("status = ?", models.DeliveryDelivered).Count(&n)
		return n == int64(want)
	})
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(perDelivery) != want || len(perEventEndpoint) != want {
		t.Fatalf("receiver saw %d deliveries / %d (event, endpoint) pairs, want %d", len(perDelivery), len(perEventEndpoint), want)
	}
	for id, n := range perDelivery {
		if n != 1 {
			t.Errorf("delivery %s arrived %d times", id, n)
		}
	}
	if len(perDispatcher) < 2 {
		t.Errorf("requests per dispatcher %v: the work was not shared", perDispatcher)
	}
}

// dispatcherHeader names the test-only header taggedClient adds.
const dispatcherHeader = "X-Test-Dispatcher"

// taggedClient is the dispatcher's own guarded client with one header added,
// so the receiver can tell which dispatcher sent a request.
func taggedClient(i int) *http.Client {
	c := webhooks.NewClient(allowPrivate())
	c.Transport = tagTransport{next: c.Transport, tag: strconv.Itoa(i)}
	return c
}

type tagTransport struct {
	next http.RoundTripper
	tag  string
}

func (t tagTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(dispatcherHeader, t.tag)
	return t.next.RoundTrip(r)
}
