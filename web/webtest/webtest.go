// Package webtest runs the real Till HTTP stack for tests: the full route
// table over a real, migrated database (SQLite or Postgres, see modeltest),
// reachable in-process through Fiber or over loopback TCP for browsers.
package webtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"till/models"
	"till/models/modeltest"
	"till/web"
)

// Env is one running Till for a test.
type Env struct {
	T      testing.TB
	Store  *models.Store
	Server *web.Server
	// URL is set by Listen: the loopback base URL.
	URL string
	// NoContract turns off the OpenAPI contract check of Do (contract.go)
	// for this Env; it is on by default.
	NoContract bool
}

// Option adjusts the server options before start.
type Option func(*web.Options)

// New builds a Till over a fresh database.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return NewWith(t, nil, opts...)
}

// NewWith is New with options for the domain store (clock, rates, …).
func NewWith(t testing.TB, storeOpts []func(*models.StoreOptions), opts ...Option) *Env {
	t.Helper()
	store := modeltest.Store(t, storeOpts...)
	o := web.Options{
		Store:           store,
		BaseURL:         "http://till.test",
		Secret:          modeltest.TestSecret,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		AuthRateLimit:   10_000,
		AuthRateWindow:  time.Minute,
		PublicRateLimit: 100_000,
		Version:         "test",
	}
	for _, f := range opts {
		f(&o)
	}
	return &Env{T: t, Store: store, Server: web.New(o)}
}

// Listen serves the app on a loopback port and sets e.URL.
func (e *Env) Listen() string {
	e.T.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		e.T.Fatal(err)
	}
	go func() { _ = e.Server.App.Listener(ln) }()
	e.T.Cleanup(func() { _ = e.Server.App.ShutdownWithTimeout(5 * time.Second) })
	e.URL = "http://" + ln.Addr().String()
	return e.URL
}

// Response is a captured HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map (numbers stay json.Number, so
// tests can assert types).
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("response is not a JSON object (status %d): %s", r.Status, r.Body)
	}
	return m
}

// Error returns the "error" field of a KasPay error body, failing the test
// if the body has another shape.
func (r Response) Error(t testing.TB) string {
	t.Helper()
	m := r.JSON(t)
	msg, ok := m["error"].(string)
	if !ok || len(m) != 1 {
		t.Fatalf("want {\"error\": string}, got %s", r.Body)
	}
	return msg
}

// Do sends a request through the full Fiber stack. body may be nil, a
// string (sent as is) or any value (JSON-encoded).
func (e *Env) Do(method, path string, body any, headers ...string) Response {
	e.T.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.T.Fatal(err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://till.test"+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	check := req.Clone(req.Context())
	resp, err := e.Server.App.Test(req, 30_000)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	r := Response{Status: resp.StatusCode, Header: resp.Header, Body: out}
	e.checkContract(check, raw, r)
	return r
}

// Merchant is a registered test merchant with its credentials.
type Merchant struct {
	ID, Email, Password, Token, APIKey string
}

// Register creates a merchant through the API and returns its credentials.
func (e *Env) Register(email, name, address string) Merchant {
	e.T.Helper()
	pw := "correct horse battery"
	r := e.Do("POST", "/api/auth/register", map[string]any{"email": email, "password": pw, "name": name, "kaspaAddress": address})
	if r.Status != http.StatusOK {
		e.T.Fatalf("register %s: %d %s", email, r.Status, r.Body)
	}
	m := r.JSON(e.T)
	tok := m["token"].(string)
	me := e.Do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+tok).JSON(e.T)
	return Merchant{ID: me["id"].(string), Email: email, Password: pw, Token: tok, APIKey: me["apiKey"].(string)}
}

// Bearer returns the Authorization header pair for m.
func (m Merchant) Bearer() []string { return []string{"Authorization", "Bearer " + m.Token} }

// Key returns the x-api-key header pair for m.
func (m Merchant) Key() []string { return []string{"x-api-key", m.APIKey} }

// Test addresses, valid on mainnet (research/kaspa.md §2.2).
const (
	AddrA = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"
	AddrB = "kaspa:qr35ennsep3hxfe7lnz5ee7j5jgmkjswsn35ennsep3hxfe7ln35cdv0dy335"
	AddrC = "kaspa:qp0l70zd5x85ttwd6jv7g3s3a8llzj96d8dncn4zmhv4tlzx5k2jyqh70xmfj"
)
