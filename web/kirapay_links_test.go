package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"till/models"
	"till/models/evm"
	"till/web"
	"till/web/webtest"
)

// The KiraPay seed's example body, byte for byte as printed in its cURL
// command (its receiver is mixed-case with a wrong EIP-55 checksum).
const seedGenerateBody = `{
"currency": "USDC",
"receiver": "0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6",
"price": 100.5,
"name": "Order #A1209",
"redirectUrl": "https://merchant.example.com/thank-you"
}`

const (
	seedReceiver  = "0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8b6"
	kiraChain     = "base-sepolia"
	kiraOtherNet  = "polygon-amoy"
	kiraBase      = "http://till.test"
	kiraTimestamp = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`
)

var (
	kiraTimeRe = regexp.MustCompile(kiraTimestamp)
	kiraCodeRe = regexp.MustCompile(`^[a-z0-9]{10}$`)
)

// newKiraEnv is a Till with two EVM chains, base-sepolia the default (as
// TILL_EVM_DEFAULT_CHAIN or the first of TILL_EVM_CHAINS sets it).
func newKiraEnv(t *testing.T, opts ...webtest.Option) *webtest.Env {
	t.Helper()
	return webtest.NewWith(t, []func(*models.StoreOptions){
		webtest.WithEVMChains(kiraChain, kiraOtherNet),
		func(o *models.StoreOptions) { o.DefaultEVMChain = kiraChain },
	}, opts...)
}

// kiraOK checks the KiraPay envelope byte-for-byte in its field order and
// returns its data.
func kiraOK(t *testing.T, r webtest.Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	body := string(r.Body)
	if !strings.HasPrefix(body, `{"message":"success","data":`) || !strings.HasSuffix(body, fmt.Sprintf(`,"code":%d}`, status)) {
		t.Fatalf("envelope %s", body)
	}
	m := r.JSON(t)
	if len(m) != 3 {
		t.Fatalf("envelope has %d fields: %s", len(m), body)
	}
	data, _ := m["data"].(map[string]any)
	return data
}

// kiraErr checks a KiraPay error body: exactly statusCode, message,
// timestamp (ISO ms Z) and path (with its query), in that order.
func kiraErr(t *testing.T, r webtest.Response, status int, code, path string) {
	t.Helper()
	var e struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
		Timestamp  string `json:"timestamp"`
		Path       string `json:"path"`
	}
	prefix := fmt.Sprintf(`{"statusCode":%d,"message":%q,"timestamp":"`, status, code)
	if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != status || !strings.HasPrefix(string(r.Body), prefix) ||
		!strings.HasSuffix(string(r.Body), `","path":`+jsonText(path)+`}`) || !kiraTimeRe.MatchString(e.Timestamp) {
		t.Fatalf("%d %s\nwant %d %q at %s", r.Status, r.Body, status, code, path)
	}
}

// jsonText is s as a JSON string without HTML escaping.
func jsonText(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// keyID is the public id of m's API key: "key_" + 12 hex of its SHA-256.
func keyID(m webtest.Merchant) string {
	sum := sha256.Sum256([]byte(m.APIKey))
	return "key_" + hex.EncodeToString(sum[:])[:12]
}

// merchantLinkCount is how many links the merchant has (all currencies).
func merchantLinkCount(t *testing.T, env *webtest.Env, merchantID string) int {
	t.Helper()
	links, err := env.Store.Links(context.Background(), merchantID)
	if err != nil {
		t.Fatal(err)
	}
	return len(links)
}

// generate creates a KiraPay link and returns its code.
func generate(t *testing.T, env *webtest.Env, body string, auth []string) string {
	t.Helper()
	data := kiraOK(t, env.Do("POST", "/api/link/generate", body, auth...), http.StatusCreated)
	code := strings.TrimPrefix(data["url"].(string), kiraBase+"/")
	if !kiraCodeRe.MatchString(code) {
		t.Fatalf("url %v", data["url"])
	}
	return code
}

// TestKiraPayGenerateSeedExample: the seed's cURL (x-api-key, its exact
// body with the wrong-checksum receiver) answers 201 with the short URL and
// a warning; the link is active, never expires, keeps the receiver as given
// and records the key; the dashboard flags the receiver.
func TestKiraPayGenerateSeedExample(t *testing.T) {
	env := newKiraEnv(t)
	m := env.Register("kira@example.com", "Kira Shop", webtest.AddrA)
	r := env.Do("POST", "/api/link/generate", seedGenerateBody, "x-api-key", m.APIKey, "Content-Type", "application/json")
	want := regexp.MustCompile(`^\{"message":"success","data":\{"url":"http://till\.test/([a-z0-9]{10})","warnings":\["RECEIVER_CHECKSUM_MISMATCH"\]\},"code":201\}$`)
	match := want.FindStringSubmatch(string(r.Body))
	if r.Status != http.StatusCreated || match == nil {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	l, err := env.Store.LinkBySlug(context.Background(), match[1])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(m.APIKey))
	if l.Currency != models.USDC || l.Amount != 100_500_000 || l.Status != models.LinkActive || l.ExpiresAt != nil ||
		l.Chain != kiraChain || l.Receiver != strings.ToLower(seedReceiver) || l.ReceiverGiven != seedReceiver ||
		l.APIKeyID == nil || *l.APIKeyID != hex.EncodeToString(sum[:]) || l.Title != "Order #A1209" ||
		l.RedirectURL != "https://merchant.example.com/thank-you" || !l.ReceiverChecksumMismatch() {
		t.Fatalf("stored link %+v", l)
	}

	// A JWT works too; the key is then null. A checksummed, an all-lower
	// and an all-upper receiver carry no warning.
	for _, recv := range []string{evmAddr1, strings.ToLower(evmAddr1), "0x" + strings.ToUpper(evmAddr1[2:])} {
		body := `{"currency":"USDC","receiver":"` + recv + `","price":1,"name":"JWT link"}`
		r := env.Do("POST", "/api/link/generate", body, m.Bearer()...)
		if data := kiraOK(t, r, http.StatusCreated); data["warnings"] != nil || len(data) != 1 {
			t.Errorf("%s: %s", recv, r.Body)
		}
	}
	links := kiraOK(t, env.Do("GET", "/api/link", nil, m.Key()...), 200)["links"].([]any)
	if len(links) != 4 {
		t.Fatalf("%d links", len(links))
	}
	if jwt := links[0].(map[string]any); jwt["key"] != nil || jwt["redirectUrl"] != nil {
		t.Errorf("JWT link key %v redirectUrl %v, want null", jwt["key"], jwt["redirectUrl"])
	}

	// The dashboard flags the seed link, in the list and on its page, and
	// only it.
	c := env.Client()
	c.Submit("/login", "/login", url.Values{"email": {m.Email}, "password": {m.Password}})
	p := c.Get("/dashboard/links")
	if n := p.Doc.Find(`[data-testid="link-row"] [data-testid="link-checksum-warning"]`).Length(); n != 1 {
		t.Fatalf("%d flagged rows, want 1", n)
	}
	if got := p.Text(`[data-testid="link-checksum-warning"]`); !strings.Contains(got, seedReceiver) || !strings.Contains(got, "checksum does not match — check this address") {
		t.Errorf("warning %q", got)
	}
	if got := c.Get("/dashboard/links/" + l.ID + "/edit").TestID("link-checksum-warning"); !strings.Contains(got, "checksum does not match") {
		t.Errorf("edit page warning %q", got)
	}
}

// TestKiraPayGenerateCodes: every 400 code of POST /api/link/generate,
// each provoked, first failing field in the seed's order answered, and a
// refused request creates nothing.
func TestKiraPayGenerateCodes(t *testing.T) {
	env := newKiraEnv(t)
	m := env.Register("codes@example.com", "Codes", webtest.AddrA)
	// body builds a request from the valid one with fields replaced
	// (a nil value removes the field).
	body := func(kv ...any) string {
		f := map[string]any{"currency": "USDC", "receiver": evmAddr1, "price": json.Number("10"), "name": "Ticket"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(f, kv[i].(string))
			} else {
				f[kv[i].(string)] = kv[i+1]
			}
		}
		b, _ := json.Marshal(f)
		return string(b)
	}
	null := json.RawMessage("null")
	num := func(s string) json.Number { return json.Number(s) }
	cases := []struct {
		name, body, code string
	}{
		{"empty body", "", "INVALID_JSON"},
		{"malformed", `{"currency":`, "INVALID_JSON"},
		{"array", `[]`, "INVALID_JSON"},
		{"string", `"USDC"`, "INVALID_JSON"},
		{"null", `null`, "INVALID_JSON"},
		{"trailing data", body() + ` {}`, "INVALID_JSON"},
		{"currency missing", body("currency", nil), "CURRENCY_REQUIRED"},
		{"currency null", body("currency", null), "CURRENCY_REQUIRED"},
		{"currency lower case", body("currency", "usdc"), "INVALID_CURRENCY"},
		{"currency KAS", body("currency", "KAS"), "INVALID_CURRENCY"},
		{"currency number", body("currency", 1), "INVALID_CURRENCY"},
		{"receiver missing", body("receiver", nil), "ADDRESS_REQUIRED"},
		{"receiver null", body("receiver", null), "ADDRESS_REQUIRED"},
		{"receiver empty", body("receiver", ""), "ADDRESS_REQUIRED"},
		{"receiver number", body("receiver", 42), "INVALID_ETHEREUM_ADDRESS"},
		{"receiver short", body("receiver", "0x742d35Cc"), "INVALID_ETHEREUM_ADDRESS"},
		{"receiver 0X", body("receiver", "0X"+evmAddr1[2:]), "INVALID_ETHEREUM_ADDRESS"},
		{"receiver not hex", body("receiver", "0x742d35Cc6634C0532925a3b8D4C9db96C4b4d8bg"), "INVALID_ETHEREUM_ADDRESS"},
		{"receiver zero", body("receiver", evmZero), "INVALID_ETHEREUM_ADDRESS"},
		{"price missing", body("price", nil), "PRICE_REQUIRED"},
		{"price null", body("price", null), "PRICE_REQUIRED"},
		{"price string", body("price", "100.5"), "PRICE_MUST_BE_NUMBER"},
		{"price bool", body("price", true), "PRICE_MUST_BE_NUMBER"},
		{"price object", body("price", map[string]any{}), "PRICE_MUST_BE_NUMBER"},
		{"price negative", body("price", num("-1")), "INVALID_PRICE"},
		{"price 7 decimals", body("price", num("1.0000001")), "INVALID_PRICE"},
		{"price above a billion", body("price", num("1000000000.000001")), "INVALID_PRICE"},
		{"price exponent too large", body("price", num("1e10")), "INVALID_PRICE"},
		{"price exponent too precise", body("price", num("1e-7")), "INVALID_PRICE"},
		{"price below the payable minimum", body("price", num("0.005")), "INVALID_PRICE"},
		{"name missing", body("name", nil), "NAME_REQUIRED"},
		{"name null", body("name", null), "NAME_REQUIRED"},
		{"name blank", body("name", "   "), "NAME_REQUIRED"},
		{"name number", body("name", 5), "NAME_MUST_BE_STRING"},
		{"name array", body("name", []string{"a"}), "NAME_MUST_BE_STRING"},
		{"name 201 characters", body("name", strings.Repeat("é", 201)), "NAME_TOO_LONG"},
		{"name control character", body("name", "a\u0007b"), "INVALID_NAME"},
		{"redirectUrl number", body("redirectUrl", 1), "INVALID_REDIRECT_URL"},
		{"redirectUrl empty", body("redirectUrl", ""), "INVALID_REDIRECT_URL"},
		{"redirectUrl relative", body("redirectUrl", "/thanks"), "INVALID_REDIRECT_URL"},
		{"redirectUrl ftp", body("redirectUrl", "ftp://example.com/x"), "INVALID_REDIRECT_URL"},
		{"redirectUrl credentials", body("redirectUrl", "https://u:p@example.com/"), "INVALID_REDIRECT_URL"},
		{"chain not enabled", body("chain", "ethereum"), "INVALID_CHAIN"},
		{"chain unknown", body("chain", "nope"), "INVALID_CHAIN"},
		{"chain empty", body("chain", ""), "INVALID_CHAIN"},
		{"chain number", body("chain", 8453), "INVALID_CHAIN"},
		// First failure in the seed's order.
		{"currency before receiver", body("currency", "EUR", "receiver", 1), "INVALID_CURRENCY"},
		{"receiver before price", body("receiver", "0x1", "price", "x"), "INVALID_ETHEREUM_ADDRESS"},
		{"price before name", body("price", num("-2"), "name", 5), "INVALID_PRICE"},
		{"name before redirectUrl", body("name", strings.Repeat("x", 201), "redirectUrl", "x"), "NAME_TOO_LONG"},
		{"redirectUrl before chain", body("redirectUrl", "x", "chain", "nope"), "INVALID_REDIRECT_URL"},
		{"everything wrong", `{"currency":1,"receiver":2,"price":"3","name":4,"redirectUrl":5,"chain":6}`, "INVALID_CURRENCY"},
		{"only the name wrong", `{"currency":"USDC","receiver":"` + evmAddr1 + `","price":0,"name":""}`, "NAME_REQUIRED"},
	}
	before := merchantLinkCount(t, env, m.ID)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kiraErr(t, env.Do("POST", "/api/link/generate?src=test", tc.body, m.Key()...), 400, tc.code, "/api/link/generate?src=test")
		})
	}
	if after := merchantLinkCount(t, env, m.ID); after != before {
		t.Fatalf("refused requests created %d links", after-before)
	}

	// Accepted: exact prices (an exponent that denotes ≤ 6 decimals, a
	// trailing zero past them), 0 is an open amount, the chain extension,
	// unknown fields ignored.
	for _, tc := range []struct {
		body  string
		units int64
		chain string
	}{
		{body("price", num("1e2")), 100_000_000, kiraChain},
		{body("price", num("1.5e-5"), "name", "small"), 0, ""}, // 0.000015: below the minimum
		{body("price", num("0.0100000")), 10_000, kiraChain},
		{body("price", num("1000000000")), 1_000_000_000_000_000, kiraChain},
		{body("price", num("0")), 0, kiraChain},
		{body("chain", kiraOtherNet, "unknown", map[string]any{"x": 1}), 10_000_000, kiraOtherNet},
	} {
		r := env.Do("POST", "/api/link/generate", tc.body, m.Key()...)
		if tc.chain == "" {
			kiraErr(t, r, 400, "INVALID_PRICE", "/api/link/generate")
			continue
		}
		code := strings.TrimPrefix(kiraOK(t, r, 201)["url"].(string), kiraBase+"/")
		l, err := env.Store.LinkBySlug(context.Background(), code)
		if err != nil || l.Amount != tc.units || l.Chain != tc.chain || l.OpenAmount() != (tc.units == 0) {
			t.Errorf("%s: %+v %v", tc.body, l, err)
		}
	}

	// No EVM chain enabled: USDC cannot be served, INVALID_CHAIN.
	off := webtest.New(t)
	mo := off.Register("off@example.com", "Off", webtest.AddrA)
	kiraErr(t, off.Do("POST", "/api/link/generate", seedGenerateBody, mo.Key()...), 400, "INVALID_CHAIN", "/api/link/generate")
	if n := merchantLinkCount(t, off, mo.ID); n != 0 {
		t.Fatalf("%d links without chains", n)
	}
}

