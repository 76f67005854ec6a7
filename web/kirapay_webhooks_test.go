package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/uuid"

	"till/models"
	"till/models/netguard"
	"till/web"
	"till/web/webtest"
)

// kiraHookEnv is a Till whose webhook registration resolves the seed's
// example hosts (and a private one) from a fixed table.
func kiraHookEnv(t *testing.T, allowPrivate bool) *webtest.Env {
	return webtest.New(t, func(o *web.Options) {
		o.WebhookAllowPrivate = allowPrivate
		o.WebhookResolver = netguard.NewStaticResolver(map[string][]string{
			"your-app.com":         {"93.184.216.34"},
			"your-new-app.com":     {"93.184.216.35"},
			"intranet.example.com": {"10.20.30.40"},
		})
	})
}

// kiraData asserts the success envelope and returns its data.
func kiraData(t *testing.T, r webtest.Response, status int) map[string]any {
	t.Helper()
	m := r.JSON(t)
	if r.Status != status || keysOf(m) != "code,data,message" || m["message"] != "success" || m["code"] != json.Number(fmt.Sprint(status)) {
		t.Fatalf("want %d envelope, got %d %s", status, r.Status, r.Body)
	}
	d, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %s", r.Body)
	}
	return d
}

const endpointsPath = "/api/admin/webhooks/endpoints"

var shortIDRe = regexp.MustCompile(`^[0-9a-f]{24}$`)

