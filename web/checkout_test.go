package web_test

import (
	"bytes"
	"context"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"till/models"
	"till/web"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
	"till/workers/price"
)

// checkoutKpub is the account kpub of research/kaspa.md §3.4 (mainnet).
const checkoutKpub = "kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"

// checkoutHarness is a real Till over loopback with a real database, a Kaspa
// REST double with its CoinGecko route as the price feed, and a watcher
// between them. Its store clock can be shifted (link and session expiry).
type checkoutHarness struct {
	t       testing.TB
	ctx     context.Context
	env     *webtest.Env
	chain   *double.Chain
	watcher *kaspa.Watcher
	m       webtest.Merchant
	offset  *atomic.Int64
}

func newCheckoutHarness(t testing.TB, opts ...webtest.Option) *checkoutHarness {
	t.Helper()
	chain := double.New(double.Options{Clock: time.Now, Price: "0.125"})
	chainURL, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	feed := &price.Feed{CoinGeckoURL: chainURL + "/coingecko"}
	offset := new(atomic.Int64)
	opts = append([]webtest.Option{func(o *web.Options) { o.Rates = feed }}, opts...)
	env := webtest.NewWith(t, []func(*models.StoreOptions){func(o *models.StoreOptions) {
		o.Rates = feed
		o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	}}, opts...)
	env.Listen()
	h := &checkoutHarness{t: t, ctx: context.Background(), env: env, chain: chain, offset: offset,
		watcher: &kaspa.Watcher{Client: kaspa.NewClient(chainURL, &http.Client{Timeout: 5 * time.Second}), Store: env.Store, Interval: 50 * time.Millisecond}}
	h.m = env.Register("shop@example.com", "Kaspa Coffee Roasters", webtest.AddrA)
	h.cycle()
	return h
}

// shift moves the store clock by d from real time.
func (h *checkoutHarness) shift(d time.Duration) { h.offset.Store(int64(d)) }

func (h *checkoutHarness) cycle() {
	h.t.Helper()
	if _, err := h.watcher.Cycle(h.ctx); err != nil {
		h.t.Fatalf("watcher cycle: %v", err)
	}
}

// link creates a link through the API (fields override the defaults) and
// returns its slug.
func (h *checkoutHarness) link(fields map[string]any) string {
	h.t.Helper()
	body := map[string]any{"title": "Single-origin beans", "description": "250 g, roasted this week.", "amount": 100, "currency": "KAS"}
	for k, v := range fields {
		body[k] = v
	}
	r := h.env.Do("POST", "/api/links", body, h.m.Bearer()...)
	if r.Status != http.StatusOK {
		h.t.Fatalf("create link: %d %s", r.Status, r.Body)
	}
	return r.JSON(h.t)["slug"].(string)
}

// linkID finds the id of the link with slug.
func (h *checkoutHarness) linkID(slug string) string {
	h.t.Helper()
	r := h.env.Do("GET", "/api/links", nil, h.m.Bearer()...)
	for _, l := range r.JSON(h.t)["data"].([]any) {
		if l := l.(map[string]any); l["slug"] == slug {
			return l["id"].(string)
		}
	}
	h.t.Fatalf("no link %s", slug)
	return ""
}

func (h *checkoutHarness) patchLink(id string, fields map[string]any) {
	h.t.Helper()
	if r := h.env.Do("PATCH", "/api/links/"+id, fields, h.m.Bearer()...); r.Status != http.StatusOK {
		h.t.Fatalf("update link: %d %s", r.Status, r.Body)
	}
}

