package web_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"till/handlers/authn"
	"till/models"
	"till/models/modeltest"
	"till/web"
	"till/web/webtest"
)

func TestRegister(t *testing.T) {
	env := webtest.New(t)
	valid := func() map[string]any {
		return map[string]any{"email": "shop@example.com", "password": "securepassword", "name": "My Store", "kaspaAddress": webtest.AddrA}
	}
	with := func(k string, v any) map[string]any { m := valid(); m[k] = v; return m }
	without := func(k string) map[string]any { m := valid(); delete(m, k); return m }

	r := env.Do("POST", "/api/auth/register", valid())
	if r.Status != http.StatusOK {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	user, _ := body["user"].(map[string]any)
	if user["email"] != "shop@example.com" || user["name"] != "My Store" || user["id"] == "" {
		t.Fatalf("user = %v", user)
	}
	if len(user) != 3 {
		t.Errorf("user must carry exactly id, email, name; got %v", user)
	}
	tok, _ := body["token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token = %q", tok)
	}
	if strings.Contains(string(r.Body), "password") || strings.Contains(string(r.Body), "$2a$") {
		t.Fatal("response leaks password material")
	}

	long := strings.Repeat("a", 73)
	cases := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"bad email", with("email", "not-an-email"), 400, "Invalid email format"},
		{"email with display name", with("email", "Shop <a@example.com>"), 400, "Invalid email format"},
		{"missing email", without("email"), 400, "Email is required"},
		{"short password", with("password", "short"), 400, "Password must be at least 10 characters"},
		{"long password", with("password", long), 400, "Password must be at most 72 bytes"},
		{"missing name", without("name"), 400, "Name is required"},
		{"blank name", with("name", "   "), 400, "Name is required"},
		{"long name", with("name", strings.Repeat("n", 101)), 400, "Name must be at most 100 characters"},
		{"missing address", without("kaspaAddress"), 400, "Kaspa address is required"},
		{"bad checksum", with("kaspaAddress", "kaspa:qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqkx9awp4l"), 400, "Invalid Kaspa address"},
		{"testnet address on mainnet", with("kaspaAddress", "kaspatest:qpqz2vxj23kvh0m73ta2jjn2u4cv4tlufqns2eap8mxyyt0rvrxy6ejkful67"), 400, "Invalid Kaspa address"},
		{"email not a string", with("email", 42), 400, "email must be a string"},
		{"password not a string", with("password", true), 400, "password must be a string"},
		{"malformed json", `{"email": "a@b.co",`, 400, "Malformed JSON"},
		{"not an object", `["a"]`, 400, "Request body must be a JSON object"},
		{"empty body", ``, 400, "Request body must be a JSON object"},
		{"trailing data", `{"email":"x@y.co"} {}`, 400, "Malformed JSON"},
		{"duplicate email", valid(), 409, "Email already registered"},
		{"duplicate email other case", with("email", "SHOP@Example.COM"), 409, "Email already registered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/register", tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if msg := r.Error(t); !strings.Contains(msg, tc.msg) {
				t.Fatalf("error %q, want it to contain %q", msg, tc.msg)
			}
		})
	}
	// None of the rejected requests created an account.
	r = env.Do("POST", "/api/auth/login", map[string]any{"email": "x@y.co", "password": "securepassword"})
	if r.Status != 401 {
		t.Fatalf("a rejected registration created an account: %d", r.Status)
	}
}

func TestRegisterOversizedBody(t *testing.T) {
	env := webtest.New(t)
	base := env.Listen() // over real TCP: the in-process client refuses big bodies itself
	// Announce a 2 MiB body and send only its start, as a client streaming
	// a large upload would; the server must answer 413 without reading it all.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/auth/register HTTP/1.1\r\nHost: till.test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"email\":\"", 2<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := webtest.Response{Status: resp.StatusCode, Body: raw}
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d: %.200s", r.Status, r.Body)
	}
	if msg := r.Error(t); msg != "Request body too large" {
		t.Fatalf("error %q", msg)
	}
}

