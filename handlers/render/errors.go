// Package render holds what every handler shares: templ rendering, htmx
// partial-vs-page decisions, redirects, strict JSON decoding, and the single
// mapping from domain errors to HTTP statuses and user-safe messages.
package render

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"till/models"
)

// HTTPError is an error with a status and a message safe to show the client.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string { return e.Message }

// Errorf builds an HTTPError.
func Errorf(status int, msg string) error { return &HTTPError{Status: status, Message: msg} }

// BadRequest is a 400 with msg.
func BadRequest(msg string) error { return &HTTPError{Status: http.StatusBadRequest, Message: msg} }

// Unauthorized is the 401 every API returns for missing or bad credentials.
var Unauthorized = &HTTPError{Status: http.StatusUnauthorized, Message: "Unauthorized"}

// StatusOf maps any error a handler returns to a status code and a message
// safe to show. This is the one place that decides; unknown errors become a
// 500 with a generic message (the caller logs the detail). internal reports
// whether the error was unexpected and must be logged.
func StatusOf(err error) (status int, msg string, internal bool) {
	var (
		he    *HTTPError
		fe    *fiber.Error
		nf    *models.NotFoundError
		cf    *models.ConflictError
		st    *models.StateError
		un    *models.UnavailableError
		valid models.ValidationErrors
	)
	switch {
	case errors.As(err, &he):
		return he.Status, he.Message, false
	case errors.As(err, &fe):
		return fe.Code, fiberMessage(fe), false
	case errors.As(err, &valid), isValidation(err):
		return http.StatusBadRequest, err.Error(), false
	case errors.As(err, &nf):
		return http.StatusNotFound, nf.Error(), false
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, "Not found", false
	case errors.As(err, &cf):
		return http.StatusConflict, cf.Message, false
	case errors.Is(err, models.ErrInvalidCredentials):
		return http.StatusUnauthorized, "Invalid email or password", false
	case errors.As(err, &st):
		if st.Status != 0 {
			return st.Status, st.Message, false
		}
		if st.Gone {
			return http.StatusGone, st.Message, false
		}
		return http.StatusConflict, st.Message, false
	case errors.As(err, &un):
		return http.StatusServiceUnavailable, un.Message, false
	}
	return http.StatusInternalServerError, "Internal server error", true
}

func isValidation(err error) bool {
	var ve *models.ValidationError
	return errors.As(err, &ve)
}

// fiberMessage gives Fiber's own errors (404 route, 405, 413 body limit) a
// sentence rather than a bare status text.
func fiberMessage(fe *fiber.Error) string {
	switch fe.Code {
	case http.StatusRequestEntityTooLarge:
		return "Request body too large"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusMethodNotAllowed:
		return "Method not allowed"
	case http.StatusTooManyRequests:
		return "Too many requests, please slow down"
	}
	return fe.Message
}
