package models_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/models/netguard"
)

// whClock is a settable clock for the webhook tests.
type whClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *whClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *whClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// whEnv is a store on a test clock with a simulated Kaspa chain.
type whEnv struct {
	t   *testing.T
	ctx context.Context
	s   *models.Store
	clk *whClock
	daa uint64
	tx  int
	// utxos are the outputs observed so far: the chain's UTXO set, sent
	// again every cycle as the watcher does.
	utxos []models.KaspaCredit
}

const (
	whAddrA = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"
	whAddrB = "kaspa:qr35ennsep3hxfe7lnz5ee7j5jgmkjswsn35ennsep3hxfe7ln35cdv0dy335"
)

func newWhEnv(t *testing.T) *whEnv {
	t.Helper()
	c := &whClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := &whEnv{t: t, ctx: context.Background(), clk: c, daa: 5_000_000}
	e.s = modeltest.Store(t, func(o *models.StoreOptions) { o.Now = c.Now })
	e.observe()
	return e
}

func (e *whEnv) merchant(email, addr string) *models.Merchant {
	e.t.Helper()
	m, err := e.s.Register(e.ctx, models.RegisterInput{Email: email, Password: "securepassword", Name: "Shop", KaspaAddress: addr})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *whEnv) link(m *models.Merchant) *models.PaymentLink {
	e.t.Helper()
	title, amount := "Item", "10"
	l, err := e.s.CreateLink(e.ctx, m.ID, models.LinkInput{Title: &title, Amount: &amount})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *whEnv) payment(l *models.PaymentLink, in models.CreatePaymentInput) *models.Payment {
	e.t.Helper()
	in.LinkSlug = l.Slug
	p, err := e.s.CreatePayment(e.ctx, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *whEnv) observe(credits ...models.KaspaCredit) {
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

func (e *whEnv) advance(n uint64) {
	e.daa += n
	e.clk.Add(time.Duration(n) * 100 * time.Millisecond)
}

// confirm pays p in full and lets the chain reach its required depth.
func (e *whEnv) confirm(p *models.Payment) {
	e.t.Helper()
	e.advance(1)
	e.tx++
	e.observe(models.KaspaCredit{TxID: fmt.Sprintf("%064x", e.tx), Address: p.PayAddress, Amount: p.AmountExpected, BlockDaaScore: e.daa})
	e.advance(uint64(p.RequiredConfirmations) + 1)
	e.observe()
	got, err := e.s.Payment(e.ctx, p.ID)
	if err != nil || got.Status != models.StatusConfirmed {
		e.t.Fatalf("payment not confirmed: %v %v", got.Status, err)
	}
}

// expireAll lets every open session run out and expires them.
func (e *whEnv) expireAll() int {
	e.t.Helper()
	e.clk.Add(31 * 24 * time.Hour)
	e.observe()
	n, err := e.s.ExpireDue(e.ctx, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *whEnv) endpoint(m *models.Merchant, url string, events ...string) (*models.WebhookEndpoint, string) {
	e.t.Helper()
	ep, secret, err := e.s.CreateWebhook(e.ctx, m.ID, models.WebhookInput{URL: &url, Events: &events}, testPolicy(false))
	if err != nil {
		e.t.Fatalf("create webhook %s: %v", url, err)
	}
	return ep, secret
}

// testPolicy resolves a few fixed names, never the real DNS.
func testPolicy(allowPrivate bool) *netguard.Policy {
	return &netguard.Policy{AllowPrivate: allowPrivate, Resolver: netguard.NewStaticResolver(map[string][]string{
		"hooks.example.com":    {"93.184.216.34"},
		"v6.example.com":       {"2606:2800:220:1:248:1893:25c8:1946"},
		"internal.example.com": {"192.168.1.5"},
		"mixed.example.com":    {"93.184.216.34", "10.1.2.3"},
		"mapped.example.com":   {"::ffff:10.0.0.1"},
		"ula.example.com":      {"fd12:3456::1"},
		"cgnat.example.com":    {"100.64.1.1"},
		"meta.example.com":     {"169.254.169.254"},
		"loop.example.com":     {"127.0.0.1"},
		"localhost":            {"127.0.0.1", "::1"},
	})}
}

func TestCreateWebhookValidation(t *testing.T) {
	e := newWhEnv(t)
	m := e.merchant("v@example.com", whAddrA)
	ok := []string{models.EventPaymentConfirmed}
	str := func(s string) *string { return &s }
	evs := func(v ...string) *[]string { return &v }
	cases := []struct {
		name    string
		url     *string
		events  *[]string
		private bool
		want    string // substring of the error; "" means success
	}{
		{"valid https", str("https://hooks.example.com/kaspay"), &ok, false, ""},
		{"valid IPv6 host by name", str("https://v6.example.com/h"), evs("*"), false, ""},
		{"valid public IP literal", str("http://1.1.1.1:8080/h?x=1"), evs("payment.expired", "payment.confirmed"), false, ""},
		{"url missing", nil, &ok, false, "url is required"},
		{"url empty", str("  "), &ok, false, "url is required"},
		{"relative url", str("/webhook"), &ok, false, "absolute http"},
		{"no scheme", str("hooks.example.com/x"), &ok, false, "absolute http"},
		{"ftp scheme", str("ftp://hooks.example.com/x"), &ok, false, "absolute http"},
		{"javascript", str("javascript:alert(1)"), &ok, false, "absolute http"},
		{"credentials", str("https://user:pass@hooks.example.com/x"), &ok, false, "must not contain credentials"},
		{"user only", str("https://user@hooks.example.com/x"), &ok, false, "must not contain credentials"},
		{"too long", str("https://hooks.example.com/" + strings.Repeat("a", 2048)), &ok, false, "at most 2048"},
		{"space inside", str("https://hooks.example.com/a b"), &ok, false, "spaces"},
		{"no host", str("https:///x"), &ok, false, "absolute http"},
		{"events missing", str("https://hooks.example.com/"), nil, false, "events is required"},
		{"events empty", str("https://hooks.example.com/"), evs(), false, "non-empty"},
		{"unknown event", str("https://hooks.example.com/"), evs("payment.created"), false, `Unknown event "payment.created"`},
		{"test event not subscribable", str("https://hooks.example.com/"), evs("webhook.test"), false, "Unknown event"},
		{"duplicate event", str("https://hooks.example.com/"), evs("*", "*"), false, "must not repeat"},
		{"loopback v4", str("http://127.0.0.1:8080/"), &ok, false, "loopback"},
		{"loopback v4 other", str("http://127.10.0.1/"), &ok, false, "loopback"},
		{"loopback v6", str("http://[::1]/"), &ok, false, "loopback"},
		{"private 10/8", str("http://10.0.0.8/"), &ok, false, "private"},
		{"private 172.16/12", str("http://172.20.1.1/"), &ok, false, "private"},
		{"private 192.168/16", str("http://192.168.0.1/"), &ok, false, "private"},
		{"link-local", str("http://169.254.10.10/"), &ok, false, "link-local"},
		{"cgnat", str("http://100.100.1.1/"), &ok, false, "carrier-grade NAT"},
		{"multicast", str("http://224.0.0.1/"), &ok, false, "multicast"},
		{"broadcast", str("http://255.255.255.255/"), &ok, false, "broadcast"},
		{"unspecified", str("http://0.0.0.0/"), &ok, false, "unspecified"},
		{"ula", str("http://[fd00::1]/"), &ok, false, "unique-local"},
		{"v6 link-local", str("http://[fe80::1]/"), &ok, false, "link-local"},
		{"mapped loopback", str("http://[::ffff:127.0.0.1]/"), &ok, false, "loopback"},
		{"mapped private", str("http://[::ffff:10.1.1.1]/"), &ok, false, "private"},
		{"nat64 private", str("http://[64:ff9b::a00:1]/"), &ok, false, "private"},
		{"aws metadata", str("http://169.254.169.254/latest/meta-data/"), &ok, false, "cloud metadata"},
		{"aws metadata v6", str("http://[fd00:ec2::254]/"), &ok, false, "cloud metadata"},
		{"gcp metadata name", str("http://metadata.google.internal/computeMetadata/v1/"), &ok, false, "cloud metadata"},
		{"localhost name", str("http://localhost:3000/hook"), &ok, false, "loopback"},
		{"sub.localhost", str("http://app.localhost/hook"), &ok, false, "loopback"},
		{"decimal ipv4", str("http://2130706433/"), &ok, false, "numeric"},
		{"short ipv4", str("http://127.1/"), &ok, false, "numeric"},
		{"hex ipv4", str("http://0x7f000001/"), &ok, false, "numeric"},
		{"name to private", str("https://internal.example.com/h"), &ok, false, "internal.example.com resolves to 192.168.1.5, a private (RFC 1918) address"},
		{"name to mixed", str("https://mixed.example.com/h"), &ok, false, "10.1.2.3"},
		{"name to mapped", str("https://mapped.example.com/h"), &ok, false, "private"},
		{"name to ula", str("https://ula.example.com/h"), &ok, false, "unique-local"},
		{"name to cgnat", str("https://cgnat.example.com/h"), &ok, false, "carrier-grade NAT"},
		{"name to metadata", str("https://meta.example.com/h"), &ok, false, "cloud metadata"},
		{"name to loopback", str("https://loop.example.com/h"), &ok, false, "loopback"},
		{"unresolvable", str("https://nxdomain.example.com/h"), &ok, false, "could not be resolved"},
		{"private allowed", str("http://127.0.0.1:8080/"), &ok, true, ""},
		{"localhost allowed", str("http://localhost:8080/"), &ok, true, ""},
		{"private name allowed", str("https://internal.example.com/h"), &ok, true, ""},
		{"metadata refused even when private allowed", str("http://169.254.169.254/"), &ok, true, "cloud metadata"},
		{"metadata name refused even when private allowed", str("http://metadata.google.internal/"), &ok, true, "cloud metadata"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.s.Webhooks(e.ctx, m.ID)
			ep, secret, err := e.s.CreateWebhook(e.ctx, m.ID, models.WebhookInput{URL: tc.url, Events: tc.events}, testPolicy(tc.private))
			after, _ := e.s.Webhooks(e.ctx, m.ID)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if !regexp.MustCompile(`^whsec_[0-9a-f]{64}$`).MatchString(secret) {
					t.Errorf("secret %q is not whsec_ + 64 hex", secret)
				}
				if len(after) != len(before)+1 || !ep.IsActive || ep.Dialect != models.DialectKasPay {
					t.Errorf("endpoint not stored as expected: %+v", ep)
				}
				if err := e.s.DeleteWebhook(e.ctx, m.ID, ep.ID); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want error containing %q, got success", tc.want)
			}
			if _, ok := models.AsValidation(err); !ok {
				t.Fatalf("want a validation error, got %T %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if len(after) != len(before) {
				t.Fatal("a refused endpoint was stored")
			}
		})
	}
}

func TestWebhookSecretSealedRevealedRotated(t *testing.T) {
	e := newWhEnv(t)
	m := e.merchant("s@example.com", whAddrA)
	ep, secret := e.endpoint(m, "https://hooks.example.com/s", "*")
	var row map[string]any
	if err := e.s.DB().R(e.ctx).Table("webhook_endpoints").Where("id = ?", ep.ID).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	for col, v := range row {
		if s, _ := v.(string); strings.Contains(s, secret[len("whsec_"):]) {
			t.Errorf("column %s holds the plaintext secret", col)
		}
	}
	got, err := e.s.WebhookSecret(e.ctx, m.ID, ep.ID)
	if err != nil || got != secret {
		t.Fatalf("reveal: %q %v", got, err)
	}
	rotated, err := e.s.RotateWebhookSecret(e.ctx, m.ID, ep.ID)
	if err != nil || rotated == secret || !strings.HasPrefix(rotated, "whsec_") {
		t.Fatalf("rotate: %q %v", rotated, err)
	}
	if got, _ := e.s.WebhookSecret(e.ctx, m.ID, ep.ID); got != rotated {
		t.Fatalf("reveal after rotate = %q, want the new secret", got)
	}
}

func TestWebhookTenantScoping(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	b := e.merchant("b@example.com", whAddrB)
	ep, _ := e.endpoint(a, "https://hooks.example.com/a", "*")
	rec, err := e.s.SendTestWebhook(e.ctx, a.ID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://hooks.example.com/b"
	active := false
	calls := map[string]func() error{
		"get": func() error { _, err := e.s.Webhook(e.ctx, b.ID, ep.ID); return err },
		"update": func() error {
			_, err := e.s.UpdateWebhook(e.ctx, b.ID, ep.ID, models.WebhookInput{URL: &url, IsActive: &active}, testPolicy(false))
			return err
		},
		"delete": func() error { return e.s.DeleteWebhook(e.ctx, b.ID, ep.ID) },
		"rotate": func() error { _, err := e.s.RotateWebhookSecret(e.ctx, b.ID, ep.ID); return err },
		"reveal": func() error { _, err := e.s.WebhookSecret(e.ctx, b.ID, ep.ID); return err },
		"deliveries": func() error {
			_, err := e.s.WebhookDeliveries(e.ctx, b.ID, ep.ID, models.DeliveryFilter{})
			return err
		},
		"redeliver": func() error { _, err := e.s.RedeliverWebhook(e.ctx, b.ID, ep.ID, rec.ID); return err },
		"test":      func() error { _, err := e.s.SendTestWebhook(e.ctx, b.ID, ep.ID); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("another merchant's endpoint: want not found, got %v", err)
			}
		})
	}
	if list, _ := e.s.Webhooks(e.ctx, b.ID); len(list) != 0 {
		t.Fatalf("merchant b lists %d endpoints of merchant a", len(list))
	}
	// Still intact for its owner.
	got, err := e.s.Webhook(e.ctx, a.ID, ep.ID)
	if err != nil || got.URL != ep.URL || !got.IsActive {
		t.Fatalf("owner's endpoint changed: %+v %v", got, err)
	}
	// A delivery of one endpoint is not reachable through another endpoint.
	ep2, _ := e.endpoint(a, "https://hooks.example.com/a2", "*")
	if _, err := e.s.RedeliverWebhook(e.ctx, a.ID, ep2.ID, rec.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("delivery through the wrong endpoint: %v", err)
	}
}

// deliveriesByEndpoint maps endpoint id → event types of its deliveries.
func (e *whEnv) deliveriesByEndpoint(m *models.Merchant) map[string][]string {
	e.t.Helper()
	eps, err := e.s.Webhooks(e.ctx, m.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, ep := range eps {
		ds, err := e.s.WebhookDeliveries(e.ctx, m.ID, ep.ID, models.DeliveryFilter{})
		if err != nil {
			e.t.Fatal(err)
		}
		for i := len(ds) - 1; i >= 0; i-- {
			out[ep.ID] = append(out[ep.ID], ds[i].EventType)
		}
	}
	return out
}

func TestEnqueueDeliveriesFanOut(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	b := e.merchant("b@example.com", whAddrB)
	onlyConfirmed, _ := e.endpoint(a, "https://hooks.example.com/confirmed", models.EventPaymentConfirmed)
	onlyExpired, _ := e.endpoint(a, "https://hooks.example.com/expired", models.EventPaymentExpired)
	all, _ := e.endpoint(a, "https://hooks.example.com/all", "*")
	both, _ := e.endpoint(a, "https://hooks.example.com/both", models.EventPaymentExpired, models.EventPaymentConfirmed)
	inactive, _ := e.endpoint(a, "https://hooks.example.com/inactive", "*")
	off := false
	if _, err := e.s.UpdateWebhook(e.ctx, a.ID, inactive.ID, models.WebhookInput{IsActive: &off}, testPolicy(false)); err != nil {
		t.Fatal(err)
	}
	other, _ := e.endpoint(b, "https://hooks.example.com/other", "*")

	la := e.link(a)
	paid := e.payment(la, models.CreatePaymentInput{CustomerName: "Ann"})
	e.confirm(paid)
	_ = e.payment(la, models.CreatePaymentInput{}) // will expire
	if n := e.expireAll(); n != 1 {
		t.Fatalf("expired %d sessions, want 1", n)
	}

	got := e.deliveriesByEndpoint(a)
	want := map[string][]string{
		onlyConfirmed.ID: {"payment.confirmed"},
		onlyExpired.ID:   {"payment.expired"},
		all.ID:           {"payment.confirmed", "payment.expired"},
		both.ID:          {"payment.confirmed", "payment.expired"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries by endpoint:\n got  %v\n want %v", got, want)
	}
	if _, has := got[inactive.ID]; has {
		t.Fatal("an inactive endpoint got deliveries")
	}
	if ds, _ := e.s.WebhookDeliveries(e.ctx, b.ID, other.ID, models.DeliveryFilter{}); len(ds) != 0 {
		t.Fatalf("another merchant's endpoint got %d deliveries", len(ds))
	}
	// Each delivery is due at once, in the event's own transaction.
	ds, _ := e.s.WebhookDeliveries(e.ctx, a.ID, all.ID, models.DeliveryFilter{})
	evs, _ := e.s.EventsForPayment(e.ctx, paid.ID)
	if len(evs) != 1 {
		t.Fatalf("events: %v", evs)
	}
	for _, d := range ds {
		if d.EventType == evs[0].Type && (d.EventID != evs[0].ID || !d.NextAttemptAt.Equal(evs[0].CreatedAt) || d.Status != models.DeliveryPending) {
			t.Fatalf("delivery %+v not due at its event's time %v", d.WebhookDelivery, evs[0].CreatedAt)
		}
	}
}

func TestDeleteWebhookStopsPendingDeliveries(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	keep, _ := e.endpoint(a, "https://hooks.example.com/keep", "*")
	drop, _ := e.endpoint(a, "https://hooks.example.com/drop", "*")
	e.confirm(e.payment(e.link(a), models.CreatePaymentInput{}))
	if err := e.s.DeleteWebhook(e.ctx, a.ID, drop.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteWebhook(e.ctx, a.ID, drop.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	jobs, err := e.s.ClaimDeliveries(e.ctx, models.ClaimRequest{Limit: 10, Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].EndpointID != keep.ID {
		t.Fatalf("claimed %+v, want only the kept endpoint's delivery", jobs)
	}
}

func TestClaimLeaseScheduleAndFailure(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	ep, secret := e.endpoint(a, "https://hooks.example.com/x", "*")
	e.confirm(e.payment(e.link(a), models.CreatePaymentInput{}))
	schedule := []time.Duration{time.Minute, time.Hour}
	claim := func() []models.DeliveryJob {
		t.Helper()
		jobs, err := e.s.ClaimDeliveries(e.ctx, models.ClaimRequest{Limit: 5, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	jobs := claim()
	if len(jobs) != 1 || jobs[0].Secret != secret || jobs[0].URL != ep.URL || jobs[0].Attempt != 1 || jobs[0].EventType != models.EventPaymentConfirmed {
		t.Fatalf("claim: %+v", jobs)
	}
	if again := claim(); len(again) != 0 {
		t.Fatal("a leased delivery was claimed twice")
	}
	// The claimant "dies": once the lease runs out the delivery is due again.
	e.clk.Add(59 * time.Second)
	if again := claim(); len(again) != 0 {
		t.Fatal("claimed before the lease ran out")
	}
	e.clk.Add(2 * time.Second)
	second := claim()
	if len(second) != 1 || second[0].LeaseToken == jobs[0].LeaseToken || second[0].Attempt != 1 {
		t.Fatalf("after lease expiry: %+v", second)
	}
	// The dead claimant's late result cannot overwrite the new claim.
	if _, err := e.s.RecordDeliveryAttempt(e.ctx, &jobs[0], models.AttemptResult{StatusCode: 200}, schedule); !errors.Is(err, models.ErrLeaseLost) {
		t.Fatalf("stale lease recorded: %v", err)
	}
	st, err := e.s.RecordDeliveryAttempt(e.ctx, &second[0], models.AttemptResult{StatusCode: 500, Err: "HTTP 500", Snippet: strings.Repeat("é", 600) + "\x00"}, schedule)
	if err != nil || st != models.DeliveryPending {
		t.Fatalf("record 500: %v %v", st, err)
	}
	ds, _ := e.s.WebhookDeliveries(e.ctx, a.ID, ep.ID, models.DeliveryFilter{})
	d := ds[0]
	if d.Attempts != 1 || !d.NextAttemptAt.Equal(e.clk.Now().Add(time.Minute)) || d.LockedUntil != nil || *d.LastStatusCode != 500 {
		t.Fatalf("after a failed attempt: %+v", d.WebhookDelivery)
	}
	if len(d.AttemptLog) != 2 { // the stale claimant's attempt is logged too
		t.Fatalf("attempt log has %d rows, want 2", len(d.AttemptLog))
	}
	var s string
	for _, a := range d.AttemptLog {
		if a.StatusCode != nil && *a.StatusCode == 500 {
			s = a.ResponseSnippet
		}
	}
	if len(s) > models.MaxResponseSnippet || len(s) < models.MaxResponseSnippet-1 || strings.Contains(s, "\x00") || !strings.HasPrefix(s, "éé") {
		t.Fatalf("snippet not cut to 1 KB of valid text: %d bytes", len(s))
	}
	for i, wait := range []time.Duration{time.Minute, time.Hour} {
		if len(claim()) != 0 {
			t.Fatalf("attempt %d claimed before its time", i+2)
		}
		e.clk.Add(wait)
		jobs := claim()
		if len(jobs) != 1 || jobs[0].Attempt != i+2 {
			t.Fatalf("attempt %d: %+v", i+2, jobs)
		}
		st, err := e.s.RecordDeliveryAttempt(e.ctx, &jobs[0], models.AttemptResult{Err: "timeout"}, schedule)
		want := models.DeliveryPending
		if i == 1 {
			want = models.DeliveryFailed
		}
		if err != nil || st != want {
			t.Fatalf("attempt %d: %v %v, want %v", i+2, st, err, want)
		}
	}
	e.clk.Add(1000 * time.Hour)
	if len(claim()) != 0 {
		t.Fatal("a failed delivery was claimed")
	}
	// Redelivery makes it due now and keeps the history; one more failure
	// fails it again.
	rec, err := e.s.RedeliverWebhook(e.ctx, a.ID, ep.ID, d.ID)
	if err != nil || rec.Status != models.DeliveryPending || len(rec.AttemptLog) != 4 {
		t.Fatalf("redeliver: %+v %v", rec, err)
	}
	jobs = claim()
	if len(jobs) != 1 || jobs[0].Attempt != 4 {
		t.Fatalf("after redeliver: %+v", jobs)
	}
	if st, _ := e.s.RecordDeliveryAttempt(e.ctx, &jobs[0], models.AttemptResult{StatusCode: 204}, schedule); st != models.DeliveryDelivered {
		t.Fatalf("redelivery success: %v", st)
	}
}

func TestInactiveEndpointPausesDeliveries(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	ep, _ := e.endpoint(a, "https://hooks.example.com/x", "*")
	e.confirm(e.payment(e.link(a), models.CreatePaymentInput{}))
	off, on := false, true
	if _, err := e.s.UpdateWebhook(e.ctx, a.ID, ep.ID, models.WebhookInput{IsActive: &off}, nil); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := e.s.ClaimDeliveries(e.ctx, models.ClaimRequest{Limit: 5}); len(jobs) != 0 {
		t.Fatal("an inactive endpoint's delivery was claimed")
	}
	if _, err := e.s.SendTestWebhook(e.ctx, a.ID, ep.ID); err == nil || !strings.Contains(err.Error(), "inactive") {
		t.Fatalf("test event to an inactive endpoint: %v", err)
	}
	if _, err := e.s.UpdateWebhook(e.ctx, a.ID, ep.ID, models.WebhookInput{IsActive: &on}, nil); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := e.s.ClaimDeliveries(e.ctx, models.ClaimRequest{Limit: 5}); len(jobs) != 1 {
		t.Fatalf("reactivated endpoint: %d jobs", len(jobs))
	}
}

func TestPerEndpointCapInClaims(t *testing.T) {
	e := newWhEnv(t)
	a := e.merchant("a@example.com", whAddrA)
	slow, _ := e.endpoint(a, "https://hooks.example.com/slow", "*")
	fast, _ := e.endpoint(a, "https://hooks.example.com/fast", "*")
	_ = fast
	l := e.link(a)
	for range 3 {
		e.confirm(e.payment(l, models.CreatePaymentInput{}))
	}
	jobs, err := e.s.ClaimDeliveries(e.ctx, models.ClaimRequest{Limit: 10, PerEndpoint: 2, InFlight: map[string]int{slow.ID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, j := range jobs {
		per[j.EndpointID]++
	}
	if per[slow.ID] != 1 || per[fast.ID] != 2 {
		t.Fatalf("claims per endpoint = %v, want slow 1 (one already in flight), fast 2", per)
	}
}