func TestLogin(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("login@example.com", "Login Shop", webtest.AddrA)

	r := env.Do("POST", "/api/auth/login", map[string]any{"email": "LOGIN@example.com", "password": m.Password})
	if r.Status != 200 {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if u := body["user"].(map[string]any); u["id"] != m.ID || u["email"] != "login@example.com" || u["name"] != "Login Shop" {
		t.Fatalf("user = %v", u)
	}
	tok := body["token"].(string)
	if me := env.Do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+tok); me.Status != 200 {
		t.Fatalf("token from login rejected: %d", me.Status)
	}

	cases := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"wrong password", map[string]any{"email": m.Email, "password": "wrong password"}, 401, "Invalid email or password"},
		{"unknown email", map[string]any{"email": "nobody@example.com", "password": m.Password}, 401, "Invalid email or password"},
		{"missing password", map[string]any{"email": m.Email}, 400, "Email and password are required"},
		{"password wrong type", map[string]any{"email": m.Email, "password": 12345678}, 400, "password must be a string"},
		{"malformed", `{`, 400, "Malformed JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("POST", "/api/auth/login", tc.body)
			if r.Status != tc.status || !strings.Contains(r.Error(t), tc.msg) {
				t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, tc.status, tc.msg)
			}
		})
	}
}

func TestMe(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("me@example.com", "Me Shop", webtest.AddrA)

	for _, auth := range [][]string{m.Bearer(), m.Key()} {
		r := env.Do("GET", "/api/auth/me", nil, auth...)
		if r.Status != 200 {
			t.Fatalf("me with %s: %d %s", auth[0], r.Status, r.Body)
		}
		body := r.JSON(t)
		want := map[string]any{"id": m.ID, "email": "me@example.com", "name": "Me Shop", "kaspaAddress": webtest.AddrA, "apiKey": m.APIKey}
		for k, v := range want {
			if body[k] != v {
				t.Errorf("%s = %v, want %v", k, body[k], v)
			}
		}
		if n, ok := body["paymentExpiry"].(json.Number); !ok || n.String() != "30" {
			t.Errorf("paymentExpiry = %#v, want the number 30", body["paymentExpiry"])
		}
		for _, secret := range []string{"passwordHash", "apiKeyHash", "password"} {
			if _, ok := body[secret]; ok {
				t.Errorf("me leaks %s", secret)
			}
		}
	}
}

func TestUnauthorized(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("auth@example.com", "Auth Shop", webtest.AddrA)
	key := models.DeriveKey(modeltest.TestSecret, "jwt")
	sign := func(method jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	good := jwt.MapClaims{"sub": m.ID, "iss": "till", "aud": "till-api", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	expired := jwt.MapClaims{"sub": m.ID, "iss": "till", "aud": "till-api", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}
	noExp := jwt.MapClaims{"sub": m.ID, "iss": "till", "aud": "till-api"}
	unknownSub := jwt.MapClaims{"sub": "00000000-0000-0000-0000-000000000000", "iss": "till", "aud": "till-api", "exp": now.Add(time.Hour).Unix()}

	if r := env.Do("GET", "/api/auth/me", nil, "Authorization", "Bearer "+sign(jwt.SigningMethodHS256, key, good)); r.Status != 200 {
		t.Fatalf("control: a correctly signed token must pass, got %d", r.Status)
	}
	noneTok := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good)
	cases := []struct {
		name    string
		headers []string
	}{
		{"no credentials", nil},
		{"basic scheme", []string{"Authorization", "Basic " + m.Token}},
		{"garbage token", []string{"Authorization", "Bearer not.a.jwt"}},
		{"wrong key", []string{"Authorization", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), good)}},
		{"HS512 algorithm", []string{"Authorization", "Bearer " + sign(jwt.SigningMethodHS512, key, good)}},
		{"alg none", []string{"Authorization", "Bearer " + noneTok}},
		{"expired", []string{"Authorization", "Bearer " + sign(jwt.SigningMethodHS256, key, expired)}},
		{"no expiry", []string{"Authorization", "Bearer " + sign(jwt.SigningMethodHS256, key, noExp)}},
		{"deleted merchant", []string{"Authorization", "Bearer " + sign(jwt.SigningMethodHS256, key, unknownSub)}},
		{"unknown api key", []string{"x-api-key", "0b6a5c0e-5d6f-4b64-9d0e-1f0d3c0b7a11"}},
		{"empty api key", []string{"x-api-key", " "}},
	}
	for _, path := range []struct{ method, path string }{{"GET", "/api/auth/me"}, {"PATCH", "/api/settings"}, {"POST", "/api/settings/api-key"}} {
		for _, tc := range cases {
			t.Run(path.method+" "+path.path+" "+tc.name, func(t *testing.T) {
				r := env.Do(path.method, path.path, `{"paymentExpiry": 5}`, tc.headers...)
				if r.Status != 401 || r.Error(t) != "Unauthorized" {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
			})
		}
	}
	// Nothing above changed the settings.
	me := env.Do("GET", "/api/auth/me", nil, m.Bearer()...).JSON(t)
	if me["paymentExpiry"].(json.Number).String() != "30" {
		t.Fatal("an unauthorized request changed settings")
	}
}