// TestKiraPayAuth: missing, unknown or malformed credentials are 401
// API_KEY_INVALID in the KiraPay shape on every authenticated route.
func TestKiraPayAuth(t *testing.T) {
	env := newKiraEnv(t)
	m := env.Register("auth@example.com", "Auth", webtest.AddrA)
	bad := [][]string{
		nil,
		{"x-api-key", "till_nope"},
		{"x-api-key", m.APIKey + "x"},
		{"Authorization", "Bearer not.a.jwt"},
		{"Authorization", "Bearer " + m.Token[:len(m.Token)-2] + "xx"},
		{"Authorization", "Basic " + m.APIKey},
		{"Authorization", m.Token},
	}
	for _, h := range bad {
		kiraErr(t, env.Do("POST", "/api/link/generate", seedGenerateBody, h...), 401, "API_KEY_INVALID", "/api/link/generate")
		kiraErr(t, env.Do("GET", "/api/link?page=2", nil, h...), 401, "API_KEY_INVALID", "/api/link?page=2")
	}
	if n := merchantLinkCount(t, env, m.ID); n != 0 {
		t.Fatalf("unauthenticated requests created %d links", n)
	}
	kiraOK(t, env.Do("GET", "/api/link", nil, m.Key()...), 200)
	kiraOK(t, env.Do("GET", "/api/link", nil, m.Bearer()...), 200)
}

