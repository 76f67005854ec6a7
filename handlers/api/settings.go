package api

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
)

type settingsRequest struct {
	Name                  *string `json:"name"`
	KaspaAddress          *string `json:"kaspaAddress"`
	PaymentExpiry         *int    `json:"paymentExpiry"`
	KaspaKpub             *string `json:"kaspaKpub"`
	RequiredConfirmations *int    `json:"requiredConfirmations"`
	EVMAddress            *string `json:"evmAddress"`
}

type settingsResponse struct {
	PaymentExpiry         int    `json:"paymentExpiry"`
	KaspaAddress          string `json:"kaspaAddress"`
	Name                  string `json:"name"`
	KaspaKpub             string `json:"kaspaKpub"`
	KaspaNextIndex        int64  `json:"kaspaNextIndex"`
	RequiredConfirmations int    `json:"requiredConfirmations"`
	EVMAddress            string `json:"evmAddress"`
}

// UpdateSettings changes the merchant's settings: PATCH /api/settings. Every
// field is validated first; one invalid field leaves everything unchanged.
func (a *API) UpdateSettings(c *fiber.Ctx) error {
	var req settingsRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	m, err := a.Store.UpdateSettings(c.UserContext(), authn.Merchant(c).ID, models.SettingsInput{
		Name: req.Name, KaspaAddress: req.KaspaAddress, PaymentExpiry: req.PaymentExpiry,
		KaspaKpub: req.KaspaKpub, RequiredConfirmations: req.RequiredConfirmations,
		EVMAddress: req.EVMAddress,
	})
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, settingsFrom(m))
}

func settingsFrom(m *models.Merchant) settingsResponse {
	return settingsResponse{PaymentExpiry: m.PaymentExpiry, KaspaAddress: m.KaspaAddress, Name: m.Name,
		KaspaKpub: m.KaspaKpub, KaspaNextIndex: m.KaspaNextIndex, RequiredConfirmations: m.RequiredConfirmations,
		EVMAddress: m.EVMAddressHex()}
}

type rotateResponse struct {
	APIKey string `json:"apiKey"`
}

// RotateAPIKey issues a new API key and revokes the old one, and with it
// every JWT and browser session issued before (the credential epoch):
// POST /api/settings/api-key.
func (a *API) RotateAPIKey(c *fiber.Ctx) error {
	noStore(c)
	key, err := a.Store.RotateAPIKey(c.UserContext(), authn.Merchant(c).ID)
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, rotateResponse{APIKey: key})
}
