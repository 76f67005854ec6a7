package kirapay

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"till/handlers/authn"
	"till/models"
	"till/models/evm"
)

// WarnReceiverChecksum is the warning of a link whose mixed-case receiver
// fails its EIP-55 checksum (accepted: the seed's own example does).
const WarnReceiverChecksum = "RECEIVER_CHECKSUM_MISMATCH"

// generated is the data of POST /api/link/generate.
type generated struct {
	URL      string   `json:"url"`
	Warnings []string `json:"warnings,omitempty"`
}

// GenerateLink creates a USDC link: POST /api/link/generate (issue 10 §2.1).
// The body's JSON types are checked here (price must be a JSON number, read
// from its text), the rest by the link domain; the first failing field in
// the seed's order is answered (render.KiraPayFields).
func (a *API) GenerateLink(c *fiber.Ctx) error {
	in, err := generateInput(c.Body())
	if err != nil {
		return err
	}
	in.APIKeyID = authn.APIKeyID(c)
	l, err := a.Store.CreateLink(c.UserContext(), authn.Merchant(c).ID, in)
	if err != nil {
		return err
	}
	out := generated{URL: a.linkURL(l)}
	if l.ReceiverChecksumMismatch() {
		out.Warnings = []string{WarnReceiverChecksum}
	}
	return OK(c, http.StatusCreated, out)
}

// generateInput reads the generate body into the link domain's input: a
// body that is not a JSON object is INVALID_JSON; a field missing, null or
// of the wrong JSON type becomes an edge error the domain reports with its
// own. Unknown fields are ignored.
func generateInput(body []byte) (models.LinkInput, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return models.LinkInput{}, Fail(http.StatusBadRequest, "INVALID_JSON")
	}
	in := models.LinkInput{ReceiverAnyCase: true}
	var edge models.ValidationErrors
	refuse := func(field string, r models.Reason, msg string) {
		edge = append(edge, &models.ValidationError{Field: field, Reason: r, Message: msg})
	}
	// currency: exactly "USDC".
	switch cur, kind := field(raw, "currency"); {
	case kind == absent:
		refuse("currency", models.ErrRequired, "currency is required")
	case kind != text || cur != string(models.USDC):
		refuse("currency", models.ErrInvalid, "currency must be USDC")
	default:
		in.Currency = &cur
	}
	// receiver: 0x + 40 hex in any case, not the zero address (domain).
	switch r, kind := field(raw, "receiver"); {
	case kind == absent || kind == text && r == "":
		refuse("receiver", models.ErrRequired, "receiver is required")
	case kind != text:
		refuse("receiver", models.ErrWrongType, "receiver must be a string")
	default:
		in.Receiver = &r
	}
	// price: a JSON number, its literal text read exactly (domain).
	switch p, kind := field(raw, "price"); {
	case kind == absent:
		refuse("amount", models.ErrRequired, "price is required")
	case kind != number:
		refuse("amount", models.ErrWrongType, "price must be a number")
	default:
		in.Amount = &p
	}
	// name: a string; blank and length are the domain's title rules.
	switch n, kind := field(raw, "name"); {
	case kind == absent:
		refuse("title", models.ErrRequired, "name is required")
	case kind != text:
		refuse("title", models.ErrWrongType, "name must be a string")
	default:
		in.Title = &n
	}
	// redirectUrl (optional): an absolute http(s) URL (domain).
	switch u, kind := field(raw, "redirectUrl"); {
	case kind == absent:
	case kind != text || strings.TrimSpace(u) == "":
		refuse("redirectUrl", models.ErrInvalid, "redirectUrl must be an absolute http or https URL")
	default:
		in.RedirectURL = &u
	}
	// chain (Till extension, optional): an enabled chain (domain).
	switch ch, kind := field(raw, "chain"); {
	case kind == absent:
	case kind != text || strings.TrimSpace(ch) == "":
		refuse("chain", models.ErrInvalid, "chain must be the name of an enabled chain")
	default:
		in.Chain = &ch
	}
	in.EdgeErrors = edge
	return in, nil
}

// jsonKind is the JSON type of a body field.
type jsonKind int

const (
	absent jsonKind = iota // missing or null
	text
	number
	other
)

// field is the body field name: its string value (a JSON string's
// content, a JSON number's literal text) and its JSON type.
func field(raw map[string]json.RawMessage, name string) (string, jsonKind) {
	v, ok := raw[name]
	v = bytes.TrimSpace(v)
	if !ok || len(v) == 0 || string(v) == "null" {
		return "", absent
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", other
		}
		return s, text
	case c == '-' || c >= '0' && c <= '9':
		return string(v), number
	}
	return "", other
}

