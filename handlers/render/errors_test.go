package render_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
	"till/models"
)

// TestReasonTables: every domain reason has an answer in each dialect.
func TestReasonTables(t *testing.T) {
	code := regexp.MustCompile(`^[A-Z][A-Z_]+$`)
	for _, r := range models.Reasons {
		if a, ok := render.KasPayReasons[r]; !ok || a.Status < 400 || a.Status > 499 || a.Message != "" {
			t.Errorf("KasPay %s: %+v (want a 4xx and the error's own message)", r, a)
		}
		if a, ok := render.KiraPayReasons[r]; !ok || a.Status < 400 || a.Status > 499 || !code.MatchString(a.Message) {
			t.Errorf("KiraPay %s: %+v (want a 4xx and an upper-snake code)", r, a)
		}
	}
	if len(render.KasPayReasons) != len(models.Reasons) || len(render.KiraPayReasons) != len(models.Reasons) {
		t.Errorf("tables have %d and %d entries for %d reasons", len(render.KasPayReasons), len(render.KiraPayReasons), len(models.Reasons))
	}
}

// TestStatusOf: each domain error answers KasPay's status (unchanged from
// the Status fields it replaces) with its own message, and the KiraPay
// status and code of its reason.
func TestStatusOf(t *testing.T) {
	state := func(r models.Reason, msg string) error { return &models.StateError{Reason: r, Message: msg} }
	cases := []struct {
		name       string
		err        error
		status     int
		msg        string
		kiraStatus int
		kira       string
	}{
		{"draft link", state(models.ErrLinkNotActive, "Payment link is not active"), 400, "Payment link is not active", 400, "LINK_NOT_ACTIVE"},
		{"inactive link", state(models.ErrLinkClosed, models.MsgLinkExpired), 400, models.MsgLinkExpired, 400, "LINK_NOT_ACTIVE"},
		{"expired link", state(models.ErrLinkExpired, models.MsgLinkExpired), 400, models.MsgLinkExpired, 400, "LINK_EXPIRED"},
		{"no payout address", state(models.ErrNoPayoutAddress, "no address"), 409, "no address", 409, "NO_PAYOUT_ADDRESS"},
		{"not a wallet payment", state(models.ErrNotWalletPayment, "not wallet"), 400, "not wallet", 400, "NOT_WALLET_PAYMENT"},
		{"payment closed", state(models.ErrPaymentClosed, "closed"), 409, "closed", 409, "PAYMENT_CLOSED"},
		{"webhook inactive", state(models.ErrWebhookInactive, "inactive"), 409, "inactive", 409, "WEBHOOK_INACTIVE"},
		{"no reason", &models.StateError{Message: "refused"}, 409, "refused", 409, "CONFLICT"},
		{"rate limited", &models.RateLimitError{Message: "slow down"}, 429, "slow down", 429, "TOO_MANY_REQUESTS"},
		{"assign refused", models.ErrSessionNotEligible, 409, "This payment cannot take the credit.", 409, "ASSIGN_REFUSED"},
		{"duplicate", &models.ConflictError{Field: "email", Message: "Email taken"}, 409, "Email taken", 409, "DUPLICATE"},
		{"invalid field", models.Invalid("email", "Bad email"), 400, "Bad email", 400, "VALIDATION_ERROR"},
		{"invalid fields", models.ValidationErrors{{Field: "name", Message: "Name required"}}, 400, "Name required", 400, "VALIDATION_ERROR"},
		{"KiraPay field", models.Invalid("receiver", "Bad receiver"), 400, "Bad receiver", 400, "INVALID_ETHEREUM_ADDRESS"},
		{"KiraPay field order", models.ValidationErrors{
			{Field: "title", Reason: models.ErrTooLong, Message: "Title too long"},
			{Field: "amount", Reason: models.ErrWrongType, Message: "price must be a number"},
		}, 400, "Title too long", 400, "PRICE_MUST_BE_NUMBER"},
		{"KiraPay code", &render.CodeError{Status: 400, Code: "INVALID_PAGE"}, 400, "INVALID_PAGE", 400, "INVALID_PAGE"},
		{"below minimum", &models.ValidationError{Reason: models.ErrBelowMinimum, Message: "too low"}, 400, "too low", 400, "INVALID_PRICE"},
		{"not found", &models.NotFoundError{What: "Payment"}, 404, "Payment not found", 404, "Payment not found"},
		{"unauthorized", render.Unauthorized, 401, "Unauthorized", 401, "API_KEY_INVALID"},
		{"body too large", fiber.ErrRequestEntityTooLarge, 413, "Request body too large", 413, "PAYLOAD_TOO_LARGE"},
		{"unavailable", &models.UnavailableError{Message: "No price"}, 503, "No price", 503, "SERVICE_UNAVAILABLE"},
		{"unexpected", io.ErrUnexpectedEOF, 500, "Internal server error", 500, "Internal server error"},
	}
	for _, tc := range cases {
		status, msg, internal := render.StatusOf(tc.err)
		if status != tc.status || msg != tc.msg || internal != (tc.status == 500) {
			t.Errorf("%s: KasPay %d %q %v, want %d %q", tc.name, status, msg, internal, tc.status, tc.msg)
		}
		status, msg, internal = render.KiraPayStatusOf(tc.err)
		if status != tc.kiraStatus || msg != tc.kira || internal != (tc.status == 500) {
			t.Errorf("%s: KiraPay %d %q %v, want %d %q", tc.name, status, msg, internal, tc.kiraStatus, tc.kira)
		}
	}
}

// TestKiraPayError: the KiraPay body has exactly the seed's four fields in
// its order, the time in UTC with milliseconds and the path with its query.
func TestKiraPayError(t *testing.T) {
	at := time.Date(2026, 3, 1, 13, 4, 5, 123_456_789, time.FixedZone("CET", 3600))
	app := fiber.New()
	app.Get("/api/link/:id", func(c *fiber.Ctx) error { return render.KiraPayError(c, 404, "Link not found", at) })
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/api/link/abc?x=1&y=%20z", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `{"statusCode":404,"message":"Link not found","timestamp":"2026-03-01T12:04:05.123Z","path":"/api/link/abc?x=1&y=%20z"}`
	if resp.StatusCode != 404 || string(body) != want {
		t.Fatalf("%d %s\nwant %s", resp.StatusCode, body, want)
	}
}

// TestDialectOf: a group's dialect wins; without one, /api is KasPay and
// everything else HTML.
func TestDialectOf(t *testing.T) {
	app := fiber.New()
	var got render.Dialect
	probe := func(c *fiber.Ctx) error { got = render.DialectOf(c); return nil }
	app.Get("/api/plain", probe)
	app.Get("/plain", probe)
	app.Get("/kira", func(c *fiber.Ctx) error { render.SetDialect(c, render.DialectKiraPay); return c.Next() }, probe)
	app.Get("/api/kira", func(c *fiber.Ctx) error { render.SetDialect(c, render.DialectKiraPay); return c.Next() }, probe)
	for path, want := range map[string]render.Dialect{
		"/api/plain": render.DialectKasPay, "/plain": render.DialectHTML,
		"/kira": render.DialectKiraPay, "/api/kira": render.DialectKiraPay,
	} {
		got = 0
		resp, err := app.Test(httptest.NewRequest(http.MethodGet, path, nil))
		if err == nil {
			resp.Body.Close()
		}
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", path, got, err, want)
		}
	}
}
