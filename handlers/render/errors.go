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

// CodeError is an error answered with a status and a code of the KiraPay
// dialect (kirapay.Fail): KiraPay shows the code as its message; KasPay and
// HTML pages, which never route to it, would show it as is.
type CodeError struct {
	Status int
	Code   string
}

func (e *CodeError) Error() string { return e.Code }

// Unauthorized is the 401 every API returns for missing or bad credentials.
var Unauthorized = &HTTPError{Status: http.StatusUnauthorized, Message: "Unauthorized"}

// Answer is how a dialect answers one domain Reason: the status, and the
// message (empty: the error's own message, which is the KasPay wording).
type Answer struct {
	Status  int
	Message string
}

// KasPayReasons is the KasPay surface's (and the HTML pages') answer to
// each domain reason. A reason not listed answers 409 with its message.
var KasPayReasons = map[models.Reason]Answer{
	models.ErrRefused:          {Status: http.StatusConflict},
	models.ErrInvalid:          {Status: http.StatusBadRequest},
	models.ErrBelowMinimum:     {Status: http.StatusBadRequest},
	models.ErrLinkNotActive:    {Status: http.StatusBadRequest},
	models.ErrLinkClosed:       {Status: http.StatusBadRequest},
	models.ErrLinkExpired:      {Status: http.StatusBadRequest},
	models.ErrNoPayoutAddress:  {Status: http.StatusConflict},
	models.ErrCurrencyMismatch: {Status: http.StatusConflict},
	models.ErrChainDisabled:    {Status: http.StatusConflict},
	models.ErrKeyUnusable:      {Status: http.StatusConflict},
	models.ErrNotWalletPayment: {Status: http.StatusBadRequest},
	models.ErrPaymentClosed:    {Status: http.StatusConflict},
	models.ErrWebhookInactive:  {Status: http.StatusConflict},
	models.ErrRateLimited:      {Status: http.StatusTooManyRequests},
	models.ErrDuplicate:        {Status: http.StatusConflict},
	models.ErrAssignRefused:    {Status: http.StatusConflict},
	models.ErrRequired:         {Status: http.StatusBadRequest},
	models.ErrWrongType:        {Status: http.StatusBadRequest},
	models.ErrTooLong:          {Status: http.StatusBadRequest},
	models.ErrNotPublic:        {Status: http.StatusBadRequest},
	models.ErrLimitReached:     {Status: http.StatusBadRequest},
	models.ErrNoFields:         {Status: http.StatusBadRequest},
	// Idempotency-Key reused with another request / still running.
	models.ErrIdempotencyMismatch: {Status: http.StatusUnprocessableEntity},
	models.ErrIdempotencyInFlight: {Status: http.StatusConflict},
}

