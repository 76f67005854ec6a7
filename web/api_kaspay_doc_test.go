package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"till/models"
	"till/models/kaspa"
	"till/models/netguard"
	"till/web"
	"till/web/webtest"
	"till/workers/webhooks"
)

// The KasPay document's examples, as printed (only the slug of the link
// created first is substituted where the document says
// "premium-plan-abc123").
const (
	docLinkRequest = `{
  "title": "Premium Plan",
  "description": "Monthly subscription",
  "amount": 100,
  "currency": "KAS",
  "expiryMinutes": 30,
  "status": "active",
  "successMessage": "Thank you!",
  "redirectUrl": "https://yoursite.com/thanks",
  "linkExpiresIn": 10080
}`
	docLinkResponse = `{
  "id": "uuid",
  "title": "Premium Plan",
  "amount": "100.00000000",
  "slug": "premium-plan-abc123",
  "url": "https://kaspay.vercel.app/pay/premium-plan-abc123",
  "status": "active",
  "expiresAt": "2026-02-15T12:00:00.000Z"
}`
	docLinkListResponse = `{
  "data": [
    {
      "id": "uuid",
      "title": "Premium Plan",
      "amount": "100.00000000",
      "currency": "KAS",
      "slug": "premium-plan-abc123",
      "status": "active",
      "expiresAt": null,
      "expiryMinutes": 30,
      "createdAt": "2026-02-08T12:00:00.000Z"
    }
  ]
}`
	docLinkPatchRequest = `{
  "status": "active"
}`
	docLinkPatchResponse = `{
  "id": "uuid",
  "status": "active"
}`
	docPaymentRequest = `{
  "paymentLinkSlug": "premium-plan-abc123",
  "customerEmail": "customer@example.com",
  "customerName": "John Doe",
  "metadata": { "orderId": "12345" }
}`
	docPaymentResponse = `{
  "id": "payment-uuid",
  "kaspaAddress": "kaspa:qr...",
  "amountExpected": "100.00000000",
  "status": "pending",
  "expiresAt": "2026-02-08T13:00:00.000Z"
}`
	docStatusResponse = `{
  "id": "payment-uuid",
  "status": "confirmed",
  "amountReceived": 100,
  "senderAddress": "kaspatest:qr...",
  "txId": "kaspa-transaction-hash",
  "confirmations": 1,
  "confirmedAt": "2026-02-08T12:01:00.000Z"
}`
	docPaymentListResponse = `{
  "data": [
    {
      "id": "uuid",
      "amountExpected": "100.00000000",
      "amountReceived": "100.00000000",
      "status": "confirmed",
      "txId": "kaspa-tx-hash...",
      "senderAddress": "kaspatest:qr...",
      "customerName": "John Doe",
      "customerEmail": "customer@example.com",
      "createdAt": "2026-02-08T12:00:00.000Z",
      "confirmedAt": "2026-02-08T12:01:00.000Z"
    }
  ]
}`
	docWebhookRequest = `{
  "url": "https://your-server.com/webhook",
  "events": ["payment.confirmed", "payment.expired"]
}`
	docWebhookResponse = `{
  "id": "uuid",
  "url": "https://your-server.com/webhook",
  "events": ["payment.confirmed", "payment.expired"],
  "secret": "webhook-signing-secret",
  "isActive": true
}`
	docWebhookListResponse = `{
  "data": [
    {
      "id": "uuid",
      "url": "https://your-server.com/webhook",
      "events": ["payment.confirmed"],
      "isActive": true,
      "createdAt": "2026-02-08T12:00:00.000Z"
    }
  ]
}`
)

// docNullable are the documented fields that may be null even where the
// document's example shows a value (a pending payment has no txId yet, a
// link may never expire).
var docNullable = map[string]bool{
	"txId": true, "senderAddress": true, "confirmedAt": true, "customerName": true, "customerEmail": true,
	"expiresAt": true,
}

// jsonKind names the JSON type of a decoded value (numbers as json.Number).
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func decodeDoc(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("document example does not parse: %v\n%s", err, doc)
	}
	return m
}