func TestTokenExpiryWithClock(t *testing.T) {
	tokens := authn.NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour)
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, err := tokens.WithClock(func() time.Time { return issued }).Issue("m1", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{{issued.Add(59 * time.Minute), true}, {issued.Add(61 * time.Minute), false}} {
		id, _, err := tokens.WithClock(func() time.Time { return tc.at }).Verify(tok)
		if (err == nil) != tc.ok || (tc.ok && id != "m1") {
			t.Errorf("at %s: id %q err %v, want ok=%v", tc.at, id, err, tc.ok)
		}
	}
}

func TestSettings(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("settings@example.com", "Settings Shop", webtest.AddrA)

	r := env.Do("PATCH", "/api/settings", map[string]any{"paymentExpiry": 60, "kaspaAddress": webtest.AddrB}, m.Bearer()...)
	if r.Status != 200 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	body := r.JSON(t)
	if body["paymentExpiry"].(json.Number).String() != "60" || body["kaspaAddress"] != webtest.AddrB {
		t.Fatalf("response = %s", r.Body)
	}

	cases := []struct {
		name string
		body any
		msg  string
	}{
		{"expiry zero", map[string]any{"paymentExpiry": 0}, "paymentExpiry must be a whole number of minutes between 1 and 10080"},
		{"expiry too big", map[string]any{"paymentExpiry": 10081}, "between 1 and 10080"},
		{"expiry fractional", map[string]any{"paymentExpiry": 1.5}, "paymentExpiry must be an integer"},
		{"expiry string", map[string]any{"paymentExpiry": "60"}, "paymentExpiry must be an integer"},
		{"bad address with good expiry", map[string]any{"paymentExpiry": 90, "kaspaAddress": "kaspa:nope"}, "Invalid Kaspa address"},
		{"address wrong type", map[string]any{"kaspaAddress": 7}, "kaspaAddress must be a string"},
		{"empty address", map[string]any{"kaspaAddress": ""}, "Kaspa address is required"},
		{"empty name", map[string]any{"name": "", "paymentExpiry": 90}, "Name is required"},
		{"nothing to update", map[string]any{}, "No settings to update"},
		{"confirmations zero", map[string]any{"requiredConfirmations": 0}, "requiredConfirmations must be between 1 and 1000"},
		{"confirmations too many", map[string]any{"requiredConfirmations": 1001}, "requiredConfirmations must be between 1 and 1000"},
		{"private key pasted", map[string]any{"kaspaKpub": "kprv5y2qurMHCsXYrNfU3GCihuwG3vMqFji7PZXajMEqyBkNh9UZUJgoHYBLTKu1eM4MvUtomcXPQ3Sw9HZ5ebbM4byoUciHo1zrPJBQfqpLorQ"}, "private"},
		{"testnet kpub on mainnet", map[string]any{"kaspaKpub": "ktub23mE4p2ztefp518uPxpDVU3yMST8b3sK3Kj7SEL1SzaQMNgvcym37xEzCcUcDrE4TcDAoxysqvU1Ct51xVCVv41UMKS82Me2Ha5FUBwiEbc"}, "Invalid extended public key"},
		{"malformed", `{"paymentExpiry": }`, "Malformed JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := env.Do("PATCH", "/api/settings", tc.body, m.Key()...)
			if r.Status != 400 || !strings.Contains(r.Error(t), tc.msg) {
				t.Fatalf("got %d %s, want 400 %q", r.Status, r.Body, tc.msg)
			}
		})
	}
	me := env.Do("GET", "/api/auth/me", nil, m.Bearer()...).JSON(t)
	if me["paymentExpiry"].(json.Number).String() != "60" || me["kaspaAddress"] != webtest.AddrB || me["name"] != "Settings Shop" ||
		me["kaspaKpub"] != "" || me["requiredConfirmations"].(json.Number).String() != "100" {
		t.Fatalf("a rejected update changed something: %v", me)
	}
	kpub := "kpub2K5JP5BKvfwttwv3aCdLAiF26nZugo8HA5SNv51hHCRRf5fWx8qPYjNxRBNc8tracpahrC3HpqK5VoaTS9hrT1q7LuzQL4LchptgsHhsThv"
	r = env.Do("PATCH", "/api/settings", map[string]any{"kaspaKpub": kpub, "requiredConfirmations": 600}, m.Bearer()...)
	if r.Status != 200 || r.JSON(t)["kaspaKpub"] != kpub || r.JSON(t)["requiredConfirmations"].(json.Number).String() != "600" {
		t.Fatalf("kpub + confirmations: %d %s", r.Status, r.Body)
	}
}