func (h *checkoutHarness) settings(fields map[string]any) {
	h.t.Helper()
	if r := h.env.Do("PATCH", "/api/settings", fields, h.m.Bearer()...); r.Status != http.StatusOK {
		h.t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
}

func (h *checkoutHarness) payments() int64 {
	h.t.Helper()
	var n int64
	if err := h.env.Store.DB().R(h.ctx).Model(&models.Payment{}).Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *checkoutHarness) payment(id string) *models.Payment {
	h.t.Helper()
	p, err := h.env.Store.Payment(h.ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// start opens a session as a customer would (load the page, post the
// form) and returns the session page it redirects to.
func (h *checkoutHarness) start(c *webtest.Client, slug string, values url.Values) (id string, page webtest.Page) {
	h.t.Helper()
	if values == nil {
		values = url.Values{}
	}
	r := c.Submit("/pay/"+slug, "/pay/"+slug, values)
	if r.Status != http.StatusSeeOther {
		h.t.Fatalf("start session: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	prefix := "/pay/" + slug + "/p/"
	if !strings.HasPrefix(loc, prefix) {
		h.t.Fatalf("start session redirected to %q", loc)
	}
	page = c.Get(loc)
	if page.Status != http.StatusOK {
		h.t.Fatalf("session page: %d", page.Status)
	}
	return strings.TrimPrefix(loc, prefix), page
}

// poll requests the status fragment the way htmx does.
func (h *checkoutHarness) poll(c *webtest.Client, path string) webtest.Page {
	h.t.Helper()
	return c.Get(path, "HX-Request", "true")
}

func sessionID(p webtest.Page) string {
	id, _ := p.Doc.Find(`[data-testid="checkout-session"]`).Attr("data-payment-id")
	return id
}

func pollURL(t testing.TB, p webtest.Page) string {
	t.Helper()
	u, ok := p.Doc.Find(`#pay-poll`).Attr("hx-get")
	if !ok {
		t.Fatalf("no poller with hx-get in:\n%s", p.Body)
	}
	return u
}

func TestCheckoutGetNeverCreatesSession(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(nil)
	cases := []struct {
		name    string
		headers []string
	}{
		{"browser", nil},
		{"link preview bot", []string{"User-Agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}},
		{"crawler", []string{"User-Agent", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}},
		{"htmx", []string{"HX-Request", "true"}},
	}
	c := h.env.Client()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := c.Get("/pay/"+slug, tc.headers...)
			if p.Status != http.StatusOK {
				t.Fatalf("status %d", p.Status)
			}
			if got := p.TestID("checkout-title"); got != "Single-origin beans" {
				t.Errorf("title %q", got)
			}
			if got := p.TestID("merchant-name"); got != "Kaspa Coffee Roasters" {
				t.Errorf("merchant %q", got)
			}
			if got := p.TestID("checkout-amount"); !strings.HasPrefix(got, "100") || !strings.HasSuffix(got, "KAS") {
				t.Errorf("amount %q", got)
			}
			if p.Doc.Find(`form[action="/pay/`+slug+`"][method="post"] [data-testid="pay-start"]`).Length() != 1 {
				t.Error("no Pay with Kaspa form")
			}
			if n := h.payments(); n != 0 {
				t.Fatalf("a GET created %d payment sessions", n)
			}
		})
	}
	if r := h.env.Do("HEAD", "/pay/"+slug, nil); r.Status != http.StatusOK || h.payments() != 0 {
		t.Fatalf("HEAD: %d, payments %d", r.Status, h.payments())
	}
}

func TestCheckoutStartAndResume(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(nil)
	alice := h.env.Client()
	token, _ := alice.Get("/pay/" + slug).Doc.Find(`input[name="_csrf"]`).Attr("value")

	r := alice.PostForm("/pay/"+slug, url.Values{"_csrf": {token}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	var cookie string
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "till_visitor=") {
			cookie = sc
		}
	}
	for _, want := range []string{"path=/pay", "HttpOnly", "SameSite=Lax", "max-age="} {
		if !strings.Contains(strings.ToLower(cookie), strings.ToLower(want)) {
			t.Errorf("visitor cookie %q lacks %s", cookie, want)
		}
	}
	if strings.Contains(strings.ToLower(cookie), "secure") {
		t.Errorf("visitor cookie %q is Secure on an http base URL", cookie)
	}
	loc := r.Header.Get("Location")
	id := strings.TrimPrefix(loc, "/pay/"+slug+"/p/")
	p := h.payment(id)
	if p.Visitor == "" || strings.Contains(cookie, p.Visitor) {
		t.Errorf("the stored visitor must be the token's hash, got %q", p.Visitor)
	}

	first := alice.Get(loc)
	amount := first.TestID("pay-amount")
	if sessionID(first) != id || amount == "" {
		t.Fatalf("session page: id %q amount %q", sessionID(first), amount)
	}
	// Reloading the link page resumes the same session, with the same amount.
	for i := 0; i < 2; i++ {
		again := alice.Get("/pay/" + slug)
		if sessionID(again) != id || again.TestID("pay-amount") != amount {
			t.Fatalf("reload %d: id %q amount %q, want %q %q", i, sessionID(again), again.TestID("pay-amount"), id, amount)
		}
	}
	// A resubmitted form goes back to the open session instead of opening another.
	r = alice.PostForm("/pay/"+slug, url.Values{"_csrf": {token}})
	if r.Header.Get("Location") != loc || h.payments() != 1 {
		t.Fatalf("resubmit: %s, %d payments", r.Header.Get("Location"), h.payments())
	}

	// A customer in the middle of paying keeps their session when the
	// merchant deactivates the link; newcomers get the 404 page.
	linkID := h.linkID(slug)
	h.patchLink(linkID, map[string]any{"status": "inactive"})
	if got := sessionID(alice.Get("/pay/" + slug)); got != id {
		t.Fatalf("after deactivation the open session is gone (%q)", got)
	}
	if p := h.env.Client().Get("/pay/" + slug); p.Status != http.StatusNotFound {
		t.Fatalf("newcomer on an inactive link: %d", p.Status)
	}
	h.patchLink(linkID, map[string]any{"status": "active"})

	// Another visitor gets their own session and amount.
	bob := h.env.Client()
	if got := sessionID(bob.Get("/pay/" + slug)); got != "" {
		t.Fatalf("a new visitor sees session %s", got)
	}
	bobID, bobPage := h.start(bob, slug, nil)
	if bobID == id || bobPage.TestID("pay-amount") == amount {
		t.Fatalf("second visitor: id %s amount %s, first %s %s", bobID, bobPage.TestID("pay-amount"), id, amount)
	}
	if h.payments() != 2 {
		t.Fatalf("%d payments", h.payments())
	}
	// The session page needs no cookie: the id is the capability, as for
	// the status API; but it must belong to the link in the URL.
	other := h.link(map[string]any{"title": "Other"})
	if p := h.env.Client().Get(loc); sessionID(p) != id {
		t.Errorf("session page without cookie: %d", p.Status)
	}
	if p := alice.Get("/pay/" + other + "/p/" + id); p.Status != http.StatusNotFound {
		t.Errorf("session under another link's slug: %d", p.Status)
	}
}

func TestCheckoutSecureCookieOnHTTPS(t *testing.T) {
	h := newCheckoutHarness(t, func(o *web.Options) { o.BaseURL = "https://pay.example.com" })
	slug := h.link(nil)
	page := h.env.Do("GET", "/pay/"+slug, nil)
	var csrf, session string
	for _, sc := range page.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "till_session=") {
			session = strings.SplitN(strings.TrimPrefix(sc, "till_session="), ";", 2)[0]
		}
	}
	if i := bytes.Index(page.Body, []byte(`name="_csrf" value="`)); i >= 0 {
		rest := page.Body[i+len(`name="_csrf" value="`):]
		csrf = string(rest[:bytes.IndexByte(rest, '"')])
	}
	r := h.env.Do("POST", "/pay/"+slug, "_csrf="+url.QueryEscape(csrf),
		"Content-Type", "application/x-www-form-urlencoded", "Cookie", "till_session="+session)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "till_visitor=") && !strings.Contains(strings.ToLower(sc), "secure") {
			t.Errorf("visitor cookie on https is not Secure: %s", sc)
		}
	}
}

