// Package api serves Till's native JSON API: the KasPay contract, field for
// field. Handlers parse and validate the request, make one domain call and
// write the documented response; errors are returned and rendered as
// {"error": "..."} by the web layer's error handler.
package api

import (
	"time"

	"till/handlers/authn"
	"till/models"
	"till/models/netguard"
)

// API holds the dependencies of the JSON handlers.
type API struct {
	Store   *models.Store
	Tokens  *authn.Tokens
	BaseURL string
	// Rates serves GET /api/price (nil: 503).
	Rates models.RateSource
	// Chain serves GET /api/network (nil: 503).
	Chain NetworkSource
	// WebhookPolicy is the destination rule for webhook URLs (nil: strict).
	WebhookPolicy *netguard.Policy
	// LoginLimit is the password-attempt budget per client IP and per
	// account, shared with the HTML login.
	LoginLimit models.RateLimit
}

// isoTimePtr is models.ISOTime for optional times (null when nil).
func isoTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := models.ISOTime(*t)
	return &s
}
