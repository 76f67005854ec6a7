package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"till/models/netguard"
	"till/web"
	"till/web/webtest"
	"till/workers/webhooks"
)

// webhookEnv is a Till whose webhook registration resolves names from a
// fixed table (never the real DNS).
func webhookEnv(t *testing.T, allowPrivate bool) *webtest.Env {
	return webtest.New(t, func(o *web.Options) {
		o.WebhookAllowPrivate = allowPrivate
		o.WebhookResolver = netguard.NewStaticResolver(map[string][]string{
			"your-server.com":      {"93.184.216.34"},
			"other.example.com":    {"2606:2800:220:1:248:1893:25c8:1946"},
			"intranet.example.com": {"10.20.30.40"},
			"rebind.example.com":   {"93.184.216.34", "127.0.0.1"},
		})
	})
}

func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func TestWebhookCreateAndListAsDocumented(t *testing.T) {
	env := webhookEnv(t, false)
	m := env.Register("hooks@example.com", "Hook Shop", webtest.AddrA)
	doc := `{"url":"https://your-server.com/webhook","events":["payment.confirmed","payment.expired"]}`
	r := env.Do("POST", "/api/webhooks", doc, m.Bearer()...)
	if r.Status != http.StatusOK {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	c := r.JSON(t)
	if keysOf(c) != "events,id,isActive,secret,url" {
		t.Fatalf("create response fields: %s", keysOf(c))
	}
	secret, _ := c["secret"].(string)
	if c["url"] != "https://your-server.com/webhook" || c["isActive"] != true || !regexp.MustCompile(`^whsec_[0-9a-f]{64}$`).MatchString(secret) {
		t.Fatalf("create response: %s", r.Body)
	}
	if evs := c["events"].([]any); len(evs) != 2 || evs[0] != "payment.confirmed" || evs[1] != "payment.expired" {
		t.Fatalf("events: %v", evs)
	}
	// x-api-key works too.
	r2 := env.Do("POST", "/api/webhooks", map[string]any{"url": "https://other.example.com/h", "events": []string{"*"}}, m.Key()...)
	if r2.Status != http.StatusOK {
		t.Fatalf("create with api key: %d %s", r2.Status, r2.Body)
	}

	list := env.Do("GET", "/api/webhooks", nil, m.Key()...)
	if list.Status != http.StatusOK || strings.Contains(string(list.Body), "secret") || strings.Contains(string(list.Body), secret) {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}
	data := list.JSON(t)["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("list has %d items", len(data))
	}
	first, second := data[0].(map[string]any), data[1].(map[string]any)
	if keysOf(first) != "createdAt,events,id,isActive,url" {
		t.Fatalf("list item fields: %s", keysOf(first))
	}
	if first["id"] != r2.JSON(t)["id"] || second["id"] != c["id"] {
		t.Fatal("list is not newest first")
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(second["createdAt"].(string)) {
		t.Fatalf("createdAt %v", second["createdAt"])
	}
	if r := env.Do("GET", "/api/webhooks", nil); r.Status != http.StatusUnauthorized || r.Error(t) != "Unauthorized" {
		t.Fatalf("no credentials: %d %s", r.Status, r.Body)
	}
}

func TestWebhookValidationErrors(t *testing.T) {
	for _, private := range []bool{false, true} {
		env := webhookEnv(t, private)
		m := env.Register("v@example.com", "V", webtest.AddrA)
		cases := []struct {
			name string
			body string
			want string // substring of the error; private-mode differences noted per case
		}{
			{"not json", `{"url":`, "Malformed JSON"},
			{"array body", `[]`, "JSON object"},
			{"empty body", ``, "JSON object"},
			{"url missing", `{"events":["*"]}`, "url is required"},
			{"url null", `{"url":null,"events":["*"]}`, "url must be a string"},
			{"url number", `{"url":5,"events":["*"]}`, "url must be a string"},
			{"url relative", `{"url":"/hook","events":["*"]}`, "absolute http:// or https:// URL"},
			{"url ftp", `{"url":"ftp://your-server.com/x","events":["*"]}`, "absolute http:// or https:// URL"},
			{"url credentials", `{"url":"https://me:pw@your-server.com/x","events":["*"]}`, "must not contain credentials"},
			{"url too long", `{"url":"https://your-server.com/` + strings.Repeat("x", 2100) + `","events":["*"]}`, "at most 2048 characters"},
			{"events missing", `{"url":"https://your-server.com/x"}`, "events is required"},
			{"events null", `{"url":"https://your-server.com/x","events":null}`, "non-empty array"},
			{"events string", `{"url":"https://your-server.com/x","events":"*"}`, "non-empty array"},
			{"events numbers", `{"url":"https://your-server.com/x","events":[1]}`, "non-empty array"},
			{"events empty", `{"url":"https://your-server.com/x","events":[]}`, "non-empty array"},
			{"events unknown", `{"url":"https://your-server.com/x","events":["payment.refunded"]}`, `Unknown event "payment.refunded"`},
			{"events duplicate", `{"url":"https://your-server.com/x","events":["payment.expired","payment.expired"]}`, "must not repeat"},
			{"events test", `{"url":"https://your-server.com/x","events":["webhook.test"]}`, "Unknown event"},
			{"isActive string", `{"url":"https://your-server.com/x","events":["*"],"isActive":"yes"}`, "isActive must be a boolean"},
			{"metadata address", `{"url":"http://169.254.169.254/latest","events":["*"]}`, "cloud metadata"},
			{"metadata name", `{"url":"http://metadata.google.internal/","events":["*"]}`, "cloud metadata"},
			{"unresolvable", `{"url":"https://nowhere.example.com/x","events":["*"]}`, "could not be resolved"},
		}
		if !private {
			cases = append(cases, []struct{ name, body, want string }{
				{"loopback", `{"url":"http://127.0.0.1:3000/hook","events":["*"]}`, "127.0.0.1 is a loopback address"},
				{"ipv6 loopback", `{"url":"http://[::1]/hook","events":["*"]}`, "loopback"},
				{"private", `{"url":"http://192.168.1.10/hook","events":["*"]}`, "private (RFC 1918)"},
				{"name to private", `{"url":"https://intranet.example.com/hook","events":["*"]}`, "intranet.example.com resolves to 10.20.30.40"},
				{"name to mixed", `{"url":"https://rebind.example.com/hook","events":["*"]}`, "127.0.0.1"},
				{"localhost", `{"url":"http://localhost:3000/hook","events":["*"]}`, "loopback"},
				{"mapped", `{"url":"http://[::ffff:10.0.0.1]/hook","events":["*"]}`, "private"},
				{"ula", `{"url":"http://[fd00::1]/hook","events":["*"]}`, "unique-local"},
				{"cgnat", `{"url":"http://100.64.0.1/hook","events":["*"]}`, "carrier-grade NAT"},
			}...)
		}
		for _, tc := range cases {
			t.Run(map[bool]string{false: "strict/", true: "allow-private/"}[private]+tc.name, func(t *testing.T) {
				r := env.Do("POST", "/api/webhooks", tc.body, m.Bearer()...)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d %s", r.Status, r.Body)
				}
				if msg := r.Error(t); !strings.Contains(msg, tc.want) {
					t.Fatalf("error %q does not contain %q", msg, tc.want)
				}
			})
		}
		if data := env.Do("GET", "/api/webhooks", nil, m.Bearer()...).JSON(t)["data"].([]any); len(data) != 0 {
			t.Fatalf("refused requests created %d endpoints", len(data))
		}
		if private {
			r := env.Do("POST", "/api/webhooks", `{"url":"http://127.0.0.1:3000/hook","events":["*"]}`, m.Bearer()...)
			if r.Status != http.StatusOK {
				t.Fatalf("allow-private loopback: %d %s", r.Status, r.Body)
			}
		}
	}
}

func TestWebhookEndpointsAreTenantScoped(t *testing.T) {
	env := webhookEnv(t, false)
	a := env.Register("a@example.com", "A", webtest.AddrA)
	b := env.Register("b@example.com", "B", webtest.AddrB)
	id := env.Do("POST", "/api/webhooks", `{"url":"https://your-server.com/a","events":["*"]}`, a.Bearer()...).JSON(t)["id"].(string)
	test := env.Do("POST", "/api/webhooks/"+id+"/test", nil, a.Bearer()...)
	if test.Status != http.StatusAccepted {
		t.Fatalf("test event: %d %s", test.Status, test.Body)
	}
	deliveryID := test.JSON(t)["id"].(string)
	patch := `{"url":"https://your-server.com/stolen","isActive":false}`
	cases := []struct {
		method, path, body, want string
	}{
		{"GET", "/api/webhooks/" + id, "", "Webhook not found"},
		{"PATCH", "/api/webhooks/" + id, patch, "Webhook not found"},
		{"DELETE", "/api/webhooks/" + id, "", "Webhook not found"},
		{"POST", "/api/webhooks/" + id + "/rotate-secret", "", "Webhook not found"},
		{"GET", "/api/webhooks/" + id + "/secret", "", "Webhook not found"},
		{"GET", "/api/webhooks/" + id + "/deliveries", "", "Webhook not found"},
		{"POST", "/api/webhooks/" + id + "/deliveries/" + deliveryID + "/redeliver", "", "Webhook not found"},
		{"POST", "/api/webhooks/" + id + "/test", "", "Webhook not found"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+strings.Replace(tc.path, id, ":id", 1), func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := env.Do(tc.method, tc.path, body, b.Bearer()...)
			if r.Status != http.StatusNotFound || r.Error(t) != tc.want {
				t.Fatalf("other merchant: %d %s", r.Status, r.Body)
			}
		})
	}
	for _, path := range []string{"/api/webhooks/not-a-uuid", "/api/webhooks/00000000-0000-0000-0000-000000000001"} {
		if r := env.Do("GET", path, nil, a.Bearer()...); r.Status != http.StatusNotFound {
			t.Fatalf("%s: %d", path, r.Status)
		}
	}
	if r := env.Do("POST", "/api/webhooks/"+id+"/deliveries/00000000-0000-0000-0000-000000000001/redeliver", nil, a.Bearer()...); r.Status != http.StatusNotFound || r.Error(t) != "Delivery not found" {
		t.Fatalf("unknown delivery: %d %s", r.Status, r.Body)
	}
	if data := env.Do("GET", "/api/webhooks", nil, b.Bearer()...).JSON(t)["data"].([]any); len(data) != 0 {
		t.Fatal("merchant b lists merchant a's endpoint")
	}
	got := env.Do("GET", "/api/webhooks/"+id, nil, a.Bearer()...).JSON(t)
	if got["url"] != "https://your-server.com/a" || got["isActive"] != true {
		t.Fatalf("a's endpoint was changed by b: %v", got)
	}
}

