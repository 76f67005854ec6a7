package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"till/models"
	"till/web/middleware"
	"till/web/webtest"
)

// idemCase is one create route made idempotent: how to call it, a second
// body that differs, and how to count what it created.
type idemCase struct {
	name   string
	path   func(env *webtest.Env, m webtest.Merchant) string
	body   string
	other  string
	public bool // keys scoped to the client IP, no credentials
	count  func(t *testing.T, env *webtest.Env, m webtest.Merchant) int
}

func countJSONList(path, field string) func(t *testing.T, env *webtest.Env, m webtest.Merchant) int {
	return func(t *testing.T, env *webtest.Env, m webtest.Merchant) int {
		r := env.Do("GET", path, nil, m.Key()...)
		data, ok := r.JSON(t)[field].([]any)
		if !ok {
			t.Fatalf("GET %s: %s", path, r.Body)
		}
		return len(data)
	}
}

// TestIdempotencyKeys: on every create of the KasPay surface, the same key
// and body replay the first response byte for byte (Idempotent-Replayed),
// another body with the key is a 422, a request while the first runs is a
// 409, keys belong to one merchant (or client IP), bad keys are a 400 and
// refused requests create nothing.
func TestIdempotencyKeys(t *testing.T) {
	env := webhookEnv(t, false)
	a := env.Register("idem-a@example.com", "Idem A", webtest.AddrA)
	b := env.Register("idem-b@example.com", "Idem B", webtest.AddrB)
	link := env.Do("POST", "/api/links", map[string]any{"title": "Mug", "amount": 10, "currency": "KAS"}, a.Key()...).JSON(t)
	hook := env.Do("POST", "/api/webhooks", map[string]any{"url": "https://your-server.com/h", "events": []string{"*"}}, a.Key()...).JSON(t)
	hookID := hook["id"].(string)
	slug := link["slug"].(string)

	cases := []idemCase{
		{name: "links", path: func(*webtest.Env, webtest.Merchant) string { return "/api/links" },
			body:  `{"title":"Plan","amount":5,"currency":"KAS"}`,
			other: `{"title":"Plan","amount":6,"currency":"KAS"}`,
			count: countJSONList("/api/links", "data")},
		{name: "payments", public: true, path: func(*webtest.Env, webtest.Merchant) string { return "/api/payments" },
			body:  `{"paymentLinkSlug":"` + slug + `"}`,
			other: `{"paymentLinkSlug":"` + slug + `","customerName":"Other"}`,
			count: countJSONList("/api/payments", "data")},
		{name: "webhooks", path: func(*webtest.Env, webtest.Merchant) string { return "/api/webhooks" },
			body:  `{"url":"https://your-server.com/a","events":["*"]}`,
			other: `{"url":"https://your-server.com/b","events":["*"]}`,
			count: func(t *testing.T, env *webtest.Env, m webtest.Merchant) int {
				r := env.Do("GET", "/api/webhooks", nil, m.Key()...)
				var n int
				for _, e := range r.JSON(t)["data"].([]any) {
					if strings.HasPrefix(e.(map[string]any)["url"].(string), "https://your-server.com/a") {
						n++
					}
				}
				return n
			}},
		{name: "webhook secret rotation", path: func(*webtest.Env, webtest.Merchant) string {
			return "/api/webhooks/" + hookID + "/rotate-secret"
		}, body: `{}`, other: `{"x":1}`},
		// A second test delivery without a key would be refused (one
		// pending per endpoint): the retry gets the first answer instead.
		{name: "test delivery", path: func(*webtest.Env, webtest.Merchant) string {
			return "/api/webhooks/" + hookID + "/test"
		}, body: `{}`, other: `{"x":1}`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := "order-" + tc.name
			auth := func(m webtest.Merchant) []string {
				if tc.public {
					return nil
				}
				return m.Bearer() // the API key changes when rotated; the JWT stays valid
			}
			before := 0
			if tc.count != nil {
				before = tc.count(t, env, a)
			}
			first := env.Do("POST", tc.path(env, a), tc.body, append(auth(a), middleware.HeaderIdempotencyKey, key)...)
			if first.Status >= 300 || first.Header.Get(middleware.HeaderIdempotentReplayed) != "" {
				t.Fatalf("first: %d %s %v", first.Status, first.Body, first.Header)
			}
			again := env.Do("POST", tc.path(env, a), tc.body, append(auth(a), middleware.HeaderIdempotencyKey, key)...)
			if again.Status != first.Status || !bytes.Equal(again.Body, first.Body) ||
				again.Header.Get(middleware.HeaderIdempotentReplayed) != "true" ||
				again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
				t.Fatalf("replay: %d %s (replayed %q), first %d %s", again.Status, again.Body,
					again.Header.Get(middleware.HeaderIdempotentReplayed), first.Status, first.Body)
			}
			other := env.Do("POST", tc.path(env, a), tc.other, append(auth(a), middleware.HeaderIdempotencyKey, key)...)
			if other.Status != http.StatusUnprocessableEntity || !strings.Contains(other.Error(t), "Idempotency-Key") {
				t.Fatalf("other body: %d %s", other.Status, other.Body)
			}
			if tc.count != nil {
				if got := tc.count(t, env, a); got != before+1 {
					t.Fatalf("created %d, want exactly 1", got-before)
				}
			}
			// Another merchant's key space is its own (public routes: the
			// same client IP shares one).
			if !tc.public && !strings.Contains(tc.path(env, a), hookID) {
				rb := env.Do("POST", tc.path(env, b), tc.body, append(auth(b), middleware.HeaderIdempotencyKey, key)...)
				if rb.Status >= 300 || rb.Header.Get(middleware.HeaderIdempotentReplayed) != "" {
					t.Fatalf("merchant B with A's key: %d %s", rb.Status, rb.Body)
				}
			}
			// A request while the first with a key runs is a 409.
			scope := "merchant:" + a.ID
			if tc.public {
				scope = "ip:0.0.0.0"
			}
			busy := "busy-" + string(rune('a'+i))
			if _, err := env.Store.BeginIdempotent(context.Background(), scope, busy,
				models.RequestFingerprint("POST", tc.path(env, a), []byte(tc.body))); err != nil {
				t.Fatal(err)
			}
			r := env.Do("POST", tc.path(env, a), tc.body, append(auth(a), middleware.HeaderIdempotencyKey, busy)...)
			if r.Status != http.StatusConflict || !strings.Contains(r.Error(t), "in progress") {
				t.Fatalf("in flight: %d %s", r.Status, r.Body)
			}
		})
	}

	// Rotating the API key revokes the credentials that asked for it: the
	// retry comes with the new key, and gets the same new key back.
	t.Run("api key rotation", func(t *testing.T) {
		c := env.Register("idem-rot@example.com", "Idem Rot", webtest.AddrA)
		first := env.Do("POST", "/api/settings/api-key", nil, append(c.Key(), middleware.HeaderIdempotencyKey, "rotate-1")...)
		newKey, _ := first.JSON(t)["apiKey"].(string)
		if first.Status != http.StatusOK || newKey == "" || newKey == c.APIKey {
			t.Fatalf("rotate: %d %s", first.Status, first.Body)
		}
		again := env.Do("POST", "/api/settings/api-key", nil, "x-api-key", newKey, middleware.HeaderIdempotencyKey, "rotate-1")
		if again.Status != http.StatusOK || !bytes.Equal(again.Body, first.Body) || again.Header.Get(middleware.HeaderIdempotentReplayed) != "true" {
			t.Fatalf("replayed rotation: %d %s", again.Status, again.Body)
		}
		if me := env.Do("GET", "/api/auth/me", nil, "x-api-key", newKey); me.Status != http.StatusOK {
			t.Fatalf("the replay rotated again: %d", me.Status)
		}
	})

	t.Run("bad keys", func(t *testing.T) {
		n := countJSONList("/api/links", "data")(t, env, a)
		for _, k := range []string{strings.Repeat("k", models.MaxIdempotencyKeyLen+1), "tab\tkey", "é"} {
			r := env.Do("POST", "/api/links", `{"title":"Bad","amount":5,"currency":"KAS"}`, append(a.Bearer(), middleware.HeaderIdempotencyKey, k)...)
			if r.Status != http.StatusBadRequest || !strings.Contains(r.Error(t), "Idempotency-Key") {
				t.Fatalf("key %q: %d %s", k, r.Status, r.Body)
			}
		}
		if got := countJSONList("/api/links", "data")(t, env, a); got != n {
			t.Fatalf("a refused request created %d links", got-n)
		}
		// Without the header every request creates.
		for range 2 {
			env.Do("POST", "/api/links", `{"title":"Free","amount":5,"currency":"KAS"}`, a.Bearer()...)
		}
		if got := countJSONList("/api/links", "data")(t, env, a); got != n+2 {
			t.Fatalf("without a key: %d links created, want 2", got-n)
		}
	})

	t.Run("a refused create is replayed too", func(t *testing.T) {
		bad := `{"title":"","amount":5,"currency":"KAS"}`
		r1 := env.Do("POST", "/api/links", bad, append(a.Bearer(), middleware.HeaderIdempotencyKey, "bad-title")...)
		r2 := env.Do("POST", "/api/links", bad, append(a.Bearer(), middleware.HeaderIdempotencyKey, "bad-title")...)
		if r1.Status != http.StatusBadRequest || r2.Status != r1.Status || !bytes.Equal(r1.Body, r2.Body) ||
			r2.Header.Get(middleware.HeaderIdempotentReplayed) != "true" {
			t.Fatalf("refused create: %d %s / %d %s", r1.Status, r1.Body, r2.Status, r2.Body)
		}
	})
}

