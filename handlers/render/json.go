package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// DecodeJSON parses the request body into dst (a struct whose optional fields
// are pointers). Malformed JSON, a non-object body, trailing data and wrong
// field types give a 400 that names the problem; unknown fields are ignored.
func DecodeJSON(c *fiber.Ctx, dst any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("Request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("Malformed JSON: unexpected data after the object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn  *json.SyntaxError
		typ  *json.UnmarshalTypeError
		uerr *FieldError
	)
	switch {
	case errors.As(err, &uerr):
		return BadRequest(uerr.Msg)
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("Malformed JSON body")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return BadRequest("Request body must be a JSON object")
		}
		return BadRequest(fmt.Sprintf("%s must be %s", typ.Field, jsonKind(typ.Type.Kind().String())))
	}
	return BadRequest("Malformed JSON body")
}

// FieldError lets custom UnmarshalJSON methods report a precise message.
type FieldError struct{ Msg string }

func (e *FieldError) Error() string { return e.Msg }

func jsonKind(k string) string {
	switch {
	case k == "string":
		return "a string"
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "slice", k == "array":
		return "an array"
	case k == "map", k == "struct":
		return "an object"
	}
	return "of a different type"
}

// JSONRaw writes v with status as JSON without HTML escaping (URLs keep
// their "&", as KiraPay writes them), encoded straight into the response
// body: no intermediate buffer, no copy. The body is v's encoding without
// the encoder's trailing newline.
func JSONRaw(c *fiber.Ctx, status int, v any) error {
	resp := c.Response()
	resp.ResetBody()
	enc := json.NewEncoder(resp.BodyWriter())
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err // Encode writes nothing when it fails
	}
	if b := resp.Body(); len(b) > 0 && b[len(b)-1] == '\n' {
		resp.SetBody(b[:len(b)-1])
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	c.Status(status)
	return nil
}

// JSON writes v with status using the standard encoder settings of the APIs.
func JSON(c *fiber.Ctx, status int, v any) error {
	return c.Status(status).JSON(v)
}