// assertDocShape checks that got has every field of the document's example
// with the example's JSON type (null allowed for docNullable fields; the
// example's null allows a string). Extra fields are Till's extensions. In
// {"data": [...]} envelopes, exact says the envelope has no other key and
// every item is checked against the example's first item.
func assertDocShape(t *testing.T, where string, got map[string]any, doc string, exact bool) {
	t.Helper()
	want := decodeDoc(t, doc)
	if items, ok := want["data"].([]any); ok {
		if exact && len(got) != 1 {
			t.Errorf("%s: envelope has keys %v, the document's has only data", where, sortedKeys(got))
		}
		list, ok := got["data"].([]any)
		if !ok {
			t.Fatalf("%s: data is %s, want an array", where, jsonKind(got["data"]))
		}
		for i, it := range list {
			obj, ok := it.(map[string]any)
			if !ok {
				t.Fatalf("%s: data[%d] is %s", where, i, jsonKind(it))
			}
			checkFields(t, where, obj, items[0].(map[string]any))
		}
		return
	}
	checkFields(t, where, got, want)
}

func checkFields(t *testing.T, where string, got, want map[string]any) {
	t.Helper()
	for k, wv := range want {
		gv, ok := got[k]
		if !ok {
			t.Errorf("%s: field %q missing", where, k)
			continue
		}
		wk, gk := jsonKind(wv), jsonKind(gv)
		switch {
		case wk == gk:
		case gk == "null" && docNullable[k]:
		case wk == "null" && gk == "string":
		default:
			t.Errorf("%s: %q is a %s (%v), the document shows a %s", where, k, gk, gv, wk)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// docHarness is the checkout harness with webhooks allowed to reach a
// loopback receiver and the document's webhook host resolvable.
func docHarness(t *testing.T) *checkoutHarness {
	t.Helper()
	return newCheckoutHarness(t, func(o *web.Options) {
		o.WebhookAllowPrivate = true
		o.WebhookResolver = netguard.NewStaticResolver(map[string][]string{"your-server.com": {"93.184.216.34"}})
		o.PublicRateLimit = 1 << 30
	})
}

// TestKasPayDocumentExamples sends every example request of the KasPay
// document about links, payments, status and webhooks as printed, in the
// document's order, and checks each answer has the documented shape.
func TestKasPayDocumentExamples(t *testing.T) {
	h := docHarness(t)
	auth := h.m.Bearer()
	var slug, linkID, payID string
	// A link without its own expiryMinutes reads the merchant's default.
	plain := h.link(map[string]any{"title": "No own expiry"})

	steps := []struct {
		name, method string
		path         func() string
		body         func() string
		public       bool
		response     string
		exact        bool
		check        func(t *testing.T, got map[string]any)
	}{
		{name: "create link", method: "POST", path: fixed("/api/links"), body: fixed(docLinkRequest), response: docLinkResponse,
			check: func(t *testing.T, got map[string]any) {
				slug, linkID = got["slug"].(string), got["id"].(string)
				if got["amount"] != "100.00000000" || got["status"] != "active" || !strings.HasSuffix(got["url"].(string), "/pay/"+slug) {
					t.Errorf("link %v", got)
				}
			}},
		{name: "list links", method: "GET", path: fixed("/api/links"), response: docLinkListResponse, exact: true,
			check: func(t *testing.T, got map[string]any) {
				want := map[string]string{slug: "30", plain: "30"} // the merchant's default is 30 minutes
				for _, it := range got["data"].([]any) {
					l := it.(map[string]any)
					if n, ok := l["expiryMinutes"].(json.Number); !ok || n.String() != want[l["slug"].(string)] {
						t.Errorf("link %s: expiryMinutes %#v, want %s", l["slug"], l["expiryMinutes"], want[l["slug"].(string)])
					}
				}
			}},
		{name: "publish link", method: "PATCH", path: func() string { return "/api/links/" + linkID }, body: fixed(docLinkPatchRequest),
			response: docLinkPatchResponse},
		{name: "create payment", method: "POST", public: true, path: fixed("/api/payments"),
			body:     func() string { return strings.Replace(docPaymentRequest, "premium-plan-abc123", slug, 1) },
			response: docPaymentResponse,
			check: func(t *testing.T, got map[string]any) {
				payID = got["id"].(string)
				if got["status"] != "pending" || got["kaspaAddress"] != webtest.AddrA {
					t.Errorf("session %v", got)
				}
			}},
		{name: "status", method: "GET", public: true, path: func() string { return "/api/payments/" + payID + "/status" },
			response: docStatusResponse},
		{name: "list payments", method: "GET", path: fixed("/api/payments"), response: docPaymentListResponse, exact: true,
			check: func(t *testing.T, got map[string]any) {
				if n := len(got["data"].([]any)); n != 1 {
					t.Errorf("%d payments", n)
				}
			}},
		{name: "register webhook", method: "POST", path: fixed("/api/webhooks"), body: fixed(docWebhookRequest), response: docWebhookResponse},
		{name: "list webhooks", method: "GET", path: fixed("/api/webhooks"), response: docWebhookListResponse, exact: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var body any
			if st.body != nil {
				body = st.body()
			}
			var hdr []string
			if !st.public {
				hdr = auth
			}
			r := h.env.Do(st.method, st.path(), body, hdr...)
			if r.Status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", st.method, st.path(), r.Status, r.Body)
			}
			got := r.JSON(t)
			assertDocShape(t, st.name, got, st.response, st.exact)
			if st.check != nil {
				st.check(t, got)
			}
		})
	}
}

func fixed(s string) func() string { return func() string { return s } }

// TestListAllPaymentsStreams checks the document's "List all payments":
// without parameters every payment of the merchant comes back (more than
// any page size), newest first, in {"data": [...]} with no other key, and
// read through the keyset stream in several pages; limit and cursor are the
// paginated extension with nextCursor.
func TestListAllPaymentsStreams(t *testing.T) {
	h := docHarness(t)
	defer func(n int) { models.StreamPageSize = n }(models.StreamPageSize)
	models.StreamPageSize = 17 // several stream pages with few rows

	other := h.env.Register("other@example.com", "Other", webtest.AddrB)
	theirs := createLink(t, h.env, other, map[string]any{"title": "Theirs", "amount": 3})
	foreign := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": theirs["slug"]}).JSON(t)["id"].(string)

	slug := h.link(nil)
	const n = models.DefaultPageSize + 23 // more than the old default page
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": slug})
		if r.Status != http.StatusOK {
			t.Fatalf("session %d: %d %s", i, r.Status, r.Body)
		}
		want[r.JSON(t)["id"].(string)] = true
	}

	// Over real TCP, as a client reads the stream.
	req, _ := http.NewRequest("GET", h.env.URL+"/api/payments", nil)
	req.Header.Set("Authorization", "Bearer "+h.m.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("list: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	got := webtest.Response{Status: resp.StatusCode, Body: raw}.JSON(t)
	assertDocShape(t, "list all", got, docPaymentListResponse, true)
	if _, ok := got["nextCursor"]; ok {
		t.Fatal("nextCursor without limit")
	}
	items := got["data"].([]any)
	seen := map[string]bool{}
	last := ""
	for _, it := range items {
		p := it.(map[string]any)
		id := p["id"].(string)
		if seen[id] || !want[id] {
			t.Fatalf("payment %s listed twice or not the merchant's (foreign %v)", id, id == foreign)
		}
		seen[id] = true
		if last != "" && p["createdAt"].(string) > last {
			t.Fatal("not newest first")
		}
		last = p["createdAt"].(string)
	}
	if len(seen) != n {
		t.Fatalf("listed %d of %d payments", len(seen), n)
	}

	// Filters apply to the full list too, and a cursor alone continues it.
	if got := h.env.Do("GET", "/api/payments?status=pending", nil, h.m.Bearer()...).JSON(t); len(got["data"].([]any)) != n || len(got) != 1 {
		t.Fatalf("status=pending without limit: %d payments, keys %v", len(got["data"].([]any)), sortedKeys(got))
	}
	page := h.env.Do("GET", "/api/payments?limit=50", nil, h.m.Bearer()...).JSON(t)
	next, ok := page["nextCursor"].(string)
	if !ok || len(page["data"].([]any)) != 50 {
		t.Fatalf("limit=50: %d payments, nextCursor %#v", len(page["data"].([]any)), page["nextCursor"])
	}
	rest := h.env.Do("GET", "/api/payments?cursor="+next, nil, h.m.Bearer()...).JSON(t)
	if len(rest["data"].([]any)) != n-50 || len(rest) != 1 {
		t.Fatalf("cursor without limit: %d payments, keys %v", len(rest["data"].([]any)), sortedKeys(rest))
	}
	lastPage := h.env.Do("GET", "/api/payments?limit=500", nil, h.m.Bearer()...).JSON(t)
	if v, ok := lastPage["nextCursor"]; !ok || v != nil {
		t.Fatalf("limit on the last page: nextCursor %#v, want null", v)
	}
	// A bad filter is refused before the stream starts.
	if r := h.env.Do("GET", "/api/payments?status=paid", nil, h.m.Bearer()...); r.Status != http.StatusBadRequest {
		t.Fatalf("bad status: %d %s", r.Status, r.Body)
	}
}

// TestKasPayStatusVocabulary drives sessions through every stage and checks
// that the KasPay surface (status API, list, detail, creation, webhook
// payloads) only says pending, confirmed or expired, with the stage beside
// it, that filters accept both vocabularies, and that amountReceived has the
// document's type in each object.
func TestKasPayStatusVocabulary(t *testing.T) {
	h := docHarness(t)
	var mu sync.Mutex
	var bodies [][]byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	if r := h.env.Do("POST", "/api/webhooks", map[string]any{"url": rcv.URL, "events": []string{"*"}}, h.m.Bearer()...); r.Status != http.StatusOK {
		t.Fatalf("webhook: %d %s", r.Status, r.Body)
	}

	slug := h.link(map[string]any{"amount": 10, "expiryMinutes": 60})
	shortSlug := h.link(map[string]any{"amount": 10, "expiryMinutes": 5})
	open := func(slug string) (string, int64) {
		r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": slug})
		if r.Status != http.StatusOK {
			t.Fatalf("session: %d %s", r.Status, r.Body)
		}
		got := r.JSON(t)
		if got["status"] != "pending" || got["stage"] != "awaiting_payment" {
			t.Fatalf("new session: status %v stage %v", got["status"], got["stage"])
		}
		return got["id"].(string), h.payment(got["id"].(string)).AmountExpected
	}
	awaiting, _ := open(slug)
	confirming, amtC := open(slug)
	confirmed, amtOK := open(slug)
	expired, _ := open(shortSlug)

	// One payment buried under the required 100 confirmations.
	h.chain.Advance(1)
	h.chain.Pay(webtest.AddrA, amtOK, "")
	h.cycle()
	h.chain.Advance(100)
	h.cycle()

	// The short session expires: past its deadline, after a chain
	// observation.
	h.shift(6 * time.Minute)
	h.cycle()
	if _, err := h.env.Store.ExpireDue(h.ctx, 100); err != nil {
		t.Fatal(err)
	}

	// A per-address merchant's partial payment is underpaid, and another
	// payment is seen but not deep enough yet.
	hd := h.env.Register("hd@example.com", "HD Shop", webtest.AddrB)
	if r := h.env.Do("PATCH", "/api/settings", map[string]any{"kaspaKpub": checkoutKpub}, hd.Bearer()...); r.Status != http.StatusOK {
		t.Fatalf("kpub: %d %s", r.Status, r.Body)
	}
	hdLink := createLink(t, h.env, hd, map[string]any{"title": "Tea", "amount": 10})
	under := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": hdLink["slug"]}).JSON(t)["id"].(string)
	h.chain.Advance(1)
	h.chain.Pay(h.payment(under).PayAddress, 4*models.SompiPerKAS, "")
	h.chain.Pay(webtest.AddrA, amtC, "")
	h.chain.Advance(1)
	h.cycle()

	// Internal statuses, as the checkout and dashboard show them.
	for id, st := range map[string]models.PaymentStatus{awaiting: models.StatusPending, confirming: models.StatusConfirming,
		confirmed: models.StatusConfirmed, expired: models.StatusExpired, under: models.StatusUnderpaid} {
		if got := h.payment(id).Status; got != st {
			t.Fatalf("payment %s is %s, want %s", id, got, st)
		}
	}

	cases := []struct {
		name, id, status, stage string
		received                int64 // sompi
		txID                    bool
		bearer                  []string
	}{
		{"awaiting payment", awaiting, "pending", "awaiting_payment", 0, false, h.m.Bearer()},
		{"confirming", confirming, "pending", "confirming", amtC, true, h.m.Bearer()},
		{"confirmed", confirmed, "confirmed", "confirmed", amtOK, true, h.m.Bearer()},
		{"expired", expired, "expired", "expired", 0, false, h.m.Bearer()},
		{"underpaid", under, "pending", "underpaid", 4 * models.SompiPerKAS, true, hd.Bearer()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := h.env.Do("GET", "/api/payments/"+tc.id+"/status", nil).JSON(t)
			if st["status"] != tc.status || st["stage"] != tc.stage {
				t.Errorf("status API: status %v stage %v, want %s %s", st["status"], st["stage"], tc.status, tc.stage)
			}
			// The status object's amountReceived is a JSON number of KAS.
			if n, ok := st["amountReceived"].(json.Number); !ok || n.String() != kaspa.FormatKAS(tc.received) {
				t.Errorf("status API amountReceived %#v, want the number %s", st["amountReceived"], kaspa.FormatKAS(tc.received))
			}
			if (st["txId"] != nil) != tc.txID {
				t.Errorf("txId %v", st["txId"])
			}
			if c, ok := st["confirmations"].(json.Number); !ok || (tc.stage == "confirming" && c.String() == "0") {
				t.Errorf("confirmations %#v", st["confirmations"])
			}
			one := h.env.Do("GET", "/api/payments/"+tc.id, nil, tc.bearer...).JSON(t)
			if one["status"] != tc.status || one["stage"] != tc.stage {
				t.Errorf("detail: status %v stage %v", one["status"], one["stage"])
			}
			if one["amountReceived"] != models.FormatAmount8(tc.received, models.KAS) {
				t.Errorf("detail amountReceived %#v, want the string %s", one["amountReceived"], models.FormatAmount8(tc.received, models.KAS))
			}
		})
	}

	// Lists: every status is a document value, with its stage; the
	// filters take both vocabularies.
	ids := func(m webtest.Merchant, q string) []string {
		t.Helper()
		r := h.env.Do("GET", "/api/payments"+q, nil, m.Bearer()...)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", q, r.Status, r.Body)
		}
		var out []string
		for _, it := range r.JSON(t)["data"].([]any) {
			p := it.(map[string]any)
			if s := p["status"]; s != "pending" && s != "confirmed" && s != "expired" {
				t.Errorf("%s: status %v is not a KasPay status", q, s)
			}
			if s, ok := p["amountReceived"].(string); !ok || len(s) < 10 || s[len(s)-9] != '.' {
				t.Errorf("%s: amountReceived %#v, want a string with 8 decimals", q, p["amountReceived"])
			}
			out = append(out, p["id"].(string))
		}
		sort.Strings(out)
		return out
	}
	set := func(xs ...string) []string { sort.Strings(xs); return xs }
	for _, tc := range []struct {
		m    webtest.Merchant
		q    string
		want []string
	}{
		{h.m, "?status=pending", set(awaiting, confirming)},
		{h.m, "?status=pending&limit=10", set(awaiting, confirming)},
		{h.m, "?status=awaiting_payment", set(awaiting)},
		{h.m, "?status=confirming", set(confirming)},
		{h.m, "?status=confirmed", set(confirmed)},
		{h.m, "?status=expired", set(expired)},
		{hd, "?status=pending", set(under)},
		{hd, "?status=underpaid", set(under)},
		{hd, "?status=awaiting_payment", nil},
	} {
		got := ids(tc.m, tc.q)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.q, got, tc.want)
		}
	}

	// Webhook payloads: the confirmed and expired events, delivered for
	// real, carry the KasPay status, the stage and amountReceived as a
	// string with 8 decimals.
	d := &webhooks.Dispatcher{Store: h.env.Store, Policy: &netguard.Policy{AllowPrivate: true}, Timeout: 5 * time.Second}
	if _, err := d.DeliverDue(h.ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	byID := map[string]map[string]any{}
	for _, b := range bodies {
		var ev struct {
			Event   string         `json:"event"`
			Payment map[string]any `json:"payment"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("webhook body %s: %v", b, err)
		}
		byID[ev.Payment["id"].(string)] = ev.Payment
		if s, ok := ev.Payment["amountReceived"].(string); !ok || len(s) < 10 || s[len(s)-9] != '.' {
			t.Errorf("webhook amountReceived %#v", ev.Payment["amountReceived"])
		}
	}
	for id, want := range map[string][2]string{confirmed: {"confirmed", "confirmed"}, expired: {"expired", "expired"}} {
		p := byID[id]
		if p == nil {
			t.Fatalf("no webhook for %s (got %d)", id, len(bodies))
		}
		if p["status"] != want[0] || p["stage"] != want[1] {
			t.Errorf("webhook %s: status %v stage %v", id, p["status"], p["stage"])
		}
	}
	if p := byID[confirmed]; p["amountReceived"] != models.FormatAmount8(amtOK, models.KAS) {
		t.Errorf("webhook amountReceived %v", p["amountReceived"])
	}
}

// TestKasPaySnapshotStatus checks the webhook snapshot's mapping for the
// stages no event is sent for today (a late credit on an expired session
// is confirming again): the payload says pending with the stage.
func TestKasPaySnapshotStatus(t *testing.T) {
	for _, tc := range []struct {
		in            models.PaymentStatus
		status, stage string
	}{
		{models.StatusPending, "pending", "awaiting_payment"},
		{models.StatusConfirming, "pending", "confirming"},
		{models.StatusUnderpaid, "pending", "underpaid"},
		{models.StatusConfirmed, "confirmed", "confirmed"},
		{models.StatusExpired, "expired", "expired"},
	} {
		p := &models.Payment{ID: "x", Status: tc.in}
		s := p.Snapshot()
		if s.Status != tc.status || s.Stage != tc.stage {
			t.Errorf("%s: snapshot %s/%s, want %s/%s", tc.in, s.Status, s.Stage, tc.status, tc.stage)
		}
	}
}

// TestKasPayErrorStatuses checks that errors stay in the document's set of
// statuses: a link that takes no payments and a USD price below the
// payable minimum are 400s (not 410 or 409); the checkout still shows
// friendly pages for the same conditions.
func TestKasPayErrorStatuses(t *testing.T) {
	h := docHarness(t)
	draft := h.link(map[string]any{"status": "draft"})
	inactive := h.link(nil)
	h.patchLink(h.linkID(inactive), map[string]any{"status": "inactive"})
	expired := h.link(map[string]any{"linkExpiresIn": 1})
	// $0.01 at $0.125 per KAS is 0.08 KAS, under the 0.2 KAS minimum.
	tiny := h.link(map[string]any{"amount": 0.01, "currency": "USD"})
	h.shift(2 * time.Minute) // the 1-minute link has expired

	for _, tc := range []struct {
		name, slug string
		status     int
		msg        string
	}{
		{"expired link", expired, 400, `{"error":"Payment link has expired"}`},
		{"inactive link", inactive, 400, `{"error":"Payment link has expired"}`},
		{"draft link", draft, 400, `{"error":"Payment link is not active"}`},
		{"unknown link", "no-such-link-abc123", 404, `{"error":"Payment link not found"}`},
		{"USD below the minimum", tiny, 400,
			`{"error":"This link's price of 0.01 USD is 0.08 KAS at the current rate (0.125 USD per KAS), below the payable minimum of 0.2 KAS"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": tc.slug})
			if r.Status != tc.status || string(r.Body) != tc.msg {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, tc.status, tc.msg)
			}
		})
	}
	if n := h.payments(); n != 0 {
		t.Fatalf("%d sessions created", n)
	}

	// The checkout explains a too-small USD price on the link's own page
	// (a form-level message), and still shows its friendly pages for
	// closed links.
	c := h.env.Client()
	p := c.Submit("/pay/"+tiny, "/pay/"+tiny, url.Values{})
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.TestID("form-error"), "below the payable minimum of 0.2 KAS") {
		t.Fatalf("checkout below the minimum: %d %q\n%s", p.Status, p.TestID("form-error"), p.Body)
	}
	for slug, status := range map[string]int{expired: 410, inactive: 404, draft: 404} {
		p := c.Submit("/pay/"+tiny, "/pay/"+slug, url.Values{})
		if p.Status != status || p.Doc.Find(`[data-testid="checkout-unavailable"]`).Length() != 1 {
			t.Errorf("checkout of a closed link: %d, want %d and the friendly page", p.Status, status)
		}
	}
}

