package web_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"till/models"
	"till/web"
	"till/web/webtest"
	"till/workers/kaspa"
	"till/workers/kaspa/double"
	"till/workers/price"
)

// clockOffset shifts the domain clock of paymentsEnv stores (link expiry).
var clockOffset atomic.Int64

// paymentsEnv is a Till whose price feed reads the Kaspa double's
// CoinGecko route over real HTTP.
func paymentsEnv(t *testing.T) (*webtest.Env, *double.Chain, webtest.Merchant) {
	t.Helper()
	chain := double.New(double.Options{Clock: time.Now, Price: "0.125"})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	feed := &price.Feed{CoinGeckoURL: url + "/coingecko"}
	env := webtest.NewWith(t, []func(*models.StoreOptions){
		func(o *models.StoreOptions) {
			o.Rates = feed
			o.Now = func() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }
		},
	}, func(o *web.Options) { o.Rates = feed })
	m := env.Register("pay@example.com", "Pay Shop", webtest.AddrA)
	return env, chain, m
}

func createLink(t *testing.T, env *webtest.Env, m webtest.Merchant, body map[string]any) map[string]any {
	t.Helper()
	r := env.Do("POST", "/api/links", body, m.Bearer()...)
	if r.Status != 200 {
		t.Fatalf("link: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

func TestCreatePaymentSession(t *testing.T) {
	env, _, m := paymentsEnv(t)
	link := createLink(t, env, m, map[string]any{"title": "Coffee", "amount": 100, "currency": "KAS", "expiryMinutes": 45})
	before := time.Now().UTC()
	r := env.Do("POST", "/api/payments", map[string]any{
		"paymentLinkSlug": link["slug"], "customerEmail": "Buyer@Example.com", "customerName": "John Doe",
		"metadata": map[string]any{"orderId": "12345", "note": "<b>&</b>"},
	})
	if r.Status != 200 {
		t.Fatalf("session: %d %s", r.Status, r.Body)
	}
	p := r.JSON(t)
	if p["kaspaAddress"] != webtest.AddrA || p["status"] != "pending" {
		t.Fatalf("session %v", p)
	}
	amt := p["amountExpected"].(string)
	sompi, err := models.ParseAmount(amt, models.KAS, 1<<62)
	if err != nil || !strings.HasPrefix(amt, "100.00") || len(amt) != len("100.00000000") || sompi <= 100*models.SompiPerKAS || sompi > 100*models.SompiPerKAS+99_999 {
		t.Fatalf("amountExpected %q is not 100 KAS plus a small unique offset", amt)
	}
	exp, _ := time.Parse("2006-01-02T15:04:05.000Z", p["expiresAt"].(string))
	if d := exp.Sub(before); d < 44*time.Minute || d > 46*time.Minute {
		t.Fatalf("expiresAt %s is not the link's 45 minutes", exp)
	}
	if !strings.HasPrefix(p["paymentUri"].(string), webtest.AddrA+"?amount=100.") {
		t.Errorf("paymentUri %v", p["paymentUri"])
	}

	st := env.Do("GET", "/api/payments/"+p["id"].(string)+"/status", nil)
	s := st.JSON(t)
	if st.Status != 200 || s["status"] != "pending" || s["txId"] != nil || s["senderAddress"] != nil || s["confirmedAt"] != nil {
		t.Fatalf("status %d %s", st.Status, st.Body)
	}
	if n, ok := s["amountReceived"].(json.Number); !ok || n.String() != "0" {
		t.Fatalf("amountReceived %#v, want the number 0", s["amountReceived"])
	}
	if n, ok := s["confirmations"].(json.Number); !ok || n.String() != "0" {
		t.Fatalf("confirmations %#v", s["confirmations"])
	}

	list := env.Do("GET", "/api/payments", nil, m.Bearer()...).JSON(t)
	items := list["data"].([]any)
	if len(items) != 1 {
		t.Fatalf("%d payments", len(items))
	}
	it := items[0].(map[string]any)
	wantFields := map[string]any{"id": p["id"], "amountExpected": amt, "amountReceived": "0.00000000", "status": "pending",
		"customerName": "John Doe", "customerEmail": "buyer@example.com", "txId": nil, "senderAddress": nil, "confirmedAt": nil}
	for k, v := range wantFields {
		if it[k] != v {
			t.Errorf("list %s = %v, want %v", k, it[k], v)
		}
	}
	if meta := it["metadata"].(map[string]any); meta["orderId"] != "12345" || meta["note"] != "<b>&</b>" {
		t.Errorf("metadata %v", meta)
	}
}

func TestCreatePaymentUSD(t *testing.T) {
	env, chain, m := paymentsEnv(t)
	link := createLink(t, env, m, map[string]any{"title": "Shirt", "amount": 25, "currency": "USD"})
	r := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": link["slug"]})
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	p := r.JSON(t)
	// $25 at $0.125 per KAS = 200 KAS, plus the unique offset.
	if !strings.HasPrefix(p["amountExpected"].(string), "200.00") || p["rate"] != "0.125" || p["originalUsdAmount"] != "25.00000000" {
		t.Fatalf("USD session %v", p)
	}
	pay := env.Do("GET", "/api/payments/"+p["id"].(string), nil, m.Bearer()...).JSON(t)
	if pay["rate"] != "0.125" || pay["rateSource"] != "coingecko" || pay["priceAmount"] != "25.00000000" {
		t.Fatalf("stored rate %v %v %v", pay["rate"], pay["rateSource"], pay["priceAmount"])
	}

	// A zero price is never used: the session is refused with 503 and
	// nothing is created.
	env2, chain2, m2 := paymentsEnv(t)
	if err := chain2.SetPrice("0"); err != nil {
		t.Fatal(err)
	}
	link2 := createLink(t, env2, m2, map[string]any{"title": "Shirt", "amount": 25, "currency": "USD"})
	r = env2.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": link2["slug"]})
	if r.Status != 503 || !strings.Contains(r.Error(t), "price") {
		t.Fatalf("zero price: %d %s", r.Status, r.Body)
	}
	if n := len(env2.Do("GET", "/api/payments", nil, m2.Bearer()...).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("%d sessions created without a price", n)
	}
	_ = chain
}

func TestCreatePaymentErrors(t *testing.T) {
	env, _, m := paymentsEnv(t)
	active := createLink(t, env, m, map[string]any{"title": "A", "amount": 1})
	draft := createLink(t, env, m, map[string]any{"title": "D", "amount": 1, "status": "draft"})
	inactive := createLink(t, env, m, map[string]any{"title": "I", "amount": 1, "status": "inactive"})
	expired := createLink(t, env, m, map[string]any{"title": "E", "amount": 1, "linkExpiresIn": 1})
	clockOffset.Store(int64(2 * time.Minute)) // the 1-minute link has now expired
	defer clockOffset.Store(0)

	cases := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"unknown slug", map[string]any{"paymentLinkSlug": "nope-123456"}, 404, "Payment link not found"},
		{"missing slug", map[string]any{}, 400, "paymentLinkSlug is required"},
		{"draft", map[string]any{"paymentLinkSlug": draft["slug"]}, 400, "Payment link is not active"},
		{"inactive", map[string]any{"paymentLinkSlug": inactive["slug"]}, 400, "Payment link has expired"},
		{"expired", map[string]any{"paymentLinkSlug": expired["slug"]}, 400, "Payment link has expired"},
		{"bad email", map[string]any{"paymentLinkSlug": active["slug"], "customerEmail": "nope"}, 400, "Invalid email format"},
		{"metadata array", map[string]any{"paymentLinkSlug": active["slug"], "metadata": []int{1}}, 400, "metadata must be a JSON object"},
		{"metadata string", map[string]any{"paymentLinkSlug": active["slug"], "metadata": "x"}, 400, "metadata must be a JSON object"},
		{"metadata too big", map[string]any{"paymentLinkSlug": active["slug"], "metadata": map[string]string{"x": strings.Repeat("a", 5000)}}, 400, "metadata must be at most 4096 bytes"},
		{"name too long", map[string]any{"paymentLinkSlug": active["slug"], "customerName": strings.Repeat("n", 201)}, 400, "customerName must be at most 200 characters"},
		{"slug wrong type", map[string]any{"paymentLinkSlug": 5}, 400, "paymentLinkSlug must be a string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("POST", "/api/payments", tc.body)
			if r.Status != tc.status || !strings.Contains(r.Error(t), tc.msg) {
				t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, tc.status, tc.msg)
			}
		})
	}
	if n := len(env.Do("GET", "/api/payments", nil, m.Bearer()...).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("rejected requests created %d sessions", n)
	}
	if r := env.Do("GET", "/api/payments/00000000-0000-4000-8000-000000000000/status", nil); r.Status != 404 || r.Error(t) != "Payment not found" {
		t.Fatalf("unknown status: %d %s", r.Status, r.Body)
	}
	if r := env.Do("GET", "/api/payments/garbage/status", nil); r.Status != 404 {
		t.Fatalf("garbage id: %d", r.Status)
	}
}