func TestKiraPayWebhookEndpointsAsDocumented(t *testing.T) {
	env := kiraHookEnv(t, false)
	m := env.Register("kira@example.com", "Kira", webtest.AddrA)
	kasID := env.Do("POST", "/api/webhooks", map[string]any{"url": "https://your-app.com/kaspay", "events": []string{"*"}}, m.Key()...).JSON(t)["id"].(string)

	// The seed's create command, as printed: 201, the secret not echoed.
	seed := `{
"url": "https://your-app.com/webhooks/kirapay",
"secret": "whsec_your_webhook_secret"
}`
	r := env.Do("POST", endpointsPath, seed, m.Key()...)
	d := kiraData(t, r, http.StatusCreated)
	if keysOf(d) != "_id,createdAt,isActive,updatedAt,url" || d["url"] != "https://your-app.com/webhooks/kirapay" || d["isActive"] != true ||
		!shortIDRe.MatchString(d["_id"].(string)) || strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("create: %s", r.Body)
	}
	id := d["_id"].(string)
	ep, err := env.Store.Webhook(context.Background(), m.ID, id)
	if err != nil || ep.Dialect != models.DialectKiraPay || !ep.Subscribed(models.EventTransactionCreated) ||
		!ep.Subscribed(models.EventTransactionSucceeded) || !ep.Subscribed(models.EventTransactionFailed) {
		t.Fatalf("stored endpoint: %+v %v", ep, err)
	}
	if s, _ := env.Store.WebhookSecret(context.Background(), m.ID, id); s != "whsec_your_webhook_secret" {
		t.Fatalf("stored secret %q", s)
	}

	// No secret: Till generates one and returns it once (Bearer works too).
	r = env.Do("POST", endpointsPath, map[string]any{"url": "https://your-app.com/second"}, m.Bearer()...)
	gen := kiraData(t, r, http.StatusCreated)
	secret, _ := gen["secret"].(string)
	if !regexp.MustCompile(`^whsec_[0-9a-f]{64}$`).MatchString(secret) || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("generated secret: %s", r.Body)
	}

	// The list: newest first, KiraPay endpoints only, no secret; the KasPay
	// list does not show KiraPay endpoints.
	r = env.Do("GET", endpointsPath, nil, m.Key()...)
	list := kiraData(t, r, http.StatusOK)
	eps := list["endpoints"].([]any)
	if keysOf(list) != "endpoints" || len(eps) != 2 || eps[0].(map[string]any)["_id"] != gen["_id"] || eps[1].(map[string]any)["_id"] != id ||
		strings.Contains(string(r.Body), "whsec_") || strings.Contains(string(r.Body), "secret") {
		t.Fatalf("list: %s", r.Body)
	}
	if keysOf(eps[1].(map[string]any)) != "_id,createdAt,isActive,updatedAt,url" {
		t.Fatalf("list item: %v", eps[1])
	}
	kas := env.Do("GET", "/api/webhooks", nil, m.Key()...).JSON(t)["data"].([]any)
	if len(kas) != 1 || kas[0].(map[string]any)["id"] != kasID {
		t.Fatalf("KasPay list: %v", kas)
	}

	// The seed's update command, as printed.
	upd := `{
"url": "https://your-new-app.com/webhooks/kirapay",
"secret": "whsec_new_webhook_secret"
}`
	r = env.Do("PATCH", endpointsPath+"/"+id, upd, m.Key()...)
	d = kiraData(t, r, http.StatusOK)
	if d["_id"] != id || d["url"] != "https://your-new-app.com/webhooks/kirapay" || strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("update: %s", r.Body)
	}
	if s, _ := env.Store.WebhookSecret(context.Background(), m.ID, id); s != "whsec_new_webhook_secret" {
		t.Fatalf("secret after update %q", s)
	}
	r = env.Do("PATCH", endpointsPath+"/"+id, `{"isActive":false}`, m.Key()...)
	if d := kiraData(t, r, http.StatusOK); d["isActive"] != false || d["url"] != "https://your-new-app.com/webhooks/kirapay" {
		t.Fatalf("deactivate: %s", r.Body)
	}

	// Delete (extension): gone from the list, then 404.
	r = env.Do("DELETE", endpointsPath+"/"+gen["_id"].(string), nil, m.Key()...)
	if d := kiraData(t, r, http.StatusOK); d["_id"] != gen["_id"] || d["deleted"] != true {
		t.Fatalf("delete: %s", r.Body)
	}
	kiraErr(t, env.Do("DELETE", endpointsPath+"/"+gen["_id"].(string), nil, m.Key()...), 404, "Webhook endpoint not found", endpointsPath+"/"+gen["_id"].(string))
	if n := len(kiraData(t, env.Do("GET", endpointsPath, nil, m.Key()...), 200)["endpoints"].([]any)); n != 1 {
		t.Fatalf("%d endpoints after delete", n)
	}
	// The KasPay endpoint is not the KiraPay surface's, by UUID or _id.
	for _, kid := range []string{kasID, models.ShortID(kasID)} {
		kiraErr(t, env.Do("PATCH", endpointsPath+"/"+kid, `{"isActive":false}`, m.Key()...), 404, "Webhook endpoint not found", endpointsPath+"/"+kid)
		kiraErr(t, env.Do("DELETE", endpointsPath+"/"+kid, nil, m.Key()...), 404, "Webhook endpoint not found", endpointsPath+"/"+kid)
	}
	if ep, err := env.Store.Webhook(context.Background(), m.ID, kasID); err != nil || !ep.IsActive {
		t.Fatalf("KasPay endpoint changed: %+v %v", ep, err)
	}
	// Credentials.
	kiraErr(t, env.Do("GET", endpointsPath, nil), 401, "API_KEY_INVALID", endpointsPath)
	kiraErr(t, env.Do("POST", endpointsPath, seed, "x-api-key", "kp_wrong"), 401, "API_KEY_INVALID", endpointsPath)
}

// endpointsState is what a rejected request must not change: every
// endpoint of the merchant with its secret.
func endpointsState(t *testing.T, env *webtest.Env, merchantID string) string {
	t.Helper()
	eps, err := env.Store.Webhooks(context.Background(), merchantID)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range eps {
		s, _ := env.Store.WebhookSecret(context.Background(), merchantID, e.ID)
		fmt.Fprintf(&b, "%s %s %v %s %v %s\n", e.ID, e.URL, e.IsActive, s, e.Events, e.UpdatedAt)
	}
	return b.String()
}

