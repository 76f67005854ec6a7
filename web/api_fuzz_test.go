package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"testing"

	"till/models"
	"till/models/netguard"
	"till/web"
	"till/web/webtest"
)

// How a fuzzed route authenticates.
const (
	fuzzPublic = iota // no credentials
	fuzzShared        // Bearer JWT of the fixture's merchant (links, payments, webhooks)
	fuzzOwn           // a merchant of the route's own, by x-api-key, refreshed from a 200's "apiKey"
)

// fuzzRoute is one route that takes a JSON body. Path and seed bodies may
// name the fixture's objects: {slug} (an active KAS link), {usdcSlug} (an
// open-amount USDC link on base-sepolia), {link} (a link only PATCH
// touches), {webhook} and {delivery}.
type fuzzRoute struct {
	method, path string
	auth         int
	seeds        []string
}

// fuzzRoutes is every route of both API surfaces that takes a body. The
// KiraPay routes answer errors as {statusCode, message, timestamp, path}
// (checkFuzzAnswer picks the shape by the route's surface).
var fuzzRoutes = []fuzzRoute{
	{"POST", "/api/link/generate", fuzzShared, []string{
		`{"currency":"USDC","receiver":"0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6","price":100.5,"name":"Order #A1209","redirectUrl":"https://merchant.example.com/thank-you"}`,
		`{"currency":"USDC","receiver":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","price":0,"name":"Open","chain":"base-sepolia"}`,
		`{"currency":"USDC","receiver":"0x0000000000000000000000000000000000000000","price":1,"name":"z"}`,
		`{"currency":"KAS","price":"1","name":7}`, `{"price":1e-7}`, `[]`, `null`, ``,
	}},
	{"POST", "/api/admin/webhooks/endpoints", fuzzShared, []string{
		`{"url":"https://your-server.com/webhooks/kirapay","secret":"whsec_your_webhook_secret"}`,
		`{"url":"https://your-server.com/k"}`, `{"url":"http://127.0.0.1/k","secret":"short"}`, `{"url":5,"secret":[]}`,
	}},
	{"PATCH", "/api/admin/webhooks/endpoints/{kiraHook}", fuzzShared, []string{
		`{"url":"https://your-server.com/new","secret":"whsec_new_webhook_secret"}`, `{"isActive":false}`,
		`{"isActive":"no"}`, `{}`, `{"secret":null}`,
	}},
	{"POST", "/api/auth/register", fuzzPublic, []string{
		`{"email":"fuzz-new@example.com","password":"correct horse battery","name":"Shop","kaspaAddress":"` + webtest.AddrB + `"}`,
		`{"email":"fuzz@example.com","password":"correct horse battery","name":"Shop"}`,
		`{"email":"not-an-email","password":"x"}`, `{"email":7}`, `[]`, `null`, `{}`, ``,
	}},
	{"POST", "/api/auth/login", fuzzPublic, []string{
		`{"email":"fuzz@example.com","password":"correct horse battery"}`, `{"email":"fuzz@example.com","password":"wrong"}`,
		`{"email":null,"password":true}`,
	}},
	{"PATCH", "/api/settings", fuzzOwn, []string{
		`{"name":"Renamed","paymentExpiry":30,"requiredConfirmations":10}`,
		`{"kaspaAddress":"` + webtest.AddrC + `"}`, `{"kaspaAddress":"kaspa:nope"}`,
		`{"evmAddress":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}`, `{"evmAddress":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}`,
		`{"kaspaKpub":"kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"}`,
		`{"kaspaKpub":""}`, `{"paymentExpiry":-1}`, `{"paymentExpiry":1e400}`, `{"requiredConfirmations":"10"}`,
	}},
	{"POST", "/api/settings/api-key", fuzzOwn, []string{``, `{}`, `{"x":1}`}},
	{"POST", "/api/links", fuzzShared, []string{
		`{"title":"Plan","description":"d","amount":100,"currency":"KAS","expiryMinutes":30,"status":"active","successMessage":"ok","redirectUrl":"https://yoursite.com/thanks","linkExpiresIn":10080}`,
		`{"title":"USD","amount":19.99,"currency":"USD"}`, `{"title":"Tiny","amount":0.000000001,"currency":"KAS"}`,
		`{"title":"USDC","amount":12.5,"currency":"USDC","chain":"base-sepolia","receiver":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}`,
		`{"title":"Open","amount":0,"currency":"USDC","chain":"base-sepolia"}`, `{"title":"x","amount":"100","currency":"KAS"}`,
		`{"title":"x","amount":1e999999,"currency":"KAS"}`, `{"title":"x","amount":-1,"currency":"EUR"}`,
		`{"title":"","amount":1,"currency":"KAS","redirectUrl":"javascript:alert(1)"}`, `{"title":null,"amount":null}`,
	}},
	{"PATCH", "/api/links/{link}", fuzzShared, []string{
		`{"status":"inactive"}`, `{"status":"active","amount":5}`, `{"expiryMinutes":null,"linkExpiresIn":0}`,
		`{"title":"\u0000\ud800"}`, `{"currency":"USDC","chain":"mainnet"}`,
	}},
	{"POST", "/api/payments", fuzzPublic, []string{
		`{"paymentLinkSlug":"{slug}","customerEmail":"a@b.co","customerName":"Ann","metadata":{"order":"42"}}`,
		`{"paymentLinkSlug":"{usdcSlug}","amount":"12.34"}`, `{"paymentLinkSlug":"{usdcSlug}","amount":0.001}`,
		`{"paymentLinkSlug":"{usdcSlug}","amount":"1e-7"}`, `{"paymentLinkSlug":"{slug}","metadata":[1]}`,
		`{"paymentLinkSlug":"missing"}`, `{"paymentLinkSlug":5}`,
	}},
	{"POST", "/api/webhooks", fuzzShared, []string{
		`{"url":"https://your-server.com/webhook","events":["payment.confirmed","payment.expired"]}`,
		`{"url":"https://your-server.com/h","events":["*"],"description":"all"}`, `{"url":"http://127.0.0.1/h","events":["*"]}`,
		`{"url":"https://unknown.invalid/h","events":["*"]}`, `{"url":"ftp://x","events":[]}`, `{"url":"https://your-server.com/h","events":"*"}`,
	}},
	{"PATCH", "/api/webhooks/{webhook}", fuzzShared, []string{
		`{"isActive":false}`, `{"isActive":true,"events":["payment.expired"]}`, `{"url":null}`, `{"description":null}`,
	}},
	{"POST", "/api/webhooks/{webhook}/rotate-secret", fuzzShared, []string{``, `{}`}},
	{"POST", "/api/webhooks/{webhook}/test", fuzzShared, []string{``, `{"event":"payment.confirmed"}`}},
	{"POST", "/api/webhooks/{webhook}/deliveries/{delivery}/redeliver", fuzzShared, []string{``, `[]`}},
}