// KiraPayReasons is the KiraPay surface's answer to each reason: its seed
// names upper-snake codes as messages. Where the seed implies a status it is
// used (validation 400, rate limit 429); everything else mirrors KasPay's
// status, with a code of Till's choosing, until the KiraPay surface is built.
var KiraPayReasons = map[models.Reason]Answer{
	models.ErrRefused:             {http.StatusConflict, "CONFLICT"},
	models.ErrInvalid:             {http.StatusBadRequest, "VALIDATION_ERROR"},
	models.ErrBelowMinimum:        {http.StatusBadRequest, "INVALID_PRICE"},
	models.ErrLinkNotActive:       {http.StatusBadRequest, "LINK_NOT_ACTIVE"},
	models.ErrLinkClosed:          {http.StatusBadRequest, "LINK_NOT_ACTIVE"},
	models.ErrLinkExpired:         {http.StatusBadRequest, "LINK_EXPIRED"},
	models.ErrNoPayoutAddress:     {http.StatusConflict, "NO_PAYOUT_ADDRESS"},
	models.ErrCurrencyMismatch:    {http.StatusConflict, "INVALID_CURRENCY"},
	models.ErrChainDisabled:       {http.StatusConflict, "CHAIN_NOT_ENABLED"},
	models.ErrKeyUnusable:         {http.StatusConflict, "PAYOUT_KEY_UNUSABLE"},
	models.ErrNotWalletPayment:    {http.StatusBadRequest, "NOT_WALLET_PAYMENT"},
	models.ErrPaymentClosed:       {http.StatusConflict, "PAYMENT_CLOSED"},
	models.ErrWebhookInactive:     {http.StatusConflict, "WEBHOOK_INACTIVE"},
	models.ErrRateLimited:         {http.StatusTooManyRequests, "TOO_MANY_REQUESTS"},
	models.ErrDuplicate:           {http.StatusConflict, "DUPLICATE"},
	models.ErrAssignRefused:       {http.StatusConflict, "ASSIGN_REFUSED"},
	models.ErrRequired:            {http.StatusBadRequest, "FIELD_REQUIRED"},
	models.ErrNotPublic:           {http.StatusBadRequest, "URL_NOT_PUBLIC"},
	models.ErrLimitReached:        {http.StatusBadRequest, "LIMIT_REACHED"},
	models.ErrNoFields:            {http.StatusBadRequest, "NO_FIELDS_TO_UPDATE"},
	models.ErrWrongType:           {http.StatusBadRequest, "INVALID_TYPE"},
	models.ErrTooLong:             {http.StatusBadRequest, "TOO_LONG"},
	models.ErrIdempotencyMismatch: {http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED"},
	models.ErrIdempotencyInFlight: {http.StatusConflict, "IDEMPOTENCY_KEY_IN_USE"},
}

// KiraPayField is the KiraPay code of a field error: a domain field (its
// neutral JSON name: the domain's "amount" is KiraPay's price, "title" its
// name) with a reason ("" matches any reason of the field).
type KiraPayField struct {
	Field  string
	Reason models.Reason
	Code   string
}

// KiraPayFields names field errors in the KiraPay dialect, in the order the
// KiraPay endpoints check their fields (issue 10 §2): a request with several
// invalid fields is answered with the first entry that matches one of them.
var KiraPayFields = []KiraPayField{
	// POST /api/link/generate
	{"currency", models.ErrRequired, "CURRENCY_REQUIRED"},
	{"currency", "", "INVALID_CURRENCY"},
	{"receiver", models.ErrRequired, "ADDRESS_REQUIRED"},
	{"receiver", "", "INVALID_ETHEREUM_ADDRESS"},
	{"amount", models.ErrRequired, "PRICE_REQUIRED"},
	{"amount", models.ErrWrongType, "PRICE_MUST_BE_NUMBER"},
	{"amount", "", "INVALID_PRICE"},
	{"title", models.ErrRequired, "NAME_REQUIRED"},
	{"title", models.ErrWrongType, "NAME_MUST_BE_STRING"},
	{"title", models.ErrTooLong, "NAME_TOO_LONG"},
	{"title", "", "INVALID_NAME"}, // control or bidi characters (Till's rule)
	{"redirectUrl", "", "INVALID_REDIRECT_URL"},
	{"chain", "", "INVALID_CHAIN"},
	// Webhook endpoints (§2.5): url, then secret, as the seed lists them.
	{"url", models.ErrRequired, "URL_REQUIRED"},
	{"url", models.ErrNotPublic, "URL_NOT_PUBLIC"},
	{"url", models.ErrLimitReached, "TOO_MANY_ENDPOINTS"},
	{"url", "", "INVALID_URL"},
	{"secret", "", "INVALID_SECRET"},
	{"", models.ErrNoFields, "NO_FIELDS_TO_UPDATE"},
}

// kiraPayFieldCode is the code of the first KiraPayFields entry matching a
// field error carried by err.
func kiraPayFieldCode(err error) (string, bool) {
	errs, ok := models.AsValidation(err)
	if !ok {
		return "", false
	}
	for _, f := range KiraPayFields {
		for _, e := range errs {
			if e.Field == f.Field && (f.Reason == "" || e.ReasonOf() == f.Reason) {
				return f.Code, true
			}
		}
	}
	return "", false
}

// ReasonOf is the domain reason of err, if it carries one.
func ReasonOf(err error) (models.Reason, bool) {
	var (
		st *models.StateError
		ve *models.ValidationError
		cf *models.ConflictError
	)
	switch {
	case errors.As(err, &st):
		return st.ReasonOf(), true
	case errors.As(err, &cf):
		return models.ErrDuplicate, true
	case errors.As(err, &ve):
		return ve.ReasonOf(), true
	}
	return "", false
}

// StatusOf maps any error a handler returns to a status code and a message
// safe to show, in the KasPay (and HTML) dialect. This is the one place that
// decides; unknown errors become a 500 with a generic message (the caller
// logs the detail). internal reports whether the error was unexpected and
// must be logged.
func StatusOf(err error) (status int, msg string, internal bool) {
	var (
		he    *HTTPError
		ce    *CodeError
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
	case errors.As(err, &ce):
		return ce.Status, ce.Code, false
	case errors.As(err, &fe):
		return fe.Code, fiberMessage(fe), false
	case errors.As(err, &valid), isValidation(err):
		return http.StatusBadRequest, err.Error(), false
	case errors.As(err, &nf):
		return http.StatusNotFound, nf.Error(), false
	case errors.Is(err, models.ErrNotFound):
		return http.StatusNotFound, "Not found", false
	case errors.As(err, &cf):
		return KasPayReasons[models.ErrDuplicate].Status, cf.Message, false
	case errors.Is(err, models.ErrInvalidCredentials):
		return http.StatusUnauthorized, "Invalid email or password", false
	case errors.As(err, &st):
		a, ok := KasPayReasons[st.ReasonOf()]
		if !ok {
			a.Status = http.StatusConflict
		}
		return a.Status, st.Message, false
	case errors.As(err, &un):
		return http.StatusServiceUnavailable, un.Message, false
	}
	return http.StatusInternalServerError, "Internal server error", true
}

// ErrorStatus maps err as the error handler answers it on c's route: in
// the KiraPay dialect on KiraPay groups (KiraPayStatusOf), StatusOf
// elsewhere.
func ErrorStatus(c *fiber.Ctx, err error) (status int, msg string, internal bool) {
	if DialectOf(c) == DialectKiraPay {
		return KiraPayStatusOf(err)
	}
	return StatusOf(err)
}

// KiraPayStatusOf maps any error to the KiraPay dialect: a status and an
// upper-snake code. Field errors follow KiraPayFields, other reasons
// KiraPayReasons; a named not-found keeps
// its sentence (the seed answers "Link not found"), unexpected errors the
// seed's "Internal server error"; other errors keep the KasPay status and
// take the code of that status.
func KiraPayStatusOf(err error) (status int, msg string, internal bool) {
	status, msg, internal = StatusOf(err)
	if internal {
		return status, msg, true
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Status, ce.Code, false
	}
	if code, ok := kiraPayFieldCode(err); ok {
		return http.StatusBadRequest, code, false
	}
	if r, ok := ReasonOf(err); ok {
		if a, ok := KiraPayReasons[r]; ok {
			return a.Status, a.Message, false
		}
	}
	var valid models.ValidationErrors
	if errors.As(err, &valid) {
		return KiraPayReasons[models.ErrInvalid].Status, KiraPayReasons[models.ErrInvalid].Message, false
	}
	var nf *models.NotFoundError
	if errors.As(err, &nf) {
		return status, msg, false
	}
	if code := kiraStatusCode(status); code != "" {
		return status, code, false
	}
	return status, msg, false
}

// kiraStatusCode names a status in the KiraPay dialect ("" keeps the
// message).
func kiraStatusCode(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BAD_REQUEST"
	case http.StatusUnauthorized:
		return "API_KEY_INVALID"
	case http.StatusForbidden:
		return "FORBIDDEN"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED"
	case http.StatusRequestEntityTooLarge:
		return "PAYLOAD_TOO_LARGE"
	case http.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case http.StatusServiceUnavailable:
		return "SERVICE_UNAVAILABLE"
	}
	return ""
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