// TestIdempotencyConcurrent sends the same create with one key from eight
// clients at once over real HTTP: exactly one link is created; every other
// answer is that same response replayed or a 409 while it ran.
func TestIdempotencyConcurrent(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("idem-race@example.com", "Race", webtest.AddrA)
	base := env.Listen()
	body := `{"title":"Once","amount":7,"currency":"KAS"}`
	const n = 8
	type answer struct {
		status   int
		body     string
		replayed bool
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", base+"/api/links", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+m.Token)
			req.Header.Set(middleware.HeaderIdempotencyKey, "race-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, string(raw), resp.Header.Get(middleware.HeaderIdempotentReplayed) == "true"}
		}()
	}
	close(start)
	wg.Wait()
	created := ""
	for _, a := range answers {
		if a.status == http.StatusOK && !a.replayed {
			if created != "" {
				t.Fatalf("two requests ran: %s / %s", created, a.body)
			}
			created = a.body
		}
	}
	if created == "" {
		t.Fatalf("no request ran: %+v", answers)
	}
	for _, a := range answers {
		switch {
		case a.status == http.StatusOK && a.body == created:
		case a.status == http.StatusConflict:
		default:
			t.Fatalf("unexpected answer %d %s", a.status, a.body)
		}
	}
	if got := countJSONList("/api/links", "data")(t, env, m); got != 1 {
		t.Fatalf("%d links created, want 1", got)
	}
}