func TestKiraPayWebhookEndpointErrors(t *testing.T) {
	env := kiraHookEnv(t, false)
	m := env.Register("kira@example.com", "Kira", webtest.AddrA)
	other := env.Register("other@example.com", "Other", webtest.AddrB)
	id := kiraData(t, env.Do("POST", endpointsPath, `{"url":"https://your-app.com/h","secret":"0123456789abcdef"}`, m.Key()...), 201)["_id"].(string)
	otherID := kiraData(t, env.Do("POST", endpointsPath, `{"url":"https://your-app.com/o"}`, other.Key()...), 201)["_id"].(string)
	long := `"https://your-app.com/` + strings.Repeat("x", 2050) + `"`
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"create not json", "POST", endpointsPath, `{"url":`, 400, "INVALID_JSON"},
		{"create array", "POST", endpointsPath, `[]`, 400, "INVALID_JSON"},
		{"create null body", "POST", endpointsPath, `null`, 400, "INVALID_JSON"},
		{"url missing", "POST", endpointsPath, `{"secret":"0123456789abcdef"}`, 400, "URL_REQUIRED"},
		{"url null", "POST", endpointsPath, `{"url":null}`, 400, "URL_REQUIRED"},
		{"url empty", "POST", endpointsPath, `{"url":""}`, 400, "URL_REQUIRED"},
		{"url number", "POST", endpointsPath, `{"url":5}`, 400, "INVALID_URL"},
		{"url relative", "POST", endpointsPath, `{"url":"/hook"}`, 400, "INVALID_URL"},
		{"url ftp", "POST", endpointsPath, `{"url":"ftp://your-app.com/x"}`, 400, "INVALID_URL"},
		{"url credentials", "POST", endpointsPath, `{"url":"https://me:pw@your-app.com/x"}`, 400, "INVALID_URL"},
		{"url too long", "POST", endpointsPath, `{"url":` + long + `}`, 400, "INVALID_URL"},
		{"url loopback", "POST", endpointsPath, `{"url":"http://127.0.0.1:8080/x"}`, 400, "URL_NOT_PUBLIC"},
		{"url private name", "POST", endpointsPath, `{"url":"https://intranet.example.com/x"}`, 400, "URL_NOT_PUBLIC"},
		{"url metadata", "POST", endpointsPath, `{"url":"http://169.254.169.254/latest"}`, 400, "URL_NOT_PUBLIC"},
		{"secret number", "POST", endpointsPath, `{"url":"https://your-app.com/x","secret":12345678901234567}`, 400, "SECRET_MUST_BE_STRING"},
		{"secret null", "POST", endpointsPath, `{"url":"https://your-app.com/x","secret":null}`, 400, "SECRET_MUST_BE_STRING"},
		{"secret short", "POST", endpointsPath, `{"url":"https://your-app.com/x","secret":"0123456789abcde"}`, 400, "INVALID_SECRET"},
		{"secret long", "POST", endpointsPath, `{"url":"https://your-app.com/x","secret":"` + strings.Repeat("s", 257) + `"}`, 400, "INVALID_SECRET"},
		{"secret control", "POST", endpointsPath, `{"url":"https://your-app.com/x","secret":"0123456789\nabcdef"}`, 400, "INVALID_SECRET"},
		{"url checked with a bad secret", "POST", endpointsPath, `{"url":"/x","secret":"short"}`, 400, "INVALID_URL"},
		{"patch empty", "PATCH", endpointsPath + "/" + id, `{}`, 400, "NO_FIELDS_TO_UPDATE"},
		{"patch unknown fields only", "PATCH", endpointsPath + "/" + id, `{"events":["*"]}`, 400, "NO_FIELDS_TO_UPDATE"},
		{"patch not json", "PATCH", endpointsPath + "/" + id, `nope`, 400, "INVALID_JSON"},
		{"patch url null", "PATCH", endpointsPath + "/" + id, `{"url":null}`, 400, "INVALID_URL"},
		{"patch url bad", "PATCH", endpointsPath + "/" + id, `{"url":"not a url"}`, 400, "INVALID_URL"},
		{"patch url private", "PATCH", endpointsPath + "/" + id, `{"url":"http://10.0.0.1/x"}`, 400, "URL_NOT_PUBLIC"},
		{"patch secret number", "PATCH", endpointsPath + "/" + id, `{"secret":1}`, 400, "SECRET_MUST_BE_STRING"},
		{"patch secret short", "PATCH", endpointsPath + "/" + id, `{"secret":"short"}`, 400, "INVALID_SECRET"},
		{"patch isActive string", "PATCH", endpointsPath + "/" + id, `{"isActive":"yes"}`, 400, "INVALID_IS_ACTIVE"},
		{"patch isActive null", "PATCH", endpointsPath + "/" + id, `{"isActive":null}`, 400, "INVALID_IS_ACTIVE"},
		{"all or nothing", "PATCH", endpointsPath + "/" + id, `{"url":"https://your-new-app.com/x","isActive":false,"secret":"tiny"}`, 400, "INVALID_SECRET"},
		{"all or nothing (url)", "PATCH", endpointsPath + "/" + id, `{"url":"http://127.0.0.1/","secret":"a-fine-new-secret-value"}`, 400, "URL_NOT_PUBLIC"},
		{"patch unknown id", "PATCH", endpointsPath + "/" + strings.Repeat("0", 24), `{"isActive":false}`, 404, "Webhook endpoint not found"},
		{"patch malformed id", "PATCH", endpointsPath + "/not-an-id", `{"isActive":false}`, 404, "Webhook endpoint not found"},
		{"patch upper-case id", "PATCH", endpointsPath + "/" + strings.ToUpper(id), `{"isActive":false}`, 404, "Webhook endpoint not found"},
		{"patch another merchant's", "PATCH", endpointsPath + "/" + otherID, `{"isActive":false}`, 404, "Webhook endpoint not found"},
		{"patch another merchant's, empty", "PATCH", endpointsPath + "/" + otherID, `{}`, 404, "Webhook endpoint not found"},
		{"delete another merchant's", "DELETE", endpointsPath + "/" + otherID, "", 404, "Webhook endpoint not found"},
		{"delete malformed", "DELETE", endpointsPath + "/x%27", "", 404, "Webhook endpoint not found"},
		{"unknown route", "GET", "/api/admin/webhooks/nothing", "", 404, "NOT_FOUND"},
	}
	before, beforeOther := endpointsState(t, env, m.ID), endpointsState(t, env, other.ID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			kiraErr(t, env.Do(tc.method, tc.path, body, m.Key()...), tc.status, tc.code, tc.path)
			if after := endpointsState(t, env, m.ID); after != before {
				t.Fatalf("a rejected request changed the endpoints:\n%s\n%s", before, after)
			}
		})
	}
	if endpointsState(t, env, other.ID) != beforeOther {
		t.Fatal("another merchant's endpoint changed")
	}

	// TILL_WEBHOOK_ALLOW_PRIVATE lets a loopback receiver register.
	priv := kiraHookEnv(t, true)
	pm := priv.Register("p@example.com", "P", webtest.AddrA)
	kiraData(t, priv.Do("POST", endpointsPath, `{"url":"http://127.0.0.1:8080/x"}`, pm.Key()...), 201)
}

