package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"till/web/webtest"
)

func TestCreateLink(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("links@example.com", "Link Shop", webtest.AddrA)
	body := map[string]any{
		"title": "Premium Plan", "description": "Monthly subscription", "amount": 100, "currency": "KAS",
		"expiryMinutes": 30, "status": "active", "successMessage": "Thank you!",
		"redirectUrl": "https://yoursite.com/thanks", "linkExpiresIn": 10080,
	}
	before := time.Now().UTC()
	r := env.Do("POST", "/api/links", body, m.Bearer()...)
	if r.Status != http.StatusOK {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	l := r.JSON(t)
	slug, _ := l["slug"].(string)
	if !regexp.MustCompile(`^premium-plan-[a-z0-9]{6}$`).MatchString(slug) {
		t.Errorf("slug %q", slug)
	}
	want := map[string]any{"title": "Premium Plan", "amount": "100.00000000", "status": "active", "url": "http://till.test/pay/" + slug, "currency": "KAS"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["id"].(string); !ok {
		t.Error("no id")
	}
	exp, err := time.Parse("2006-01-02T15:04:05.000Z", l["expiresAt"].(string))
	if err != nil {
		t.Fatalf("expiresAt %v: %v", l["expiresAt"], err)
	}
	if d := exp.Sub(before); d < 10079*time.Minute || d > 10081*time.Minute {
		t.Errorf("expiresAt %s is not linkExpiresIn (a week) from now", exp)
	}

	// USD with cents; no link expiry.
	r = env.Do("POST", "/api/links", map[string]any{"title": "T-shirt", "amount": 19.99, "currency": "USD"}, m.Key()...)
	if r.Status != 200 || r.JSON(t)["amount"] != "19.99000000" || r.JSON(t)["expiresAt"] != nil {
		t.Fatalf("USD link: %d %s", r.Status, r.Body)
	}

	list := env.Do("GET", "/api/links", nil, m.Bearer()...)
	data := list.JSON(t)["data"].([]any)
	if len(data) != 2 {
		t.Fatalf("list has %d links", len(data))
	}
	first := data[0].(map[string]any) // newest first
	if first["title"] != "T-shirt" || first["currency"] != "USD" {
		t.Errorf("order or fields: %v", first)
	}
	for _, k := range []string{"id", "title", "amount", "currency", "slug", "status", "expiresAt", "expiryMinutes", "createdAt"} {
		if _, ok := first[k]; !ok {
			t.Errorf("list item lacks %s", k)
		}
	}
}

func TestCreateLinkValidation(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("lv@example.com", "LV Shop", webtest.AddrA)
	valid := func() map[string]any { return map[string]any{"title": "Item", "amount": 5, "currency": "KAS"} }
	with := func(k string, v any) map[string]any { b := valid(); b[k] = v; return b }
	cases := []struct {
		name string
		body any
		msg  string
	}{
		{"no title", with("title", ""), "Title is required"},
		{"long title", with("title", strings.Repeat("x", 201)), "Title must be at most 200 characters"},
		{"no amount", map[string]any{"title": "Item"}, "amount is required"},
		{"zero amount", with("amount", 0), "amount must be greater than 0"},
		{"negative", with("amount", -3), "amount must be greater than 0"},
		{"amount as string", with("amount", "10"), "amount must be a number"},
		{"nine decimals KAS", with("amount", json.Number("1.123456789")), "at most 8 decimal places"},
		{"three decimals USD", map[string]any{"title": "T", "amount": json.Number("1.999"), "currency": "USD"}, "at most 2 decimal places"},
		{"below KAS minimum", with("amount", 0.1), "at least 0.2 KAS"},
		{"bad currency", with("currency", "BTC"), "currency must be KAS or USD"},
		{"bad status", with("status", "paused"), "status must be one of draft, active, inactive"},
		{"javascript redirect", with("redirectUrl", "javascript:alert(1)"), "redirectUrl must be an absolute http or https URL"},
		{"relative redirect", with("redirectUrl", "/thanks"), "redirectUrl must be an absolute http or https URL"},
		{"expiry zero", with("expiryMinutes", 0), "expiryMinutes must be between 1 and 10080"},
		{"expiry huge", with("expiryMinutes", 100000), "expiryMinutes must be between 1 and 10080"},
		{"expiry fractional", with("expiryMinutes", 1.5), "expiryMinutes must be an integer"},
		{"negative lifetime", with("linkExpiresIn", -1), "linkExpiresIn must be between 0"},
		{"title wrong type", with("title", 7), "title must be a string"},
		{"malformed", `{"title": "x"`, "Malformed JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("POST", "/api/links", tc.body, m.Bearer()...)
			if r.Status != 400 || !strings.Contains(r.Error(t), tc.msg) {
				t.Fatalf("got %d %s, want 400 %q", r.Status, r.Body, tc.msg)
			}
		})
	}
	if n := len(env.Do("GET", "/api/links", nil, m.Bearer()...).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("rejected requests created %d links", n)
	}
	if r := env.Do("POST", "/api/links", valid()); r.Status != 401 {
		t.Fatalf("anonymous create: %d", r.Status)
	}
}

func TestUpdateLinkAndTenantIsolation(t *testing.T) {
	env := webtest.New(t)
	alice := env.Register("alice@example.com", "Alice", webtest.AddrA)
	bob := env.Register("bob@example.com", "Bob", webtest.AddrB)
	r := env.Do("POST", "/api/links", map[string]any{"title": "Draft item", "amount": 2, "status": "draft"}, alice.Bearer()...)
	id := r.JSON(t)["id"].(string)

	// Publish.
	r = env.Do("PATCH", "/api/links/"+id, map[string]any{"status": "active"}, alice.Bearer()...)
	if r.Status != 200 || r.JSON(t)["status"] != "active" || r.JSON(t)["id"] != id {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	// Invalid update changes nothing.
	r = env.Do("PATCH", "/api/links/"+id, map[string]any{"title": "New title", "amount": -1}, alice.Bearer()...)
	if r.Status != 400 {
		t.Fatalf("invalid patch: %d", r.Status)
	}
	if got := env.Do("GET", "/api/links/"+id, nil, alice.Bearer()...).JSON(t); got["title"] != "Draft item" || got["amount"] != "2.00000000" {
		t.Fatalf("a rejected patch changed the link: %v", got)
	}
	// Editable fields; null clears expiryMinutes (the merchant's default,
	// 30 minutes, then applies and is shown).
	r = env.Do("PATCH", "/api/links/"+id, map[string]any{"title": "Final item", "amount": 3.5, "expiryMinutes": 15, "successMessage": "Thanks", "redirectUrl": "https://shop.example/ok"}, alice.Key()...)
	got := r.JSON(t)
	if r.Status != 200 || got["title"] != "Final item" || got["amount"] != "3.50000000" || got["expiryMinutes"].(json.Number).String() != "15" {
		t.Fatalf("edit: %d %s", r.Status, r.Body)
	}
	r = env.Do("PATCH", "/api/links/"+id, map[string]any{"expiryMinutes": nil}, alice.Key()...)
	if n, ok := r.JSON(t)["expiryMinutes"].(json.Number); !ok || n.String() != "30" {
		t.Fatalf("null did not clear expiryMinutes: %s", r.Body)
	}
	if r := env.Do("PATCH", "/api/links/"+id, map[string]any{}, alice.Key()...); r.Status != 400 || r.Error(t) != "No fields to update" {
		t.Fatalf("empty patch: %d %s", r.Status, r.Body)
	}

	// Bob sees none of it.
	for _, req := range []struct{ method, path string }{{"GET", "/api/links/" + id}, {"PATCH", "/api/links/" + id}} {
		r := env.Do(req.method, req.path, map[string]any{"status": "inactive"}, bob.Bearer()...)
		if r.Status != 404 || r.Error(t) != "Payment link not found" {
			t.Fatalf("bob %s: %d %s", req.method, r.Status, r.Body)
		}
	}
	if n := len(env.Do("GET", "/api/links", nil, bob.Bearer()...).JSON(t)["data"].([]any)); n != 0 {
		t.Fatalf("bob lists %d links", n)
	}
	if got := env.Do("GET", "/api/links/"+id, nil, alice.Bearer()...).JSON(t); got["status"] != "active" {
		t.Fatalf("bob's patch went through: %v", got["status"])
	}
	if r := env.Do("PATCH", "/api/links/not-a-uuid", map[string]any{"status": "active"}, alice.Bearer()...); r.Status != 404 {
		t.Fatalf("bad id: %d", r.Status)
	}
}