// linkJSON is a link in the KiraPay list (issue 10 §2.2), fields in the
// seed's order.
type linkJSON struct {
	ID          string      `json:"_id"`
	Code        string      `json:"code"`
	Price       json.Number `json:"price"`
	TokenOut    tokenOut    `json:"tokenOut"`
	Receiver    string      `json:"receiver"`
	User        string      `json:"user"`
	Key         *string     `json:"key"`
	Name        string      `json:"name"`
	RedirectURL *string     `json:"redirectUrl"`
	CreatedAt   string      `json:"createdAt"`
	UpdatedAt   string      `json:"updatedAt"`
}

// tokenOut is the token a link is paid in.
type tokenOut struct {
	Symbol   string `json:"symbol"`
	Address  string `json:"address"`
	Decimals int    `json:"decimals"`
	Chain    string `json:"chain"`
}

// linksPage is the data of GET /api/link.
type linksPage struct {
	Links      []linkJSON `json:"links"`
	Total      int64      `json:"total"`
	Page       int        `json:"page"`
	TotalPages int        `json:"totalPages"`
}

// ListLinks lists the merchant's USDC links, newest first: GET
// /api/link?page=&limit= (issue 10 §2.2).
func (a *API) ListLinks(c *fiber.Ctx) error {
	page, limit, err := PageParams(c)
	if err != nil {
		return err
	}
	m := authn.Merchant(c)
	links, total, err := a.Store.USDCLinksPage(c.UserContext(), m.ID, page, limit)
	if err != nil {
		return err
	}
	out := linksPage{Links: make([]linkJSON, 0, len(links)), Total: total, Page: page, TotalPages: Pages(total, limit)}
	for i := range links {
		out.Links = append(out.Links, a.link(&links[i]))
	}
	return OK(c, http.StatusOK, out)
}

// link is the KiraPay view of a USDC link.
func (a *API) link(l *models.PaymentLink) linkJSON {
	j := linkJSON{
		ID: models.ShortID(l.ID), Code: l.Slug, Price: json.Number(evm.FormatUSDC(l.Amount)),
		TokenOut: tokenOut{Symbol: string(models.USDC), Address: a.Store.USDCContract(l.Chain), Decimals: evm.USDCDecimals, Chain: l.Chain},
		Receiver: l.ReceiverShown(), User: models.ShortID(l.MerchantID), Key: publicKeyID(l.APIKeyID), Name: l.Title,
		CreatedAt: models.ISOTime(l.CreatedAt), UpdatedAt: models.ISOTime(l.UpdatedAt),
	}
	if l.RedirectURL != "" {
		u := l.RedirectURL
		j.RedirectURL = &u
	}
	return j
}

// publicKeyID is the public identifier of the API key that created a link:
// "key_" and the first 12 hex digits of its stored SHA-256 (never the key).
func publicKeyID(id *string) *string {
	if id == nil || len(*id) < 12 {
		return nil
	}
	k := "key_" + (*id)[:12]
	return &k
}

// publicLinkJSON is the data of GET /api/link/:code (issue 10 §2.3).
type publicLinkJSON struct {
	ID          string      `json:"_id"`
	Code        string      `json:"code"`
	Price       json.Number `json:"price"`
	TokenOut    tokenOut    `json:"tokenOut"`
	Receiver    string      `json:"receiver"`
	User        linkUser    `json:"user"`
	Name        string      `json:"name"`
	RedirectURL *string     `json:"redirectUrl"`
	CreatedAt   string      `json:"createdAt"`
	UpdatedAt   string      `json:"updatedAt"`
	URL         string      `json:"url"`
}

// linkUser is the merchant behind a public link. Till does not verify
// merchants, so isVerified is always false.
type linkUser struct {
	ID         string `json:"_id"`
	Username   string `json:"username"`
	Address    string `json:"address"`
	IsVerified bool   `json:"isVerified"`
}

// PublicLink shows a payable link to anyone: GET /api/link/:code. An
// unknown, draft or inactive code is 404 "Link not found".
func (a *API) PublicLink(c *fiber.Ctx) error {
	l, m, err := a.Store.PublicLink(c.UserContext(), c.Params("code"))
	if err != nil {
		return err
	}
	j := a.link(l)
	addr := l.ReceiverShown()
	if m.EVMAddress != "" {
		addr = m.EVMAddressHex()
	}
	return OK(c, http.StatusOK, publicLinkJSON{
		ID: j.ID, Code: j.Code, Price: j.Price, TokenOut: j.TokenOut, Receiver: j.Receiver,
		User: linkUser{ID: j.User, Username: m.Name, Address: addr}, Name: j.Name, RedirectURL: j.RedirectURL,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, URL: a.linkURL(l),
	})
}

// linkURL is a link's short URL: TILL_BASE_URL/<code>.
func (a *API) linkURL(l *models.PaymentLink) string {
	return strings.TrimRight(a.BaseURL, "/") + "/" + l.Slug
}