// TestLoginMalformedEmail checks the document's 400 "Invalid email format"
// for a login whose email is not an email address; a well-formed unknown
// email stays a 401 and a valid one logs in.
func TestLoginMalformedEmail(t *testing.T) {
	h := docHarness(t)
	for _, tc := range []struct {
		email  string
		status int
		msg    string
	}{
		{"not-an-email", 400, "Invalid email format"},
		{"merchant@localhost", 400, "Invalid email format"},
		{"John <merchant@example.com>", 400, "Invalid email format"},
		{"nobody@example.com", 401, "Invalid email or password"},
		{" Shop@Example.com ", 200, ""},
	} {
		r := h.env.Do("POST", "/api/auth/login", map[string]any{"email": tc.email, "password": h.m.Password})
		if r.Status != tc.status || (tc.msg != "" && r.Error(t) != tc.msg) {
			t.Errorf("login %q: %d %s, want %d %q", tc.email, r.Status, r.Body, tc.status, tc.msg)
		}
	}
}

// TestLinkExpiryMinutesAlwaysInteger checks that every link response gives
// expiryMinutes as an integer: the link's own window, or the merchant's
// default (paymentExpiry) that applies to it, following a settings change.
func TestLinkExpiryMinutesAlwaysInteger(t *testing.T) {
	h := docHarness(t)
	own := createLink(t, h.env, h.m, map[string]any{"title": "Own", "amount": 1, "expiryMinutes": 45})
	none := createLink(t, h.env, h.m, map[string]any{"title": "Default", "amount": 1})
	cleared := createLink(t, h.env, h.m, map[string]any{"title": "Cleared", "amount": 1, "expiryMinutes": 10})

	want := func(t *testing.T, where string, got any, minutes string) {
		t.Helper()
		if n, ok := got.(json.Number); !ok || n.String() != minutes {
			t.Errorf("%s: expiryMinutes %#v, want the integer %s", where, got, minutes)
		}
	}
	want(t, "create with own", own["expiryMinutes"], "45")
	want(t, "create without", none["expiryMinutes"], "30")
	r := h.env.Do("PATCH", "/api/links/"+cleared["id"].(string), map[string]any{"expiryMinutes": nil}, h.m.Bearer()...)
	want(t, "patch to null", r.JSON(t)["expiryMinutes"], "30")

	h.settings(map[string]any{"paymentExpiry": 60})
	byID := map[string]string{own["id"].(string): "45", none["id"].(string): "60", cleared["id"].(string): "60"}
	for _, it := range h.env.Do("GET", "/api/links", nil, h.m.Bearer()...).JSON(t)["data"].([]any) {
		l := it.(map[string]any)
		want(t, "list "+l["title"].(string), l["expiryMinutes"], byID[l["id"].(string)])
	}
	for id, minutes := range byID {
		want(t, "get "+id, h.env.Do("GET", "/api/links/"+id, nil, h.m.Bearer()...).JSON(t)["expiryMinutes"], minutes)
	}
	// A session on the default link gets that window.
	s := h.env.Do("POST", "/api/payments", map[string]any{"paymentLinkSlug": none["slug"]}).JSON(t)
	exp, _ := time.Parse("2006-01-02T15:04:05.000Z", s["expiresAt"].(string))
	if d := time.Until(exp); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("session window %s, want the 60-minute default", d)
	}
}