func TestListPaymentsFiltersAndPages(t *testing.T) {
	env, _, m := paymentsEnv(t)
	other := env.Register("other@example.com", "Other", webtest.AddrB)
	l1 := createLink(t, env, m, map[string]any{"title": "One", "amount": 1})
	l2 := createLink(t, env, m, map[string]any{"title": "Two", "amount": 2})
	lo := createLink(t, env, other, map[string]any{"title": "Theirs", "amount": 3})
	ids := map[string]bool{}
	for i := 0; i < 7; i++ {
		slug := l1["slug"]
		if i%2 == 1 {
			slug = l2["slug"]
		}
		r := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": slug, "customerEmail": "c" + string(rune('a'+i)) + "@example.com"})
		ids[r.JSON(t)["id"].(string)] = true
	}
	theirs := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": lo["slug"]}).JSON(t)["id"].(string)

	// Pages of 3 cover every payment exactly once, newest first.
	seen := map[string]bool{}
	cursor := ""
	pages := 0
	var lastCreated string
	for {
		path := "/api/payments?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		body := env.Do("GET", path, nil, m.Bearer()...).JSON(t)
		pages++
		for _, it := range body["data"].([]any) {
			p := it.(map[string]any)
			if seen[p["id"].(string)] {
				t.Fatalf("payment %s on two pages", p["id"])
			}
			if lastCreated != "" && p["createdAt"].(string) > lastCreated {
				t.Fatalf("not newest first")
			}
			lastCreated = p["createdAt"].(string)
			seen[p["id"].(string)] = true
		}
		next, _ := body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 7 || pages != 3 || seen[theirs] {
		t.Fatalf("saw %d payments over %d pages (foreign included: %v)", len(seen), pages, seen[theirs])
	}

	count := func(q string) int {
		t.Helper()
		r := env.Do("GET", "/api/payments?"+q, nil, m.Bearer()...)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
		return len(r.JSON(t)["data"].([]any))
	}
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"status=pending", 7}, {"status=confirmed", 0}, {"link=" + l2["id"].(string), 3}, {"link=" + lo["id"].(string), 0},
		{"q=cc@example.com", 1}, {"from=2000-01-01", 7}, {"to=2000-01-01", 0},
	} {
		if got := count(tc.q); got != tc.want {
			t.Errorf("%s: %d payments, want %d", tc.q, got, tc.want)
		}
	}
	for _, q := range []string{"status=paid", "limit=0", "limit=x", "from=yesterday", "cursor=%%%", "link=nope", "limit=1000"} {
		if r := env.Do("GET", "/api/payments?"+q, nil, m.Bearer()...); r.Status != 400 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	// Another merchant's payment is a 404 on the detail route.
	if r := env.Do("GET", "/api/payments/"+theirs, nil, m.Bearer()...); r.Status != 404 {
		t.Fatalf("foreign payment: %d", r.Status)
	}
	if r := env.Do("GET", "/api/payments", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous list: %d", r.Status)
	}
}

