package handlers

import (
	"github.com/gofiber/fiber/v2"

	"till/handlers/render"
	"till/static"
	"till/views/pages"
)

// The API reference: two OpenAPI 3.1 documents, embedded in the binary, and
// the /docs page that renders them.

// apiDocs are the documents the /docs page can show, by its ?api= value.
var apiDocs = []pages.APIDoc{
	{Key: "kaspay", Title: "KasPay API", URL: "/api/openapi.json"},
	{Key: "kirapay", Title: "KiraPay Public API", URL: "/api/kirapay/openapi.json"},
}

// OpenAPIKasPay serves the KasPay surface's document: GET /api/openapi.json.
func (h *Handlers) OpenAPIKasPay(c *fiber.Ctx) error { return openAPI(c, static.OpenAPIKasPay) }

// OpenAPIKiraPay serves the KiraPay surface's document:
// GET /api/kirapay/openapi.json.
func (h *Handlers) OpenAPIKiraPay(c *fiber.Ctx) error { return openAPI(c, static.OpenAPIKiraPay) }

// openAPI writes an embedded document; it changes only with a release, so
// it may be cached for an hour like the other static assets.
func openAPI(c *fiber.Ctx, name string) error {
	b, err := static.OpenAPI.ReadFile(name)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	return c.Status(fiber.StatusOK).Send(b)
}

// Docs renders the API reference: GET /docs[?api=kaspay|kirapay]. Without
// JavaScript the page still links both JSON documents. Swagger UI runs
// under the site's Content-Security-Policy unchanged (same-origin script and
// stylesheet; React sets styles through the DOM, which style-src allows).
func (h *Handlers) Docs(c *fiber.Ctx) error {
	cur := apiDocs[0]
	for _, d := range apiDocs {
		if d.Key == c.Query("api") {
			cur = d
		}
	}
	return render.Page(c, fiber.StatusOK, pages.Docs(h.meta(c, "API reference"), apiDocs, cur))
}