func TestWebhookLifecycle(t *testing.T) {
	env := webhookEnv(t, true)
	m := env.Register("life@example.com", "Life", webtest.AddrA)
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("thanks " + strings.Repeat("!", 2000)))
	}))
	defer rcv.Close()
	created := env.Do("POST", "/api/webhooks", map[string]any{"url": rcv.URL + "/kaspay", "events": []string{"payment.confirmed"}, "description": "orders"}, m.Bearer()...).JSON(t)
	id, secret := created["id"].(string), created["secret"].(string)

	got := env.Do("GET", "/api/webhooks/"+id, nil, m.Bearer()...)
	if g := got.JSON(t); keysOf(g) != "createdAt,description,events,id,isActive,updatedAt,url" || g["description"] != "orders" {
		t.Fatalf("get: %s", got.Body)
	}
	if r := env.Do("GET", "/api/webhooks/"+id+"/secret", nil, m.Bearer()...); r.JSON(t)["secret"] != secret || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %s", r.Body)
	}

	// PATCH: each field, validation all-or-nothing, empty body.
	r := env.Do("PATCH", "/api/webhooks/"+id, map[string]any{"events": []string{"*"}, "isActive": false}, m.Bearer()...)
	if p := r.JSON(t); r.Status != 200 || p["isActive"] != false || p["events"].([]any)[0] != "*" {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if r := env.Do("PATCH", "/api/webhooks/"+id, map[string]any{"isActive": true, "events": []string{"nope"}}, m.Bearer()...); r.Status != 400 {
		t.Fatalf("invalid patch: %d", r.Status)
	}
	if g := env.Do("GET", "/api/webhooks/"+id, nil, m.Bearer()...).JSON(t); g["isActive"] != false {
		t.Fatal("an invalid PATCH changed the endpoint")
	}
	if r := env.Do("PATCH", "/api/webhooks/"+id, `{}`, m.Bearer()...); r.Status != 400 || r.Error(t) != "No fields to update" {
		t.Fatalf("empty patch: %d %s", r.Status, r.Body)
	}
	if r := env.Do("POST", "/api/webhooks/"+id+"/test", nil, m.Bearer()...); r.Status != http.StatusConflict || !strings.Contains(r.Error(t), "inactive") {
		t.Fatalf("test on inactive: %d %s", r.Status, r.Body)
	}
	if r := env.Do("PATCH", "/api/webhooks/"+id, map[string]any{"isActive": true, "url": rcv.URL + "/v2"}, m.Bearer()...); r.Status != 200 || r.JSON(t)["url"] != rcv.URL+"/v2" {
		t.Fatalf("patch url: %d %s", r.Status, r.Body)
	}

	// Rotate: the new secret is returned and revealed from then on.
	rot := env.Do("POST", "/api/webhooks/"+id+"/rotate-secret", nil, m.Bearer()...).JSON(t)
	if rot["secret"] == secret || rot["id"] != id {
		t.Fatalf("rotate: %v", rot)
	}
	if env.Do("GET", "/api/webhooks/"+id+"/secret", nil, m.Bearer()...).JSON(t)["secret"] != rot["secret"] {
		t.Fatal("reveal after rotate")
	}

	// Test event, sent by a dispatcher, shows up in the delivery log.
	test := env.Do("POST", "/api/webhooks/"+id+"/test", nil, m.Bearer()...)
	if tj := test.JSON(t); test.Status != 202 || tj["event"] != "webhook.test" || tj["status"] != "pending" || tj["nextAttemptAt"] == nil {
		t.Fatalf("test: %d %s", test.Status, test.Body)
	}
	d := &webhooks.Dispatcher{Store: env.Store, Policy: &netguard.Policy{AllowPrivate: true}}
	if n, err := d.DeliverDue(context.Background()); err != nil || n != 1 || hits.Load() != 1 {
		t.Fatalf("dispatch: %d %v (hits %d)", n, err, hits.Load())
	}
	log := env.Do("GET", "/api/webhooks/"+id+"/deliveries", nil, m.Bearer()...)
	items := log.JSON(t)["data"].([]any)
	if len(items) != 1 {
		t.Fatalf("deliveries: %s", log.Body)
	}
	it := items[0].(map[string]any)
	if keysOf(it) != "attemptLog,attempts,createdAt,deliveredAt,event,eventId,id,lastError,lastStatusCode,nextAttemptAt,status,updatedAt" ||
		it["status"] != "delivered" || it["nextAttemptAt"] != nil || it["lastError"] != nil {
		t.Fatalf("delivery: %s", log.Body)
	}
	att := it["attemptLog"].([]any)[0].(map[string]any)
	if keysOf(att) != "attemptedAt,error,id,latencyMs,responseSnippet,statusCode" || att["error"] != nil ||
		len(att["responseSnippet"].(string)) != 1024 || !strings.HasPrefix(att["responseSnippet"].(string), "thanks !") {
		t.Fatalf("attempt: %v", att)
	}
	if r := env.Do("GET", "/api/webhooks/"+id+"/deliveries?status=failed", nil, m.Bearer()...); len(r.JSON(t)["data"].([]any)) != 0 {
		t.Fatal("status filter")
	}
	for _, q := range []string{"?status=nope", "?limit=0", "?limit=x", "?limit=201"} {
		if r := env.Do("GET", "/api/webhooks/"+id+"/deliveries"+q, nil, m.Bearer()...); r.Status != 400 {
			t.Fatalf("deliveries%s: %d", q, r.Status)
		}
	}

	// Redeliver sends it again.
	re := env.Do("POST", "/api/webhooks/"+id+"/deliveries/"+it["id"].(string)+"/redeliver", nil, m.Bearer()...)
	if rj := re.JSON(t); re.Status != 202 || rj["status"] != "pending" || len(rj["attemptLog"].([]any)) != 1 {
		t.Fatalf("redeliver: %d %s", re.Status, re.Body)
	}
	if n, _ := d.DeliverDue(context.Background()); n != 1 || hits.Load() != 2 {
		t.Fatalf("redelivery dispatched %d (hits %d)", n, hits.Load())
	}

	// Delete: gone, with its deliveries.
	if r := env.Do("DELETE", "/api/webhooks/"+id, nil, m.Bearer()...); r.Status != 200 || r.JSON(t)["deleted"] != true {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := env.Do("GET", "/api/webhooks/"+id, nil, m.Bearer()...); r.Status != 404 {
		t.Fatalf("after delete: %d", r.Status)
	}
	if r := env.Do("DELETE", "/api/webhooks/"+id, nil, m.Bearer()...); r.Status != 404 {
		t.Fatalf("second delete: %d", r.Status)
	}
}