// TestKiraPayListLinks: fields exactly as issue 10 §2.2, newest first, the
// merchant's USDC links only, and the pagination arithmetic.
func TestKiraPayListLinks(t *testing.T) {
	env := newKiraEnv(t)
	m := env.Register("list@example.com", "List", webtest.AddrA)
	other := env.Register("other@example.com", "Other", webtest.AddrA)
	list := func(query string, who webtest.Merchant) map[string]any {
		t.Helper()
		return kiraOK(t, env.Do("GET", "/api/link"+query, nil, who.Key()...), 200)
	}
	// None yet: total 0, no pages, an empty array (never null).
	if r := env.Do("GET", "/api/link", nil, m.Key()...); r.Status != 200 ||
		string(r.Body) != `{"message":"success","data":{"links":[],"total":0,"page":1,"totalPages":0},"code":200}` {
		t.Fatalf("%d %s", r.Status, r.Body)
	}

	// One link, every field. A redirect URL with & and < is written as is.
	code := generate(t, env, `{"currency":"USDC","receiver":"`+seedReceiver+`","price":100.5,"name":"Order #A1209","redirectUrl":"https://shop.example/t?a=1&b=<2>"}`, m.Key())
	l, err := env.Store.LinkBySlug(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	usdc, _ := evm.Builtin(kiraChain)
	ts := models.ISOTime(l.CreatedAt)
	want := `{"message":"success","data":{"links":[{"_id":"` + models.ShortID(l.ID) + `","code":"` + code +
		`","price":100.5,"tokenOut":{"symbol":"USDC","address":"` + usdc.USDC.Hex() + `","decimals":6,"chain":"` + kiraChain +
		`"},"receiver":"` + seedReceiver + `","user":"` + models.ShortID(m.ID) + `","key":"` + keyID(m) +
		`","name":"Order #A1209","redirectUrl":"https://shop.example/t?a=1&b=<2>","createdAt":"` + ts + `","updatedAt":"` + ts +
		`"}],"total":1,"page":1,"totalPages":1},"code":200}`
	if r := env.Do("GET", "/api/link", nil, m.Key()...); string(r.Body) != want {
		t.Fatalf("list\n got %s\nwant %s", r.Body, want)
	}
	if !kiraTimeRe.MatchString(ts) || len(models.ShortID(l.ID)) != 24 {
		t.Fatalf("createdAt %s _id %s", ts, models.ShortID(l.ID))
	}

	// 24 more USDC links (25), a KAS link and another merchant's link,
	// neither of which is listed.
	codes := []string{code}
	for i := 1; i < 25; i++ {
		codes = append(codes, generate(t, env, fmt.Sprintf(`{"currency":"USDC","receiver":"%s","price":%d,"name":"n%d"}`, evmAddr1, i, i), m.Bearer()))
	}
	if r := env.Do("POST", "/api/links", map[string]any{"title": "KAS", "amount": 5, "currency": "KAS"}, m.Bearer()...); r.Status != 200 {
		t.Fatalf("KAS link: %d %s", r.Status, r.Body)
	}
	generate(t, env, seedGenerateBody, other.Key())

	var got []string
	for _, tc := range []struct {
		query          string
		n, page, pages int
		first          int // index into codes (newest is 24), -1 for none
	}{
		{"", 10, 1, 3, 24},
		{"?limit=10&page=2", 10, 2, 3, 14},
		{"?page=3&limit=10", 5, 3, 3, 4},
		{"?page=4&limit=10", 0, 4, 3, -1},
		{"?page=99999999999&limit=100", 0, 99999999999, 1, -1},
		{"?limit=7", 7, 1, 4, 24},
		{"?limit=100", 25, 1, 1, 24},
		{"?limit=500", 25, 1, 1, 24},
	} {
		d := list(tc.query, m)
		links := d["links"].([]any)
		if len(links) != tc.n || d["total"] != json.Number("25") || d["page"] != json.Number(fmt.Sprint(tc.page)) || d["totalPages"] != json.Number(fmt.Sprint(tc.pages)) {
			t.Errorf("%s: %d links, total %v page %v totalPages %v", tc.query, len(links), d["total"], d["page"], d["totalPages"])
			continue
		}
		if tc.first >= 0 && links[0].(map[string]any)["code"] != codes[tc.first] {
			t.Errorf("%s: first %v, want %s", tc.query, links[0].(map[string]any)["code"], codes[tc.first])
		}
		if tc.query == "?limit=100" {
			for _, x := range links {
				got = append(got, x.(map[string]any)["code"].(string))
			}
		}
	}
	for i, c := range got { // newest first
		if c != codes[len(codes)-1-i] {
			t.Fatalf("order %v", got)
		}
	}
	if d := list("", other); d["total"] != json.Number("1") {
		t.Errorf("other merchant sees %v links", d["total"])
	}

	// Above 100 is served as 100: with 101 links, limit=500 gives 100.
	for i := 25; i < 101; i++ {
		generate(t, env, fmt.Sprintf(`{"currency":"USDC","receiver":"%s","price":1,"name":"m%d"}`, evmAddr1, i), m.Key())
	}
	if d := list("?limit=500", m); len(d["links"].([]any)) != 100 || d["totalPages"] != json.Number("2") {
		t.Errorf("limit 500: %d links, %v pages", len(d["links"].([]any)), d["totalPages"])
	}

	for _, tc := range []struct{ query, code string }{
		{"?page=0", "INVALID_PAGE"},
		{"?page=abc", "INVALID_PAGE"},
		{"?page=-1", "INVALID_PAGE"},
		{"?page=1.5", "INVALID_PAGE"},
		{"?page=0&limit=0", "INVALID_PAGE"},
		{"?limit=0", "INVALID_LIMIT"},
		{"?limit=ten&page=2", "INVALID_LIMIT"},
		{"?limit=-5", "INVALID_LIMIT"},
	} {
		kiraErr(t, env.Do("GET", "/api/link"+tc.query, nil, m.Key()...), 400, tc.code, "/api/link"+tc.query)
	}
}

// TestKiraPayPublicLink: GET /api/link/:code without credentials; unknown,
// draft, inactive and non-USDC codes are 404 "Link not found"; the budget
// per IP answers 429 in the KiraPay shape.
func TestKiraPayPublicLink(t *testing.T) {
	env := newKiraEnv(t, func(o *web.Options) { o.PublicRateLimit = 12 })
	m := env.Register("public@example.com", "Public Shop", webtest.AddrA)
	code := generate(t, env, seedGenerateBody, m.Key())
	l, err := env.Store.LinkBySlug(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	usdc, _ := evm.Builtin(kiraChain)
	ts := models.ISOTime(l.CreatedAt)
	want := func(address string) string {
		return `{"message":"success","data":{"_id":"` + models.ShortID(l.ID) + `","code":"` + code +
			`","price":100.5,"tokenOut":{"symbol":"USDC","address":"` + usdc.USDC.Hex() + `","decimals":6,"chain":"` + kiraChain +
			`"},"receiver":"` + seedReceiver + `","user":{"_id":"` + models.ShortID(m.ID) + `","username":"Public Shop","address":"` + address +
			`","isVerified":false},"name":"Order #A1209","redirectUrl":"https://merchant.example.com/thank-you","createdAt":"` + ts +
			`","updatedAt":"` + ts + `","url":"http://till.test/` + code + `"},"code":200}`
	}
	// Without an EVM address of its own, the merchant's address is the
	// link's receiver; with one, that address.
	if r := env.Do("GET", "/api/link/"+code, nil); string(r.Body) != want(seedReceiver) {
		t.Fatalf("public link\n got %s\nwant %s", r.Body, want(seedReceiver))
	}
	if r := env.Do("PATCH", "/api/settings", map[string]any{"evmAddress": evmAddr2}, m.Bearer()...); r.Status != 200 {
		t.Fatalf("settings: %d %s", r.Status, r.Body)
	}
	if r := env.Do("GET", "/api/link/"+code, nil); string(r.Body) != want(evmAddr2) {
		t.Fatalf("public link\n got %s\nwant %s", r.Body, want(evmAddr2))
	}

	// Draft, inactive and KAS links, unknown codes: not found.
	kas := env.Do("POST", "/api/links", map[string]any{"title": "KAS", "amount": 5, "currency": "KAS"}, m.Bearer()...).JSON(t)
	draft := generate(t, env, `{"currency":"USDC","receiver":"`+evmAddr1+`","price":1,"name":"draft"}`, m.Key())
	inactive := generate(t, env, `{"currency":"USDC","receiver":"`+evmAddr1+`","price":1,"name":"inactive"}`, m.Key())
	for slug, status := range map[string]string{draft: "draft", inactive: "inactive"} {
		dl, _ := env.Store.LinkBySlug(context.Background(), slug)
		if r := env.Do("PATCH", "/api/links/"+dl.ID, map[string]any{"status": status}, m.Bearer()...); r.Status != 200 {
			t.Fatalf("%s: %d %s", status, r.Status, r.Body)
		}
	}
	for _, c := range []string{draft, inactive, kas["slug"].(string), "zzzzzzzzzz", "ABCDEFGHIJ"} {
		kiraErr(t, env.Do("GET", "/api/link/"+c+"?ref=x", nil), 404, "Link not found", "/api/link/"+c+"?ref=x")
	}
	// Over the per-IP budget: 429 in the KiraPay shape.
	var last webtest.Response
	for i := 0; i < 12 && last.Status != 429; i++ {
		last = env.Do("GET", "/api/link/"+code, nil)
	}
	kiraErr(t, last, 429, "TOO_MANY_REQUESTS", "/api/link/"+code)
}

// TestKiraPayRoutes: the KiraPay groups' own 404s and 413, the KasPay
// surface unchanged beside them.
func TestKiraPayRoutes(t *testing.T) {
	env := newKiraEnv(t)
	base := env.Listen()
	m := env.Register("routes@example.com", "Routes", webtest.AddrA)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/link/x/y"},
		{"GET", "/api/link/abc/def?q=1&r=<"},
		{"DELETE", "/api/link"},
		{"PUT", "/api/link/generate"},
		{"GET", "/api/wallet/nope"},
		{"GET", "/api/wallet"},
		{"GET", "/api/admin/nope"},
		{"POST", "/api/admin"},
	} {
		kiraErr(t, env.Do(tc.method, tc.path, nil, m.Key()...), 404, "NOT_FOUND", tc.path)
	}
	// 413: the body limit is enforced before routing, and still answered
	// in the KiraPay shape on KiraPay paths.
	if status, body := rawOversized(t, base, "/api/link/generate?x=1", "application/json"); status != 413 ||
		!regexp.MustCompile(`^\{"statusCode":413,"message":"PAYLOAD_TOO_LARGE","timestamp":"[0-9T:.\-]+Z","path":"/api/link/generate\?x=1"\}$`).MatchString(body) {
		t.Errorf("413: %d %s", status, body)
	}
	// KasPay routes keep {"error": …}, including /api/links beside /api/link.
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/links", `{"error":"Unauthorized"}`},
		{"GET", "/api/linksx", `{"error":"Not found"}`},
		{"GET", "/api/nowhere", `{"error":"Not found"}`},
	} {
		if r := env.Do(tc.method, tc.path, nil); string(r.Body) != tc.want {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.Status, r.Body)
		}
	}
	if status, body := rawOversized(t, base, "/api/links", "application/json"); status != 413 || body != `{"error":"Request body too large"}` {
		t.Errorf("KasPay 413: %d %s", status, body)
	}
}