func TestPriceAndNetwork(t *testing.T) {
	chain := double.New(double.Options{Clock: time.Now, Price: "0.0875"})
	url, stop, err := chain.StartLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := kaspa.NewClient(url, nil)
	feed := &price.Feed{CoinGeckoURL: url + "/coingecko", Fallback: client}
	env := webtest.New(t, func(o *web.Options) { o.Rates = feed; o.Chain = &kaspa.NetworkStats{Client: client} })

	r := env.Do("GET", "/api/price", nil)
	if r.Status != 200 {
		t.Fatalf("price: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if n, ok := body["price"].(json.Number); !ok || n.String() != "0.0875" || body["currency"] != "USD" {
		t.Fatalf("price body %s", r.Body)
	}

	r = env.Do("GET", "/api/network", nil)
	if r.Status != 200 {
		t.Fatalf("network: %d %s", r.Status, r.Body)
	}
	nb := r.JSON(t)
	if nb["networkName"] != "mainnet" {
		t.Errorf("networkName %v", nb["networkName"])
	}
	for _, k := range []string{"blockCount", "headerCount", "virtualDaaScore", "difficulty"} {
		if _, ok := nb[k].(json.Number); !ok {
			t.Errorf("%s = %#v, want a JSON number", k, nb[k])
		}
	}
	if nb["virtualDaaScore"].(json.Number).String() != strconv.FormatUint(chain.VirtualDaaScore(), 10) {
		t.Errorf("virtualDaaScore %v vs chain %d", nb["virtualDaaScore"], chain.VirtualDaaScore())
	}
}

func TestSessionRateLimit(t *testing.T) {
	env := webtest.New(t, func(o *web.Options) { o.PublicRateLimit = 2 })
	m := env.Register("rl@example.com", "RL", webtest.AddrA)
	link := createLink(t, env, m, map[string]any{"title": "A", "amount": 1})
	for i := 0; i < 2; i++ {
		if r := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": link["slug"]}); r.Status != 200 {
			t.Fatalf("session %d: %d", i+1, r.Status)
		}
	}
	r := env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": link["slug"]})
	if r.Status != 429 || !strings.Contains(r.Error(t), "Too many requests") {
		t.Fatalf("third session: %d %s", r.Status, r.Body)
	}
	if n := len(env.Do("GET", "/api/payments", nil, m.Bearer()...).JSON(t)["data"].([]any)); n != 2 {
		t.Fatalf("%d sessions exist", n)
	}
}