func TestCheckoutUnavailableLinks(t *testing.T) {
	h := newCheckoutHarness(t)
	draft := h.link(map[string]any{"status": "draft"})
	inactive := h.link(nil)
	h.patchLink(h.linkID(inactive), map[string]any{"status": "inactive"})
	expired := h.link(map[string]any{"linkExpiresIn": 1})
	h.shift(2 * time.Minute)

	c := h.env.Client()
	active := h.link(nil)
	token, _ := c.Get("/pay/" + active).Doc.Find(`input[name="_csrf"]`).Attr("value")
	cases := []struct {
		name, slug string
		status     int
		message    string
	}{
		{"draft", draft, 404, "This payment link is not available"},
		{"inactive", inactive, 404, "This payment link is not available"},
		{"expired", expired, 410, "This payment link has expired"},
		{"unknown", "no-such-link-abc123", 404, "This payment link is not available"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []webtest.Page{
				c.Get("/pay/" + tc.slug),
				c.PostForm("/pay/"+tc.slug, url.Values{"_csrf": {token}}),
			} {
				if p.Status != tc.status {
					t.Errorf("status %d, want %d", p.Status, tc.status)
				}
				if p.Doc.Find(`[data-testid="checkout-unavailable"]`).Length() != 1 || p.TestID("error-message") != tc.message {
					t.Errorf("not the friendly page (%q):\n%s", p.TestID("error-message"), p.Body)
				}
				if p.Doc.Find(`a[href="/"]`).Length() != 0 {
					t.Error("a customer page links to the dashboard home")
				}
			}
			if n := h.payments(); n != 0 {
				t.Fatalf("%d payments created", n)
			}
		})
	}
}