// TestKiraPayRootCode: TILL_BASE_URL/<code> serves the link's checkout (its
// form still starts a session) and shadows no other page.
func TestKiraPayRootCode(t *testing.T) {
	env := newKiraEnv(t)
	m := env.Register("root@example.com", "Root Shop", webtest.AddrA)
	code := generate(t, env, `{"currency":"USDC","receiver":"`+evmAddr1+`","price":19.99,"name":"Ticket"}`, m.Key())
	c := env.Client()
	p := c.Get("/" + code)
	if p.Status != 200 || p.TestID("checkout-amount") != "19.99 USDC" {
		t.Fatalf("/%s: %d amount %q", code, p.Status, p.TestID("checkout-amount"))
	}
	if r := c.Submit("/"+code, "/pay/"+code, url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("start from /%s: %d", code, r.Status)
	}
	// Not the checkout: other pages, and paths that are not a code.
	notCheckout := func(path string) {
		t.Helper()
		p := c.Get(path)
		if p.Doc.Find(`[data-testid="checkout-amount"], [data-testid="checkout-form"]`).Length() > 0 ||
			strings.Contains(p.Body, "This payment link is not available") {
			t.Errorf("%s served by the checkout (%d)", path, p.Status)
		}
	}
	for _, path := range []string{"/login", "/signup", "/docs", "/healthz", "/readyz", "/dashboard",
		"/" + strings.ToUpper(code), "/" + code + "x", "/" + code[:9], "/abcdefgh-j"} {
		notCheckout(path)
	}
	if r := env.Do("GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("/healthz %d", r.Status)
	}
	// An unknown well-formed code is the checkout's own "not available".
	if p := c.Get("/zzzzzzzzzz"); p.Status != 404 || !strings.Contains(p.Body, "This payment link is not available") {
		t.Errorf("unknown code: %d", p.Status)
	}
}
