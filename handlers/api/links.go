package api

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/handlers/render"
	"till/models"
)

type linkRequest struct {
	Title          optional[string] `json:"title"`
	Description    optional[string] `json:"description"`
	Amount         optional[number] `json:"amount"`
	Currency       optional[string] `json:"currency"`
	ExpiryMinutes  optional[int]    `json:"expiryMinutes"`
	Status         optional[string] `json:"status"`
	SuccessMessage optional[string] `json:"successMessage"`
	RedirectURL    optional[string] `json:"redirectUrl"`
	LinkExpiresIn  optional[int]    `json:"linkExpiresIn"`
	// USDC links (extensions): the EVM chain and the receiver.
	Chain    optional[string] `json:"chain"`
	Receiver optional[string] `json:"receiver"`
}

// input converts the request to the domain's LinkInput. A null string
// field clears it; a null expiryMinutes falls back to the merchant default;
// a null or 0 linkExpiresIn means the link never expires.
func (r linkRequest) input() models.LinkInput {
	var in models.LinkInput
	strField := func(o optional[string]) *string {
		if !o.Set {
			return nil
		}
		s := o.Value
		return &s
	}
	in.Title = strField(r.Title)
	in.Description = strField(r.Description)
	in.Currency = strField(r.Currency)
	in.Status = strField(r.Status)
	in.SuccessMessage = strField(r.SuccessMessage)
	in.RedirectURL = strField(r.RedirectURL)
	in.Chain = strField(r.Chain)
	in.Receiver = strField(r.Receiver)
	if r.Amount.Set {
		t := r.Amount.Value.Text
		in.Amount = &t
	}
	if r.ExpiryMinutes.Set {
		var v *int
		if !r.ExpiryMinutes.Null {
			x := r.ExpiryMinutes.Value
			v = &x
		}
		in.ExpiryMinutes = &v
	}
	if r.LinkExpiresIn.Set {
		var v *int
		if !r.LinkExpiresIn.Null {
			x := r.LinkExpiresIn.Value
			v = &x
		}
		in.LinkExpiresIn = &v
	}
	return in
}

type linkJSON struct {
	ID             string  `json:"id"`
	Title          string  `json:"title"`
	Description    string  `json:"description"`
	Amount         string  `json:"amount"`
	Currency       string  `json:"currency"`
	Slug           string  `json:"slug"`
	URL            string  `json:"url"`
	Status         string  `json:"status"`
	ExpiresAt      *string `json:"expiresAt"`
	ExpiryMinutes  int     `json:"expiryMinutes"`
	SuccessMessage string  `json:"successMessage"`
	RedirectURL    string  `json:"redirectUrl"`
	CreatedAt      string  `json:"createdAt"`
	UpdatedAt      string  `json:"updatedAt"`
	// USDC links only (extensions): chain and receiver (EIP-55).
	Chain    string `json:"chain,omitempty"`
	Receiver string `json:"receiver,omitempty"`
}

// linkJSON is a link as the API shows it. expiryMinutes is always the
// session window that applies: the link's own, or the merchant's default
// (paymentExpiry) when the link has none.
func (a *API) linkJSON(l *models.PaymentLink, m *models.Merchant) linkJSON {
	out := linkJSON{
		ID: l.ID, Title: l.Title, Description: l.Description, Amount: models.FormatAmount8(l.Amount, l.Currency),
		Currency: string(l.Currency), Slug: l.Slug, URL: a.BaseURL + "/pay/" + l.Slug, Status: string(l.Status),
		ExpiresAt: isoTimePtr(l.ExpiresAt), ExpiryMinutes: l.EffectiveExpiryMinutes(m.PaymentExpiry), SuccessMessage: l.SuccessMessage,
		RedirectURL: l.RedirectURL, CreatedAt: models.ISOTime(l.CreatedAt), UpdatedAt: models.ISOTime(l.UpdatedAt),
	}
	if l.Currency == models.USDC {
		out.Chain, out.Receiver = l.Chain, l.ReceiverHex()
	}
	return out
}

// CreateLink creates a payment link: POST /api/links.
func (a *API) CreateLink(c *fiber.Ctx) error {
	var req linkRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	l, err := a.Store.CreateLink(c.UserContext(), authn.Merchant(c).ID, req.input())
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, a.linkJSON(l, authn.Merchant(c)))
}

// ListLinks lists the merchant's links: GET /api/links.
func (a *API) ListLinks(c *fiber.Ctx) error {
	m := authn.Merchant(c)
	links, err := a.Store.Links(c.UserContext(), m.ID)
	if err != nil {
		return err
	}
	out := make([]linkJSON, len(links))
	for i := range links {
		out[i] = a.linkJSON(&links[i], m)
	}
	return render.JSON(c, fiber.StatusOK, fiber.Map{"data": out})
}

// GetLink returns one of the merchant's links: GET /api/links/:id.
func (a *API) GetLink(c *fiber.Ctx) error {
	l, err := a.Store.Link(c.UserContext(), authn.Merchant(c).ID, c.Params("id"))
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, a.linkJSON(l, authn.Merchant(c)))
}

// UpdateLink edits a link (publish, deactivate, change fields):
// PATCH /api/links/:id.
func (a *API) UpdateLink(c *fiber.Ctx) error {
	var req linkRequest
	if err := render.DecodeJSON(c, &req); err != nil {
		return err
	}
	l, err := a.Store.UpdateLink(c.UserContext(), authn.Merchant(c).ID, c.Params("id"), req.input())
	if err != nil {
		return err
	}
	return render.JSON(c, fiber.StatusOK, a.linkJSON(l, authn.Merchant(c)))
}