func TestCheckoutCSRFRequired(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(nil)
	c := h.env.Client()
	c.Get("/pay/" + slug) // a session cookie with a token exists
	for name, values := range map[string]url.Values{
		"missing": {},
		"wrong":   {"_csrf": {"not-the-token"}},
	} {
		t.Run(name, func(t *testing.T) {
			if r := c.PostForm("/pay/"+slug, values); r.Status != http.StatusForbidden {
				t.Fatalf("status %d", r.Status)
			}
			if n := h.payments(); n != 0 {
				t.Fatalf("%d payments created without a CSRF token", n)
			}
		})
	}
}

func TestCheckoutCustomerFields(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(nil)
	c := h.env.Client()
	cases := []struct {
		name, field, value, message string
	}{
		{"bad email", "customerEmail", "not-an-email", "Invalid email format"},
		{"long name", "customerName", strings.Repeat("n", 201), "Name must be at most 200 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Submit("/pay/"+slug, "/pay/"+slug, url.Values{tc.field: {tc.value}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", r.Status)
			}
			if got := r.TestID("error-" + tc.field); got != tc.message {
				t.Errorf("inline error %q, want %q", got, tc.message)
			}
			if v, _ := r.Doc.Find("#" + tc.field).Attr("value"); v != tc.value {
				t.Errorf("value not kept: %q", v)
			}
			if _, open := r.Doc.Find(`[data-testid="checkout-form"] details`).Attr("open"); !open {
				t.Error("the optional fields are collapsed over an error")
			}
			if n := h.payments(); n != 0 {
				t.Fatalf("%d payments", n)
			}
		})
	}
	// Valid details are stored, and never shown on public pages.
	id, _ := h.start(c, slug, url.Values{"customerName": {"Ada Lovelace"}, "customerEmail": {"ada@example.com"}})
	if p := h.payment(id); p.CustomerEmail != "ada@example.com" || p.CustomerName != "Ada Lovelace" {
		t.Fatalf("stored %q %q", p.CustomerName, p.CustomerEmail)
	}
	h.payFully(id)
	for _, path := range []string{"/pay/" + slug + "/p/" + id, "/pay/receipt/" + id, "/pay/status/" + id} {
		body := h.env.Client().Get(path, "HX-Request", "true").Body
		if strings.Contains(body, "ada@example.com") || strings.Contains(body, "Ada Lovelace") {
			t.Errorf("%s shows the customer's details", path)
		}
	}
}

// payFully pays a session's exact amount and confirms it.
func (h *checkoutHarness) payFully(id string) string {
	h.t.Helper()
	p := h.payment(id)
	h.chain.Advance(1)
	tx := h.chain.Pay(p.PayAddress, p.AmountExpected, "")
	h.chain.Advance(uint64(p.RequiredConfirmations) + 1)
	h.cycle()
	if got := h.payment(id); got.Status != models.StatusConfirmed {
		h.t.Fatalf("after paying: %s", got.Status)
	}
	return tx
}