func TestRotateAPIKey(t *testing.T) {
	env := webtest.New(t)
	m := env.Register("rotate@example.com", "Rotate Shop", webtest.AddrA)
	r := env.Do("POST", "/api/settings/api-key", nil, m.Key()...)
	if r.Status != 200 {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	newKey := r.JSON(t)["apiKey"].(string)
	if newKey == "" || newKey == m.APIKey {
		t.Fatalf("new key %q", newKey)
	}
	if r := env.Do("GET", "/api/auth/me", nil, m.Key()...); r.Status != 401 {
		t.Fatalf("old key still works: %d", r.Status)
	}
	me := env.Do("GET", "/api/auth/me", nil, "x-api-key", newKey)
	if me.Status != 200 || me.JSON(t)["apiKey"] != newKey {
		t.Fatalf("new key: %d %s", me.Status, me.Body)
	}
}

func TestAuthRateLimit(t *testing.T) {
	env := webtest.New(t, func(o *web.Options) { o.AuthRateLimit = 3 })
	for i := 0; i < 3; i++ {
		r := env.Do("POST", "/api/auth/login", map[string]any{"email": "x@example.com", "password": "whatever1"})
		if r.Status != 401 {
			t.Fatalf("attempt %d: %d", i+1, r.Status)
		}
	}
	r := env.Do("POST", "/api/auth/login", map[string]any{"email": "x@example.com", "password": "whatever1"})
	if r.Status != 429 {
		t.Fatalf("4th attempt: %d %s", r.Status, r.Body)
	}
	if msg := r.Error(t); !strings.Contains(msg, "Too many requests") {
		t.Fatalf("error %q", msg)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Register has its own budget per IP, and answers 429 in the same format.
	for i := 0; i < 3; i++ {
		env.Do("POST", "/api/auth/register", `{}`)
	}
	if r := env.Do("POST", "/api/auth/register", `{}`); r.Status != 429 || !strings.Contains(r.Error(t), "Too many requests") {
		t.Fatalf("register after limit: %d %s", r.Status, r.Body)
	}
}

func TestUnknownAPIRoute(t *testing.T) {
	env := webtest.New(t)
	r := env.Do("GET", "/api/nope", nil)
	if r.Status != 404 || r.Error(t) != "Not found" {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
}

func TestHealth(t *testing.T) {
	env := webtest.New(t)
	if r := env.Do("GET", "/healthz", nil); r.Status != 200 {
		t.Fatalf("healthz %d", r.Status)
	}
	if r := env.Do("GET", "/readyz", nil); r.Status != 200 || r.JSON(t)["status"] != "ready" {
		t.Fatalf("readyz %d %s", r.Status, r.Body)
	}
	if err := env.Store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	if r := env.Do("GET", "/readyz", nil); r.Status != 503 {
		t.Fatalf("readyz with a closed database: %d", r.Status)
	}
}
