package webhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/models/netguard"
	"till/workers/webhooks"
)

const (
	addrA = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"
	addrB = "kaspa:qr35ennsep3hxfe7lnz5ee7j5jgmkjswsn35ennsep3hxfe7ln35cdv0dy335"
)

// fakeClock is the store's clock in these tests: retries and leases move
// with Add, never with real minutes.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a store on a fake clock, with one merchant, one link and a
// simulated Kaspa chain to confirm and expire payments through the domain.
type env struct {
	t    *testing.T
	ctx  context.Context
	s    *models.Store
	clk  *fakeClock
	daa  uint64
	tx   int
	m    *models.Merchant
	link *models.PaymentLink
	logs *syncBuffer
	// utxos are the outputs observed so far: the chain's UTXO set, sent
	// again every cycle as the watcher does.
	utxos []models.KaspaCredit
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return setupEnv(t, modeltest.Store(t, func(o *models.StoreOptions) { o.Now = clk.Now }), clk)
}

func setupEnv(t *testing.T, s *models.Store, clk *fakeClock) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), s: s, clk: clk, daa: 7_000_000, logs: &syncBuffer{}}
	e.observe()
	m, err := s.Register(e.ctx, models.RegisterInput{Email: "shop@example.com", Password: "securepassword", Name: "Shop", KaspaAddress: addrA})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	title, amount := "Premium <Plan> & \"more\"", "100"
	if e.link, err = s.CreateLink(e.ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount}); err != nil {
		t.Fatal(err)
	}
	return e
}

// storesOnOneDatabase opens n independent stores (own connection pools) on
// one fresh database, as n Till processes would.
func storesOnOneDatabase(t *testing.T, n int, clk *fakeClock) (string, []*models.Store) {
	t.Helper()
	url := modeltest.URL(t)
	sealer, err := models.NewSealer(models.DeriveKey(modeltest.TestSecret, "seal"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*models.Store
	for i := range n {
		db, err := models.Open(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if i == 0 {
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, models.NewStore(db, models.StoreOptions{Sealer: sealer, BcryptCost: 4, Now: clk.Now}))
	}
	return url, out
}

func (e *env) observe(credits ...models.KaspaCredit) {
	e.t.Helper()
	w, err := e.s.KaspaWatchList(e.ctx, e.daa)
	if err != nil {
		e.t.Fatal(err)
	}
	e.utxos = append(e.utxos, credits...)
	if _, err := e.s.ApplyKaspaObservation(e.ctx, models.KaspaObservation{Network: "kaspa-mainnet", VirtualDaaScore: e.daa, Credits: e.utxos, Watch: w}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) payment(name, metadata string) *models.Payment {
	e.t.Helper()
	p, err := e.s.CreatePayment(e.ctx, models.CreatePaymentInput{LinkSlug: e.link.Slug, CustomerName: name,
		CustomerEmail: "customer@example.com", Metadata: []byte(metadata)})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// confirm pays p in full and lets the chain reach the required depth: the
// domain emits payment.confirmed and enqueues its deliveries.
func (e *env) confirm(p *models.Payment) {
	e.t.Helper()
	e.daa++
	e.tx++
	e.observe(models.KaspaCredit{TxID: fmt.Sprintf("%064x", e.tx), Address: p.PayAddress, Amount: p.AmountExpected, BlockDaaScore: e.daa})
	e.daa += uint64(p.RequiredConfirmations) + 1
	e.observe()
	if got, err := e.s.Payment(e.ctx, p.ID); err != nil || got.Status != models.StatusConfirmed {
		e.t.Fatalf("payment not confirmed: %v", err)
	}
}

// expireAll expires every open session (payment.expired).
func (e *env) expireAll() {
	e.t.Helper()
	e.clk.Add(2 * time.Hour)
	e.observe()
	if _, err := e.s.ExpireDue(e.ctx, 1000); err != nil {
		e.t.Fatal(err)
	}
}

// allowPrivate is the policy of these tests: receivers are httptest
// servers on 127.0.0.1.
func allowPrivate() *netguard.Policy { return &netguard.Policy{AllowPrivate: true} }

func (e *env) endpoint(url string, events ...string) (*models.WebhookEndpoint, string) {
	e.t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	ep, secret, err := e.s.CreateWebhook(e.ctx, e.m.ID, models.WebhookInput{URL: &url, Events: &events}, allowPrivate())
	if err != nil {
		e.t.Fatal(err)
	}
	return ep, secret
}

// dispatcher builds a dispatcher with a short test schedule and a log
// captured in e.logs.
func (e *env) dispatcher(opts ...func(*webhooks.Dispatcher)) *webhooks.Dispatcher {
	d := &webhooks.Dispatcher{
		Store: e.s, Policy: allowPrivate(), Schedule: []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute},
		Interval: 5 * time.Millisecond, Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range opts {
		f(d)
	}
	return d
}

func (e *env) deliverDue(d *webhooks.Dispatcher) int {
	e.t.Helper()
	n, err := d.DeliverDue(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) deliveries(ep *models.WebhookEndpoint) []models.DeliveryRecord {
	e.t.Helper()
	ds, err := e.s.WebhookDeliveries(e.ctx, e.m.ID, ep.ID, models.DeliveryFilter{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// captured is one request a receiver got.
type captured struct {
	Body   []byte
	Header http.Header
}

// receiver is a real HTTP server recording every request; respond decides
// each answer (n counts requests from 0).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []captured
	respond func(w http.ResponseWriter, r *http.Request, n int)
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		n := len(rc.reqs)
		rc.reqs = append(rc.reqs, captured{Body: body, Header: r.Header.Clone()})
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r, n)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]captured(nil), rc.reqs...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