func TestCheckoutQRCode(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(nil)
	c := h.env.Client()
	id, page := h.start(c, slug, nil)
	p := h.payment(id)
	uri := p.PaymentURI()

	// The page shows the URI the QR encodes, and links the wallet to it.
	if got := page.TestID("pay-uri"); got != uri {
		t.Errorf("URI on the page %q, want %q", got, uri)
	}
	if href, _ := page.Doc.Find(`[data-testid="pay-wallet"]`).Attr("href"); href != uri {
		t.Errorf("Open in wallet href %q, want %q", href, uri)
	}
	src, _ := page.Doc.Find(`[data-testid="pay-qr"]`).Attr("src")
	if src != "/pay/qr/"+id+".png" {
		t.Fatalf("QR src %q", src)
	}
	if !strings.HasPrefix(uri, webtest.AddrA+"?amount=100.") {
		t.Fatalf("URI %q", uri)
	}

	resp, err := http.Get(h.env.URL + src)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("QR response %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("not a PNG")
	}
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// No pure-Go QR decoder is in the module graph, so check the symbol
	// itself: every module of the PNG must match the code go-qrcode builds
	// for exactly the payment URI (any other text gives other modules).
	want, err := qrcode.New(uri, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bits := want.Bitmap()
	size := img.Bounds().Dx()
	if size != img.Bounds().Dy() || size < 300 || size%len(bits) != 0 {
		t.Fatalf("QR image %v for %d modules", img.Bounds(), len(bits))
	}
	scale := size / len(bits)
	for y := range bits {
		for x := range bits[y] {
			dark := isDark(img.At(x*scale+scale/2, y*scale+scale/2))
			if dark != bits[y][x] {
				t.Fatalf("module (%d,%d) differs from the QR code of %q", x, y, uri)
			}
		}
	}
	if r := c.Get("/pay/qr/00000000-0000-4000-8000-000000000000.png"); r.Status != http.StatusNotFound {
		t.Errorf("unknown QR: %d", r.Status)
	}
}

func isDark(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r+g+b < 3*0x8000
}

func TestCheckoutStatusTransitions(t *testing.T) {
	h := newCheckoutHarness(t)
	h.settings(map[string]any{"requiredConfirmations": 100})
	slug := h.link(map[string]any{"successMessage": "Thanks! Your beans ship tomorrow.", "redirectUrl": "https://shop.example.com/thanks"})
	c := h.env.Client()
	id, page := h.start(c, slug, nil)
	p := h.payment(id)
	if ph, _ := page.Doc.Find("#pay-panel").Attr("data-phase"); ph != "pending" {
		t.Fatalf("initial phase %q", ph)
	}
	if got, _ := page.Doc.Find("#pay-status").Attr("aria-live"); got != "polite" {
		t.Errorf("status region aria-live=%q", got)
	}
	if tr, _ := page.Doc.Find("#pay-poll").Attr("hx-trigger"); tr != "every 2s" {
		t.Fatalf("poller trigger %q", tr)
	}
	if page.Doc.Find(`[data-testid="pay-countdown"][data-countdown]`).Length() != 1 {
		t.Error("no countdown")
	}
	// The ticking countdown must not make the live region speak every second.
	if page.Doc.Find(`#pay-status [aria-live="off"] [data-countdown]`).Length() != 1 {
		t.Error("the countdown is announced by the live status region")
	}
	next := pollURL(t, page)

	// Nothing changed: 204, which htmx does not swap.
	if r := h.poll(c, next); r.Status != http.StatusNoContent || r.Body != "" {
		t.Fatalf("unchanged poll: %d %q", r.Status, r.Body)
	}
	calls := h.chain.Calls()
	h.poll(c, next)
	if after := h.chain.Calls(); len(after) != len(calls) || sumCalls(after) != sumCalls(calls) {
		t.Fatalf("a status poll called the chain: %v → %v", calls, after)
	}

	type want struct {
		status   string
		phase    string // of the panel, "" when the panel must not be sent
		line     string
		final    bool
		redirect bool
	}
	steps := []struct {
		name  string
		drive func()
		want  want
	}{
		{"detected", func() {
			h.chain.Advance(1)
			h.chain.Pay(p.PayAddress, p.AmountExpected, "")
			h.cycle()
		}, want{status: "confirming", phase: "confirming", line: "1 of 100 confirmations"}},
		{"deeper", func() { h.chain.Advance(50); h.cycle() }, want{status: "confirming", line: "51 of 100 confirmations"}},
		{"confirmed", func() { h.chain.Advance(60); h.cycle() }, want{status: "confirmed", phase: "confirmed", line: "Confirmed on the Kaspa network", final: true, redirect: true}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.drive()
			r := h.poll(c, next)
			if r.Status != http.StatusOK {
				t.Fatalf("poll: %d %s", r.Status, r.Body)
			}
			poller := r.Doc.Find("#pay-poll")
			if s, _ := poller.Attr("data-status"); s != st.want.status {
				t.Errorf("status %q, want %q", s, st.want.status)
			}
			_, trig := poller.Attr("hx-trigger")
			if trig == st.want.final {
				t.Errorf("final=%v but hx-trigger present=%v:\n%s", st.want.final, trig, r.Body)
			}
			if oob, _ := r.Doc.Find("#pay-status").Attr("hx-swap-oob"); oob != "innerHTML" {
				t.Errorf("status line not swapped out of band: %q", oob)
			}
			if got := strings.Join(strings.Fields(r.Doc.Find("#pay-status").Text()), " "); !strings.Contains(got, st.want.line) {
				t.Errorf("status line %q, want %q", got, st.want.line)
			}
			panel := r.Doc.Find("#pay-panel")
			if st.want.phase == "" {
				if panel.Length() != 0 {
					t.Errorf("panel re-sent although the phase did not change")
				}
			} else if ph, _ := panel.Attr("data-phase"); ph != st.want.phase {
				t.Errorf("panel phase %q, want %q", ph, st.want.phase)
			}
			if st.want.redirect {
				if got := r.TestID("success-message"); got != "Thanks! Your beans ship tomorrow." {
					t.Errorf("success message %q", got)
				}
				if d, _ := r.Doc.Find("[data-redirect]").Attr("data-redirect"); d != "https://shop.example.com/thanks" {
					t.Errorf("data-redirect %q", d)
				}
				if href, _ := r.Doc.Find(`[data-testid="pay-continue"]`).Attr("href"); href != "https://shop.example.com/thanks" {
					t.Errorf("visible continue link %q", href)
				}
				if href, _ := r.Doc.Find(`[data-testid="pay-receipt"]`).Attr("href"); href != "/pay/receipt/"+id {
					t.Errorf("receipt link %q", href)
				}
			}
			if u, ok := poller.Attr("hx-get"); ok {
				next = u
				if r := h.poll(c, next); r.Status != http.StatusNoContent {
					t.Errorf("poll right after a change: %d", r.Status)
				}
			}
		})
	}

	// The full page of a confirmed session: success, no auto-redirect (it
	// was not watched live), "make another payment" creates a new session.
	done := c.Get("/pay/" + slug)
	if sessionID(done) != id || done.Doc.Find(`#pay-panel[data-phase="confirmed"]`).Length() != 1 {
		t.Fatalf("link page after payment:\n%s", done.Body)
	}
	if done.Doc.Find("[data-redirect]").Length() != 0 || done.Doc.Find("#pay-poll[hx-trigger]").Length() != 0 {
		t.Error("a reloaded confirmed page redirects or polls")
	}
	tok, _ := done.Doc.Find(`[data-testid="pay-new"]`).Closest("form").Find(`input[name="_csrf"]`).Attr("value")
	r := c.PostForm("/pay/"+slug, url.Values{"_csrf": {tok}})
	if r.Status != http.StatusSeeOther || strings.HasSuffix(r.Header.Get("Location"), id) || h.payments() != 2 {
		t.Fatalf("pay again: %d %s, %d payments", r.Status, r.Header.Get("Location"), h.payments())
	}
}