// TestIdempotencyKiraPay: the KiraPay creates take the same header; the
// seed's generate body replayed gives the same link, another body with the
// key is a 422 IDEMPOTENCY_KEY_REUSED in the KiraPay error shape.
func TestIdempotencyKiraPay(t *testing.T) {
	env := newKiraEnv(t)
	m := env.Register("idem-kira@example.com", "Idem Kira", webtest.AddrA)
	hdr := append(m.Key(), middleware.HeaderIdempotencyKey, "order-A1209")
	first := env.Do("POST", "/api/link/generate", seedGenerateBody, hdr...)
	url := kiraOK(t, first, http.StatusCreated)["url"]
	again := env.Do("POST", "/api/link/generate", seedGenerateBody, hdr...)
	if again.Status != http.StatusCreated || !bytes.Equal(again.Body, first.Body) || again.Header.Get(middleware.HeaderIdempotentReplayed) != "true" {
		t.Fatalf("replay: %d %s", again.Status, again.Body)
	}
	other := strings.Replace(seedGenerateBody, "100.5", "101", 1)
	kiraErr(t, env.Do("POST", "/api/link/generate", other, hdr...), http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "/api/link/generate")
	kiraErr(t, env.Do("POST", "/api/link/generate", seedGenerateBody, append(m.Key(), middleware.HeaderIdempotencyKey, "")...),
		http.StatusBadRequest, "VALIDATION_ERROR", "/api/link/generate")
	list := kiraOK(t, env.Do("GET", "/api/link", nil, m.Key()...), http.StatusOK)
	if list["total"] != json.Number("1") || !strings.HasSuffix(url.(string), list["links"].([]any)[0].(map[string]any)["code"].(string)) {
		t.Fatalf("links after a replay: %v", list)
	}
}