// fuzzAPI is one running Till with the objects the routes name, shared by
// every iteration of a fuzz worker.
type fuzzAPI struct {
	env    *webtest.Env
	shared webtest.Merchant
	fill   *strings.Replacer

	mu  sync.Mutex
	own map[string]string // route key → its merchant's current API key
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	env := webtest.NewWith(f, []func(*models.StoreOptions){webtest.WithEVMChains(usdcTestChain)}, func(o *web.Options) {
		o.AuthRateLimit, o.PublicRateLimit = 1<<30, 1<<30
		o.WebhookResolver = netguard.NewStaticResolver(map[string][]string{"your-server.com": {"93.184.216.34"}})
	})
	// Fuzzed requests are arbitrary by design (numbers beyond float64,
	// lone surrogates): checkFuzzAnswer checks what any answer must be, and
	// the OpenAPI contract is checked by the API tests' real requests.
	env.NoContract = true
	fx := &fuzzAPI{env: env, own: map[string]string{}}
	fx.shared = env.Register("fuzz@example.com", "Fuzz Shop", webtest.AddrA)
	if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": evmAddr1}, fx.shared.Bearer()...); r.Status != http.StatusOK {
		f.Fatalf("set evmAddress: %d %s", r.Status, r.Body)
	}
	create := func(method, path string, body any) map[string]any {
		r := env.Do(method, path, body, fx.shared.Bearer()...)
		if r.Status/100 != 2 {
			f.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
		}
		return r.JSON(f)
	}
	pay := create("POST", "/api/links", map[string]any{"title": "Pay", "amount": 100, "currency": "KAS"})
	usdc := create("POST", "/api/links", map[string]any{"title": "Open", "amount": 0, "currency": "USDC", "chain": usdcTestChain})
	patch := create("POST", "/api/links", map[string]any{"title": "Patch", "amount": 1, "currency": "KAS"})
	hook := create("POST", "/api/webhooks", map[string]any{"url": "https://your-server.com/h", "events": []string{"*"}})
	delivery := create("POST", "/api/webhooks/"+hook["id"].(string)+"/test", nil)
	kiraHook := create("POST", "/api/admin/webhooks/endpoints", map[string]any{"url": "https://your-server.com/kira"})
	fx.fill = strings.NewReplacer("{slug}", pay["slug"].(string), "{usdcSlug}", usdc["slug"].(string),
		"{link}", patch["id"].(string), "{webhook}", hook["id"].(string), "{delivery}", delivery["id"].(string),
		"{kiraHook}", kiraHook["data"].(map[string]any)["_id"].(string))
	for i, r := range fuzzRoutes {
		if r.auth == fuzzOwn {
			fx.own[r.key()] = env.Register(fmt.Sprintf("own%d@example.com", i), "Own", webtest.AddrA).APIKey
		}
	}
	return fx
}

