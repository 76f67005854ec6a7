// Package authn issues and checks the credentials of the JSON APIs (JWTs and
// API keys) and carries the authenticated merchant through a request.
package authn

import (
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"

	"till/models"
)

// Tokens signs and verifies merchant JWTs: HS256 only, with an issuer, an
// audience and an expiry, so a token from another system or with another
// algorithm ("none", RS256 key confusion) is refused.
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

const (
	issuer   = "till"
	audience = "till-api"
)

// NewTokens builds a Tokens from a 32-byte key and a lifetime.
func NewTokens(key []byte, ttl time.Duration) *Tokens {
	return &Tokens{key: key, ttl: ttl, now: time.Now}
}

// WithClock returns a copy using now as its clock (tests of expiry).
func (t *Tokens) WithClock(now func() time.Time) *Tokens {
	c := *t
	c.now = now
	return &c
}

// Issue returns a signed token for merchantID.
func (t *Tokens) Issue(merchantID string) (string, error) {
	now := t.now()
	claims := jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   merchantID,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("authn: sign: %w", err)
	}
	return s, nil
}

// ErrBadToken means a token is missing, malformed, expired, or wrongly signed.
var ErrBadToken = errors.New("authn: invalid token")

// Verify checks a token and returns the merchant id it was issued to.
func (t *Tokens) Verify(token string) (string, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil || claims.Subject == "" {
		return "", ErrBadToken
	}
	return claims.Subject, nil
}

const merchantKey = "till.merchant"

// SetMerchant records the authenticated merchant on the request.
func SetMerchant(c *fiber.Ctx, m *models.Merchant) { c.Locals(merchantKey, m) }

// Merchant returns the authenticated merchant, or nil on public routes.
func Merchant(c *fiber.Ctx) *models.Merchant {
	m, _ := c.Locals(merchantKey).(*models.Merchant)
	return m
}