func sumCalls(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestCheckoutExpiry(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(map[string]any{"expiryMinutes": 5})
	c := h.env.Client()
	id, page := h.start(c, slug, nil)
	next := pollURL(t, page)

	// Past the deadline the customer sees "expired" at once, while polling
	// goes on until the expirer has marked the session (a last-second
	// payment would still show up).
	h.shift(6 * time.Minute)
	r := h.poll(c, next)
	if ph, _ := r.Doc.Find("#pay-panel").Attr("data-phase"); ph != "expired" || r.Doc.Find(`[data-testid="pay-new"]`).Length() != 1 {
		t.Fatalf("past the deadline: phase %q\n%s", ph, r.Body)
	}
	if _, ok := r.Doc.Find("#pay-poll").Attr("hx-trigger"); !ok {
		t.Fatal("polling stopped before the session was marked expired")
	}
	next = pollURL(t, r)
	h.cycle() // the chain has been observed after the deadline
	if n, err := h.env.Store.ExpireDue(h.ctx, 100); err != nil || n != 1 {
		t.Fatalf("ExpireDue: %d %v", n, err)
	}
	r = h.poll(c, next)
	if s, _ := r.Doc.Find("#pay-poll").Attr("data-status"); s != "expired" || r.Doc.Find("#pay-poll[hx-trigger], #pay-poll[hx-get]").Length() != 0 {
		t.Fatalf("final poller: %s", r.Body)
	}
	if r.Doc.Find("#pay-panel").Length() != 0 {
		t.Error("panel re-sent for the same phase")
	}

	// The link page now says the old request expired and offers a new one.
	back := c.Get("/pay/" + slug)
	if sessionID(back) != "" || back.TestID("checkout-notice") == "" {
		t.Fatalf("link page after expiry:\n%s", back.Body)
	}
	newID, _ := h.start(c, slug, nil)
	if newID == id {
		t.Fatal("no new session after expiry")
	}
}

// TestCheckoutPollSessionCookie: a poll mints a session cookie only when the
// fragment holds the "new payment" form, whose CSRF token it needs; a
// cookieless poll of a pending session sets none, and the form a cookieless
// poll does get carries a token its cookie makes valid.
func TestCheckoutPollSessionCookie(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(map[string]any{"expiryMinutes": 5})
	id, _ := h.start(h.env.Client(), slug, nil)

	fresh := h.env.Client()
	r := h.poll(fresh, "/pay/status/"+id)
	if ph, _ := r.Doc.Find("#pay-panel").Attr("data-phase"); r.Status != http.StatusOK || ph != "pending" {
		t.Fatalf("pending poll: %d phase %q", r.Status, ph)
	}
	if got := r.Header.Values("Set-Cookie"); len(got) != 0 {
		t.Fatalf("a pending poll minted a session: %v", got)
	}

	h.shift(6 * time.Minute) // past the deadline: the panel offers a new payment
	r = h.poll(fresh, "/pay/status/"+id)
	tok, _ := r.Doc.Find(`form[action="/pay/` + slug + `"] input[name="_csrf"]`).Attr("value")
	if tok == "" || len(r.Header.Values("Set-Cookie")) != 1 {
		t.Fatalf("expired poll: token %q, cookies %v\n%s", tok, r.Header.Values("Set-Cookie"), r.Body)
	}
	// The form as the poll sent it, posted with the cookie the poll set.
	p := fresh.PostForm("/pay/"+slug, url.Values{"_csrf": {tok}})
	loc := p.Header.Get("Location")
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/pay/"+slug+"/p/") || strings.HasSuffix(loc, "/"+id) {
		t.Fatalf("the form of a cookieless poll did not open a new session: %d %q", p.Status, loc)
	}
}