func (r fuzzRoute) key() string { return r.method + " " + r.path }

// route returns the route named by key, or one chosen by its hash so every
// fuzzed key reaches some route.
func fuzzRouteOf(key string) fuzzRoute {
	for _, r := range fuzzRoutes {
		if r.key() == key {
			return r
		}
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return fuzzRoutes[int(h.Sum32()%uint32(len(fuzzRoutes)))]
}

// do sends body to route as the route's caller would.
func (fx *fuzzAPI) do(t *testing.T, route fuzzRoute, body []byte) webtest.Response {
	env := *fx.env
	env.T = t // Env.Do reports through the iteration's t, never the F
	var headers []string
	switch route.auth {
	case fuzzShared:
		headers = fx.shared.Bearer()
	case fuzzOwn:
		fx.mu.Lock()
		headers = []string{"x-api-key", fx.own[route.key()]}
		fx.mu.Unlock()
	}
	r := env.Do(route.method, fx.fill.Replace(route.path), []byte(fx.fill.Replace(string(body))), headers...)
	if route.auth == fuzzOwn && r.Status == http.StatusOK {
		var rotated struct {
			APIKey string `json:"apiKey"`
		}
		if json.Unmarshal(r.Body, &rotated) == nil && rotated.APIKey != "" {
			fx.mu.Lock()
			fx.own[route.key()] = rotated.APIKey
			fx.mu.Unlock()
		}
	}
	return r
}

// checkFuzzAnswer is what any body must get: no server error, JSON, and on
// a 4xx exactly {"error": "<message>"}.
func checkFuzzAnswer(t *testing.T, route fuzzRoute, body []byte, r webtest.Response) {
	t.Helper()
	if r.Status < 200 || r.Status >= 500 {
		t.Fatalf("%s with %q: status %d: %s", route.key(), body, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s with %q: %d with Content-Type %q", route.key(), body, r.Status, ct)
	}
	if r.Status < 400 {
		if !json.Valid(r.Body) {
			t.Fatalf("%s with %q: %d with a body that is not JSON: %q", route.key(), body, r.Status, r.Body)
		}
		return
	}
	var e map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	if err := dec.Decode(&e); err != nil || dec.More() {
		t.Fatalf("%s with %q: %d error body is not one JSON object: %q", route.key(), body, r.Status, r.Body)
	}
	if route.kiraPay() {
		msg, _ := e["message"].(string)
		code, _ := e["statusCode"].(float64)
		if len(e) != 4 || msg == "" || int(code) != r.Status || e["timestamp"] == nil || e["path"] == nil {
			t.Fatalf("%s with %q: %d error body is not {statusCode, message, timestamp, path}: %s", route.key(), body, r.Status, r.Body)
		}
		return
	}
	if msg, ok := e["error"].(string); !ok || msg == "" || len(e) != 1 {
		t.Fatalf("%s with %q: %d error body is not {\"error\": message}: %s", route.key(), body, r.Status, r.Body)
	}
}

// kiraPay reports whether the route is on the KiraPay surface.
func (r fuzzRoute) kiraPay() bool {
	return strings.HasPrefix(r.path, "/api/link/") || strings.HasPrefix(r.path, "/api/admin/")
}

// FuzzAPIBodies sends arbitrary bodies to every route of fuzzRoutes through
// the real HTTP stack and database (one Till per fuzz worker): whatever the
// body, the answer is below 500 and a 4xx is a well-formed error.
func FuzzAPIBodies(f *testing.F) {
	for _, r := range fuzzRoutes {
		for _, s := range r.seeds {
			f.Add(r.key(), []byte(s))
		}
	}
	fx := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, key string, body []byte) {
		route := fuzzRouteOf(key)
		checkFuzzAnswer(t, route, body, fx.do(t, route, body))
	})
}
