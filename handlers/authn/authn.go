// Package authn issues and checks the credentials of the JSON APIs (JWTs and
// API keys) and carries the authenticated merchant through a request.
package authn

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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

// claims are the registered claims plus the merchant's credential epoch at
// issue time: a token older than the merchant's current epoch is refused.
type claims struct {
	jwt.RegisteredClaims
	Epoch int64 `json:"epoch"`
}

// Issue returns a signed token for merchantID at the merchant's credential
// epoch.
func (t *Tokens) Issue(merchantID string, epoch int64) (string, error) {
	now := t.now()
	c := claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   merchantID,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
	}, Epoch: epoch}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.key)
	if err != nil {
		return "", fmt.Errorf("authn: sign: %w", err)
	}
	return s, nil
}

// ErrBadToken means a token is missing, malformed, expired, wrongly signed,
// or older than the merchant's credential epoch.
var ErrBadToken = errors.New("authn: invalid token")

// Verify checks a token and returns the merchant id it was issued to and
// the credential epoch it carries (0 for tokens issued before epochs).
func (t *Tokens) Verify(token string) (string, int64, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil || c.Subject == "" || c.Epoch < 0 {
		return "", 0, ErrBadToken
	}
	return c.Subject, c.Epoch, nil
}

const (
	merchantKey = "till.merchant"
	apiKeyKey   = "till.api_key"
)

// SetAPIKey records that the request was authenticated by the merchant's
// API key, whose id is its stored SHA-256 (Merchant.APIKeyHash).
func SetAPIKey(c *fiber.Ctx, id string) { c.Locals(apiKeyKey, id) }

// APIKeyID is the id of the API key that authenticated the request, or nil
// when it was a JWT, a dashboard session or nothing.
func APIKeyID(c *fiber.Ctx) *string {
	id, ok := c.Locals(apiKeyKey).(string)
	if !ok || id == "" {
		return nil
	}
	return &id
}

// SetMerchant records the authenticated merchant on the request.
func SetMerchant(c *fiber.Ctx, m *models.Merchant) { c.Locals(merchantKey, m) }

// Merchant returns the authenticated merchant, or nil on public routes.
func Merchant(c *fiber.Ctx) *models.Merchant {
	m, _ := c.Locals(merchantKey).(*models.Merchant)
	return m
}

// LocalPath returns next when it is a path on this site that is safe to put
// in a Location header, else fallback. It must start with exactly one "/"
// (not "//" or "/\, which browsers read as another host), and may contain
// no backslash, no whitespace and no control or invisible formatting
// character anywhere (a tab or newline is dropped by browsers' URL parser,
// so "/\t/evil.com" would become "//evil.com").
func LocalPath(next, fallback string) string {
	if len(next) < 1 || next[0] != '/' || len(next) > 2048 || !utf8.ValidString(next) {
		return fallback
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return fallback
	}
	for _, r := range next {
		if r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fallback
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return fallback
	}
	return next
}