func TestCheckoutPerPaymentAddressAndUnderpaid(t *testing.T) {
	h := newCheckoutHarness(t)
	h.settings(map[string]any{"kaspaKpub": checkoutKpub})
	slug := h.link(map[string]any{"amount": 10})
	c := h.env.Client()
	id, page := h.start(c, slug, nil)
	p := h.payment(id)
	if got := page.TestID("pay-derivation"); !strings.Contains(got, "derivation index 0") {
		t.Errorf("derivation note %q", got)
	}
	if got := page.TestID("pay-amount"); got != "10" {
		t.Errorf("amount %q (per-payment addresses need no unique offset)", got)
	}
	h.chain.Advance(1)
	h.chain.Pay(p.PayAddress, 4*models.SompiPerKAS, "")
	h.cycle()
	r := h.poll(c, pollURL(t, page))
	if ph, _ := r.Doc.Find("#pay-panel").Attr("data-phase"); ph != "underpaid" {
		t.Fatalf("phase %q:\n%s", ph, r.Body)
	}
	if got := r.TestID("pay-remaining"); got != "6" {
		t.Errorf("remaining %q", got)
	}
	if href, _ := r.Doc.Find(`[data-testid="pay-wallet-rest"]`).Attr("href"); href != p.PayAddress+"?amount=6" {
		t.Errorf("wallet link for the rest %q", href)
	}
	if got := strings.Join(strings.Fields(r.Doc.Find("#pay-status").Text()), " "); !strings.Contains(got, "Received 4 of 10 KAS") {
		t.Errorf("status line %q", got)
	}
	if _, ok := r.Doc.Find("#pay-poll").Attr("hx-trigger"); !ok {
		t.Error("underpaid stopped polling")
	}
}

