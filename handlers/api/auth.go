package api

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
)

type registerRequest struct {
	Email        *string `json:"email"`
	Password     *string `json:"password"`
	Name         *string `json:"name"`
	KaspaAddress *string `json:"kaspaAddress"`
}

type userJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type authResponse struct {
	User  userJSON `json:"user"`
	Token string   `json:"token"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// noStore marks a response that carries a credential (token, API key) as not
// cacheable; set first, so error answers carry it too.
func noStore(c *fiber.Ctx) { c.Set(fiber.HeaderCacheControl, "no-store") }

// Register creates a merchant account: POST /api/auth/register.
func (a *API) Register(c *fiber.Ctx) error {
	noStore(c)
	var req registerRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	m, err := a.Store.Register(c.UserContext(), models.RegisterInput{
		Email: deref(req.Email), Password: deref(req.Password), Name: deref(req.Name), KaspaAddress: deref(req.KaspaAddress),
	})
	if err != nil {
		return err
	}
	return a.respondWithToken(c, fiber.StatusOK, m)
}

type loginRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// Login exchanges an email and password for a JWT: POST /api/auth/login.
// Attempts share one budget per client IP and per account with the HTML
// login (429 with Retry-After beyond it).
func (a *API) Login(c *fiber.Ctx) error {
	noStore(c)
	var req loginRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Store.LoginAttempt(c.UserContext(), c.IP(), deref(req.Email), a.LoginLimit); err != nil {
		return err
	}
	if deref(req.Email) == "" || deref(req.Password) == "" {
		return render.BadRequest("Email and password are required")
	}
	if err := models.CheckLoginEmail(*req.Email); err != nil {
		return err
	}
	m, err := a.Store.Authenticate(c.UserContext(), *req.Email, *req.Password)
	if err != nil {
		return err
	}
	return a.respondWithToken(c, fiber.StatusOK, m)
}

func (a *API) respondWithToken(c *fiber.Ctx, status int, m *models.Merchant) error {
	tok, err := a.Tokens.Issue(m.ID, m.CredentialEpoch)
	if err != nil {
		return err
	}
	return render.JSON(c, status, authResponse{User: userJSON{ID: m.ID, Email: m.Email, Name: m.Name}, Token: tok})
}

type meResponse struct {
	ID            string `json:"id"`
	Email         string `json:"email"`
	Name          string `json:"name"`
	KaspaAddress  string `json:"kaspaAddress"`
	APIKey        string `json:"apiKey"`
	PaymentExpiry int    `json:"paymentExpiry"`
	// Extras beyond the KasPay document.
	KaspaKpub             string `json:"kaspaKpub"`
	KaspaNextIndex        int64  `json:"kaspaNextIndex"`
	RequiredConfirmations int    `json:"requiredConfirmations"`
	CreatedAt             string `json:"createdAt"`
	EVMAddress            string `json:"evmAddress"`
}

// Me returns the authenticated merchant with its API key: GET /api/auth/me.
func (a *API) Me(c *fiber.Ctx) error {
	noStore(c)
	m := authn.Merchant(c)
	key, err := a.Store.APIKey(m)
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, meResponse{
		ID: m.ID, Email: m.Email, Name: m.Name, KaspaAddress: m.KaspaAddress, APIKey: key,
		PaymentExpiry: m.PaymentExpiry, KaspaKpub: m.KaspaKpub, KaspaNextIndex: m.KaspaNextIndex,
		RequiredConfirmations: m.RequiredConfirmations, CreatedAt: models.ISOTime(m.CreatedAt),
		EVMAddress: m.EVMAddressHex(),
	})
}
