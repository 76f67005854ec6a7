package render

import (
	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
)

// IsHTMX reports whether the request came from htmx and wants a fragment:
// boosted navigations and history restores need the full page.
func IsHTMX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") != "true" && c.Get("HX-History-Restore-Request") != "true"
}

// Page renders a templ component as a full HTML response with status.
func Page(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Vary("HX-Request")
	c.Status(status)
	return comp.Render(c.UserContext(), c.Response().BodyWriter())
}

// PageOrPartial renders partial for htmx requests and full otherwise; the
// Vary header keeps caches and back/forward from mixing the two.
func PageOrPartial(c *fiber.Ctx, status int, full, partial templ.Component) error {
	if IsHTMX(c) {
		return Page(c, status, partial)
	}
	return Page(c, status, full)
}

// Redirect sends the browser to url after a form post: HX-Redirect for htmx
// (a 3xx would be followed inside the XHR and swapped into the page), 303 otherwise.
func Redirect(c *fiber.Ctx, url string) error {
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", url)
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect(url, fiber.StatusSeeOther)
}

// FormStatus is the status for a form re-rendered with errors: 422 for a
// plain post, 200 for htmx (htmx 2 does not swap 4xx responses by default,
// and the inline errors are what the user must see).
func FormStatus(c *fiber.Ctx) int {
	if c.Get("HX-Request") == "true" {
		return fiber.StatusOK
	}
	return fiber.StatusUnprocessableEntity
}