func TestCheckoutUSDLink(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(map[string]any{"amount": 19.99, "currency": "USD"})
	c := h.env.Client()
	link := c.Get("/pay/" + slug)
	if got := link.TestID("checkout-amount"); !strings.HasPrefix(got, "$19.99") || !strings.HasSuffix(got, "USD") {
		t.Errorf("amount %q", got)
	}
	if link.TestID("checkout-usd-note") == "" {
		t.Error("no note that the KAS amount is fixed at session start")
	}
	_, page := h.start(c, slug, nil)
	// 19.99 USD at 0.125 USD/KAS = 159.92 KAS, plus the unique offset.
	if got := page.TestID("pay-amount"); !strings.HasPrefix(got, "159.92") {
		t.Errorf("KAS amount %q", got)
	}
	if got := page.TestID("pay-usd"); !strings.Contains(got, "$19.99 USD") || !strings.Contains(got, "1 KAS = $0.125") {
		t.Errorf("USD line %q", got)
	}
}

func TestCheckoutWithoutJavaScript(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(nil)
	c := h.env.Client()
	id, page := h.start(c, slug, nil)
	p := h.payment(id)
	// Everything needed to pay is in the HTML itself, outside <noscript>.
	for _, want := range []string{p.PayAddress, kaspaAmount(p), p.PaymentURI()} {
		if !strings.Contains(page.Doc.Find("#pay-panel").Text(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if !strings.Contains(page.Body, "<noscript>") {
		t.Error("no <noscript> hint")
	}
	if href, _ := page.Doc.Find(`[data-testid="pay-refresh"]`).Attr("href"); href != "/pay/"+slug+"/p/"+id {
		t.Errorf("refresh link %q", href)
	}
	if got := page.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("session page Cache-Control %q", got)
	}
	// Reloading shows the new status without any script.
	h.payFully(id)
	again := c.Get("/pay/" + slug + "/p/" + id)
	if again.Doc.Find(`#pay-panel[data-phase="confirmed"]`).Length() != 1 {
		t.Fatalf("reload after payment:\n%s", again.Body)
	}
}

func kaspaAmount(p *models.Payment) string {
	return strings.TrimPrefix(p.PaymentURI(), p.PayAddress+"?amount=")
}

func TestCheckoutReceipt(t *testing.T) {
	h := newCheckoutHarness(t)
	slug := h.link(map[string]any{"amount": 19.99, "currency": "USD"})
	c := h.env.Client()
	id, _ := h.start(c, slug, nil)

	early := c.Get("/pay/receipt/" + id)
	if early.Status != http.StatusNotFound || early.TestID("error-message") != "No receipt yet" {
		t.Fatalf("receipt before confirmation: %d %q", early.Status, early.TestID("error-message"))
	}
	if href, _ := early.Doc.Find(`a.btn`).Attr("href"); href != "/pay/"+slug+"/p/"+id {
		t.Errorf("back link %q", href)
	}

	tx := h.payFully(id)
	p := h.payment(id)
	r := h.env.Client().Get("/pay/receipt/" + id)
	if r.Status != http.StatusOK {
		t.Fatalf("receipt: %d", r.Status)
	}
	checks := map[string]string{
		"receipt-title":  "Single-origin beans",
		"receipt-amount": kaspaAmount(p) + " KAS",
		"receipt-txid":   tx,
		"receipt-sender": h.chain.DefaultSender(),
	}
	for id, want := range checks {
		if got := strings.Join(strings.Fields(r.TestID(id)), " "); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if got := r.TestID("receipt-usd"); !strings.Contains(got, "$19.99 USD") || !strings.Contains(got, "0.125") {
		t.Errorf("USD line %q", got)
	}
	if href, _ := r.Doc.Find(`[data-testid="receipt-explorer"]`).Attr("href"); href != "https://explorer.kaspa.org/txs/"+tx {
		t.Errorf("explorer link %q", href)
	}
	if dt, _ := r.Doc.Find(`[data-testid="receipt-time"]`).Attr("datetime"); dt == "" {
		t.Error("no machine-readable time")
	}
	if r := c.Get("/pay/receipt/not-a-uuid"); r.Status != http.StatusNotFound {
		t.Errorf("bad id: %d", r.Status)
	}
}