func TestKiraPayWebhookEndpointCap(t *testing.T) {
	env := kiraHookEnv(t, false)
	m := env.Register("cap@example.com", "Cap", webtest.AddrA)
	// The cap counts both dialects.
	for i := 0; i < models.MaxWebhooksPerMerchant; i++ {
		var r webtest.Response
		if i%2 == 0 {
			r = env.Do("POST", "/api/webhooks", map[string]any{"url": fmt.Sprintf("https://your-app.com/%d", i), "events": []string{"*"}}, m.Key()...)
		} else {
			r = env.Do("POST", endpointsPath, map[string]any{"url": fmt.Sprintf("https://your-app.com/%d", i)}, m.Key()...)
		}
		if r.Status != 200 && r.Status != 201 {
			t.Fatalf("endpoint %d: %d %s", i, r.Status, r.Body)
		}
	}
	before := endpointsState(t, env, m.ID)
	kiraErr(t, env.Do("POST", endpointsPath, `{"url":"https://your-app.com/one-more"}`, m.Key()...), 400, "TOO_MANY_ENDPOINTS", endpointsPath)
	if endpointsState(t, env, m.ID) != before {
		t.Fatal("refused create changed the endpoints")
	}
	// The KasPay surface keeps its own message.
	r := env.Do("POST", "/api/webhooks", map[string]any{"url": "https://your-app.com/one-more", "events": []string{"*"}}, m.Key()...)
	if r.Status != 400 || r.Error(t) != "An account can have at most 20 webhook endpoints" {
		t.Fatalf("KasPay cap: %d %s", r.Status, r.Body)
	}
}

// addDelivery records a KiraPay event of typ for the merchant and a
// delivery of it to endpoint in status, as the outbox would.
func addDelivery(t *testing.T, env *webtest.Env, merchantID, endpoint, typ string, status models.DeliveryStatus, at time.Time) *models.WebhookDelivery {
	t.Helper()
	ep, err := env.Store.Webhook(context.Background(), merchantID, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ev := &models.Event{ID: fmt.Sprintf("evt_%d_%s", at.UnixMilli(), uuid.NewString()[:6]), MerchantID: merchantID, Type: typ,
		Dialect: ep.Dialect, Data: "{}", CreatedAt: at}
	d := &models.WebhookDelivery{ID: uuid.NewString(), EventID: ev.ID, EndpointID: ep.ID, MerchantID: merchantID, Status: status,
		NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
	if status != models.DeliveryPending {
		code, delivered := 500, at.Add(time.Second)
		d.Attempts, d.LastStatusCode, d.LastError = 4, &code, "HTTP 500"
		if status == models.DeliveryDelivered {
			code = 200
			d.LastError, d.DeliveredAt = "", &delivered
		}
	}
	db := env.Store.DB().W(context.Background())
	if err := db.Create(ev).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(d).Error; err != nil {
		t.Fatal(err)
	}
	return d
}

func TestKiraPayWebhookDeliveries(t *testing.T) {
	env := kiraHookEnv(t, false)
	m := env.Register("kira@example.com", "Kira", webtest.AddrA)
	other := env.Register("other@example.com", "Other", webtest.AddrB)
	a := kiraData(t, env.Do("POST", endpointsPath, `{"url":"https://your-app.com/a"}`, m.Key()...), 201)["_id"].(string)
	b := kiraData(t, env.Do("POST", endpointsPath, `{"url":"https://your-app.com/b"}`, m.Key()...), 201)["_id"].(string)
	kas := env.Do("POST", "/api/webhooks", map[string]any{"url": "https://your-app.com/k", "events": []string{"*"}}, m.Key()...).JSON(t)["id"].(string)
	o := kiraData(t, env.Do("POST", endpointsPath, `{"url":"https://your-app.com/o"}`, other.Key()...), 201)["_id"].(string)

	t0 := time.Date(2026, 1, 25, 10, 0, 0, 0, time.UTC)
	okA := addDelivery(t, env, m.ID, a, models.EventTransactionSucceeded, models.DeliveryDelivered, t0)
	addDelivery(t, env, m.ID, a, models.EventTransactionCreated, models.DeliveryPending, t0.Add(time.Minute))
	failA := addDelivery(t, env, m.ID, a, models.EventTransactionFailed, models.DeliveryFailed, t0.Add(2*time.Minute))
	okB := addDelivery(t, env, m.ID, b, models.EventTransactionSucceeded, models.DeliveryDelivered, t0.Add(3*time.Minute))
	kasD := addDelivery(t, env, m.ID, kas, models.EventPaymentConfirmed, models.DeliveryDelivered, t0.Add(4*time.Minute))
	otherD := addDelivery(t, env, other.ID, o, models.EventTransactionSucceeded, models.DeliveryDelivered, t0.Add(5*time.Minute))

	get := func(q string) (map[string]any, []map[string]any) {
		t.Helper()
		d := kiraData(t, env.Do("GET", "/api/admin/webhooks/deliveries"+q, nil, m.Key()...), 200)
		var out []map[string]any
		for _, it := range d["deliveries"].([]any) {
			out = append(out, it.(map[string]any))
		}
		return d, out
	}
	// The seed's query: one endpoint, status success.
	d, items := get("?endpointId=" + a + "&status=success")
	if keysOf(d) != "deliveries,page,total,totalPages" || d["total"] != json.Number("1") || d["page"] != json.Number("1") ||
		d["totalPages"] != json.Number("1") || len(items) != 1 {
		t.Fatalf("seed query: %v", d)
	}
	it := items[0]
	if keysOf(it) != "_id,attempts,createdAt,deliveredAt,endpointId,event,eventId,lastError,lastStatusCode,status,updatedAt" ||
		it["_id"] != models.ShortID(okA.ID) || it["endpointId"] != a || it["eventId"] != okA.EventID || it["event"] != "transaction.succeeded" ||
		it["status"] != "success" || it["attempts"] != json.Number("4") || it["lastStatusCode"] != json.Number("200") || it["lastError"] != nil ||
		it["createdAt"] != "2026-01-25T10:00:00.000Z" || it["deliveredAt"] != "2026-01-25T10:00:01.000Z" {
		t.Fatalf("delivery item: %v", it)
	}
	// Every KiraPay endpoint of the merchant, newest first; not KasPay's.
	d, items = get("")
	if d["total"] != json.Number("4") || len(items) != 4 || items[0]["_id"] != models.ShortID(okB.ID) || items[3]["_id"] != models.ShortID(okA.ID) {
		t.Fatalf("all: %v", d)
	}
	for _, it := range items {
		if it["_id"] == models.ShortID(kasD.ID) || it["_id"] == models.ShortID(otherD.ID) {
			t.Fatalf("foreign delivery listed: %v", it)
		}
	}
	if _, items = get("?status=failed"); len(items) != 1 || items[0]["_id"] != models.ShortID(failA.ID) || items[0]["status"] != "failed" ||
		items[0]["lastError"] != "HTTP 500" || items[0]["deliveredAt"] != nil {
		t.Fatalf("failed: %v", items)
	}
	if _, items = get("?status=pending&endpointId=" + a); len(items) != 1 || items[0]["event"] != "transaction.created" || items[0]["lastStatusCode"] != nil {
		t.Fatalf("pending: %v", items)
	}
	// Pages.
	d, items = get("?limit=3&page=2")
	if d["total"] != json.Number("4") || d["totalPages"] != json.Number("2") || d["page"] != json.Number("2") || len(items) != 1 {
		t.Fatalf("page 2: %v", d)
	}
	if d, items = get("?page=9"); len(items) != 0 || d["total"] != json.Number("4") {
		t.Fatalf("past the end: %v", d)
	}
	if d, _ = get("?limit=500"); d["totalPages"] != json.Number("1") {
		t.Fatalf("limit over 100: %v", d)
	}
	if d, _ = get("?endpointId=" + b + "&status=failed"); d["total"] != json.Number("0") || d["totalPages"] != json.Number("0") {
		t.Fatalf("none: %v", d)
	}
	for q, want := range map[string][2]any{
		"?status=delivered":                      {400, "INVALID_STATUS"},
		"?status=retrying":                       {400, "INVALID_STATUS"},
		"?status=FAILED":                         {400, "INVALID_STATUS"},
		"?page=0":                                {400, "INVALID_PAGE"},
		"?limit=x":                               {400, "INVALID_LIMIT"},
		"?endpointId=" + o:                       {404, "Webhook endpoint not found"},
		"?endpointId=" + o + "&status=success":   {404, "Webhook endpoint not found"},
		"?endpointId=" + kas:                     {404, "Webhook endpoint not found"},
		"?endpointId=zzz":                        {404, "Webhook endpoint not found"},
		"?endpointId=" + strings.Repeat("f", 24): {404, "Webhook endpoint not found"},
	} {
		p := "/api/admin/webhooks/deliveries" + q
		kiraErr(t, env.Do("GET", p, nil, m.Key()...), want[0].(int), want[1].(string), p)
	}
	kiraErr(t, env.Do("GET", "/api/admin/webhooks/deliveries", nil), 401, "API_KEY_INVALID", "/api/admin/webhooks/deliveries")

	// Redeliver (extension): 202, due again now, history kept.
	rp := "/api/admin/webhooks/deliveries/" + models.ShortID(failA.ID) + "/redeliver"
	r := env.Do("POST", rp, nil, m.Key()...)
	rd := kiraData(t, r, http.StatusAccepted)
	if rd["_id"] != models.ShortID(failA.ID) || rd["status"] != "pending" || rd["attempts"] != json.Number("4") {
		t.Fatalf("redeliver: %s", r.Body)
	}
	if _, items = get("?status=failed"); len(items) != 0 {
		t.Fatal("redelivered delivery still failed")
	}
	for _, id := range []string{models.ShortID(otherD.ID), models.ShortID(kasD.ID), "nope", strings.Repeat("0", 24)} {
		p := "/api/admin/webhooks/deliveries/" + id + "/redeliver"
		kiraErr(t, env.Do("POST", p, nil, m.Key()...), 404, "Webhook delivery not found", p)
	}
	var st models.WebhookDelivery
	if err := env.Store.DB().R(context.Background()).Where("id = ?", otherD.ID).Take(&st).Error; err != nil || st.Status != models.DeliveryDelivered {
		t.Fatalf("another merchant's delivery changed: %v %v", st.Status, err)
	}
	// An inactive endpoint's delivery is not sent again.
	kiraData(t, env.Do("PATCH", endpointsPath+"/"+b, `{"isActive":false}`, m.Key()...), 200)
	p := "/api/admin/webhooks/deliveries/" + models.ShortID(okB.ID) + "/redeliver"
	kiraErr(t, env.Do("POST", p, nil, m.Key()...), 409, "WEBHOOK_INACTIVE", p)
}

// TestKiraPayWebhookDashboardForms: the dashboard form creates either
// format; a KiraPay endpoint's edit keeps its secret unless a new one is
// given, and has no events to choose.
func TestKiraPayWebhookDashboardForms(t *testing.T) {
	h := newDashHarness(t)
	submit := func(action string, v url.Values) webtest.Page {
		t.Helper()
		return h.c.Submit("/dashboard/webhooks/new", action, v)
	}
	if p := submit("/dashboard/webhooks", url.Values{"url": {"https://93.184.216.34/x"}, "dialect": {"bogus"}}); p.Status == http.StatusSeeOther || p.TestID("error-dialect") == "" {
		t.Fatalf("bogus format: %d", p.Status)
	}
	p := submit("/dashboard/webhooks", url.Values{"url": {"http://127.0.0.1:9/kira"}, "dialect": {"kirapay"}, "events": {"payment.expired"}})
	if p.Status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", p.Status, p.Body)
	}
	id := strings.TrimPrefix(p.Header.Get("Location"), "/dashboard/webhooks/")
	ep, err := h.env.Store.Webhook(h.ctx, h.m.ID, id)
	secret, _ := h.env.Store.WebhookSecret(h.ctx, h.m.ID, id)
	if err != nil || ep.Dialect != models.DialectKiraPay || len(ep.Events) != 1 || ep.Events[0] != models.EventAll || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("created %+v %v %q", ep, err, secret)
	}
	edit := h.c.Get("/dashboard/webhooks/" + id + "/edit")
	if edit.TestID("webhook-format") != "KiraPay" || edit.Doc.Find(`input[name="events"]`).Length() != 0 || edit.Doc.Find(`#secret`).Length() != 1 {
		t.Fatal("KiraPay edit form")
	}
	save := func(v url.Values) webtest.Page {
		t.Helper()
		return h.c.Submit("/dashboard/webhooks/"+id+"/edit", "/dashboard/webhooks/"+id, v)
	}
	if p := save(url.Values{"url": {"http://127.0.0.1:9/kira2"}, "dialect": {"kirapay"}, "secret": {""}}); p.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", p.Status)
	}
	if s, _ := h.env.Store.WebhookSecret(h.ctx, h.m.ID, id); s != secret {
		t.Fatal("an empty secret field changed the secret")
	}
	if p := save(url.Values{"url": {"http://127.0.0.1:9/kira2"}, "dialect": {"kirapay"}, "secret": {"too-short"}}); p.Status == http.StatusSeeOther || p.TestID("error-secret") == "" {
		t.Fatalf("short secret: %d", p.Status)
	}
	if p := save(url.Values{"url": {"http://127.0.0.1:9/kira2"}, "dialect": {"kirapay"}, "secret": {"a-brand-new-secret-value"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("save secret: %d", p.Status)
	}
	if s, _ := h.env.Store.WebhookSecret(h.ctx, h.m.ID, id); s != "a-brand-new-secret-value" {
		t.Fatalf("secret %q", s)
	}
	// The test action refuses a KiraPay endpoint; the list shows both formats.
	if p := h.c.Submit("/dashboard/webhooks/"+id, "/dashboard/webhooks/"+id+"/test", url.Values{}); p.Status != http.StatusConflict {
		t.Fatalf("test event to a KiraPay endpoint: %d", p.Status)
	}
	if p := submit("/dashboard/webhooks", url.Values{"url": {"http://127.0.0.1:9/kas"}, "events": {"*"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("KasPay create: %d", p.Status)
	}
	list := h.c.Get("/dashboard/webhooks")
	var formats []string
	list.Doc.Find(`[data-testid="webhook-row"] [data-testid="webhook-format"]`).Each(func(_ int, s *goquery.Selection) {
		formats = append(formats, strings.TrimSpace(s.Text()))
	})
	if strings.Join(formats, ",") != "KasPay,KiraPay" {
		t.Fatalf("list formats %v", formats)
	}
}
