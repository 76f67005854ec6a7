package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Server-side browser sessions. Every dashboard login creates an
// auth_sessions row; the cookie carries a random token whose SHA-256 is the
// row's id (the table alone cannot be turned into cookies). A cookie is
// accepted only while its row exists, is not revoked, has not expired and
// was issued at the merchant's current credential epoch, so logout (one
// row), "log out everywhere", a password change and an API key rotation (the
// epoch) take effect on every process at once.

// AuthSession is one browser login.
type AuthSession struct {
	ID         string
	MerchantID string
	Epoch      int64
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

// TableName pins the table name.
func (AuthSession) TableName() string { return "auth_sessions" }

// sessionTouchEvery bounds how often a session's last_seen_at is written.
const sessionTouchEvery = time.Minute

// maxUserAgent caps the stored User-Agent.
const maxUserAgent = 255

func sessionID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// StartBrowserSession records a new login of merchantID valid for ttl and
// returns the token to put in the cookie. The session takes the merchant's
// epoch in the same statement, so a concurrent bump cannot be missed.
func (s *Store) StartBrowserSession(ctx context.Context, merchantID, userAgent string, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("models: session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	now := s.clock()
	res := s.db.W(ctx).Exec(`INSERT INTO auth_sessions (id, merchant_id, epoch, user_agent, created_at, last_seen_at, expires_at)
SELECT ?, id, credential_epoch, ?, ?, ?, ? FROM merchants WHERE id = ?`,
		sessionID(token), cleanText(userAgent, maxUserAgent), now, now, now.Add(ttl), merchantID)
	if res.Error != nil {
		return "", fmt.Errorf("models: start session: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return "", &NotFoundError{What: "Merchant"}
	}
	// Expired logins of this merchant are of no further use.
	if err := s.db.W(ctx).Where("merchant_id = ? AND expires_at < ?", merchantID, now).Delete(&AuthSession{}).Error; err != nil {
		s.log.WarnContext(ctx, "prune sessions", "error", err.Error())
	}
	return token, nil
}

// BrowserSession returns the merchant logged in with token, or
// ErrInvalidCredentials when the session is unknown, revoked, expired or
// older than the merchant's credential epoch. It records activity at most
// once a minute.
func (s *Store) BrowserSession(ctx context.Context, token string) (*Merchant, error) {
	if token == "" {
		return nil, ErrInvalidCredentials
	}
	now := s.clock()
	var sess AuthSession
	err := s.db.R(ctx).Where("id = ? AND revoked_at IS NULL AND expires_at > ?", sessionID(token), now).Take(&sess).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("models: session: %w", err)
	}
	m, err := s.Merchant(ctx, sess.MerchantID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if sess.Epoch != m.CredentialEpoch {
		return nil, ErrInvalidCredentials
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		// Best effort: a failed touch must not log the merchant out.
		if err := s.db.W(ctx).Model(&AuthSession{}).Where("id = ? AND last_seen_at < ?", sess.ID, now.Add(-sessionTouchEvery)).
			Update("last_seen_at", now).Error; err != nil {
			s.log.WarnContext(ctx, "touch session", "error", err.Error())
		}
	}
	return m, nil
}

// EndBrowserSession revokes the session of token (logout). Unknown or
// already revoked tokens are not an error.
func (s *Store) EndBrowserSession(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	err := s.db.W(ctx).Model(&AuthSession{}).Where("id = ? AND revoked_at IS NULL", sessionID(token)).
		Update("revoked_at", s.clock()).Error
	if err != nil {
		return fmt.Errorf("models: end session: %w", err)
	}
	return nil
}

// RevokeAllCredentials logs the merchant out everywhere: it bumps the
// credential epoch (every browser session and JWT issued so far is refused)
// and marks the open sessions revoked. The API key is not changed; rotate it
// for that.
func (s *Store) RevokeAllCredentials(ctx context.Context, merchantID string) error {
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		now := s.clock()
		res := tx.Model(&Merchant{}).Where("id = ?", merchantID).Updates(map[string]any{
			"credential_epoch": gorm.Expr("credential_epoch + 1"),
			"updated_at":       now,
		})
		if res.Error != nil {
			return fmt.Errorf("models: bump credential epoch: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return &NotFoundError{What: "Merchant"}
		}
		return revokeBrowserSessions(tx, merchantID, now)
	})
}

// revokeBrowserSessions marks every open session of the merchant revoked,
// inside tx (the epoch bump already refuses them; this keeps the table
// truthful).
func revokeBrowserSessions(tx *gorm.DB, merchantID string, now time.Time) error {
	if err := tx.Model(&AuthSession{}).Where("merchant_id = ? AND revoked_at IS NULL", merchantID).
		Update("revoked_at", now).Error; err != nil {
		return fmt.Errorf("models: revoke sessions: %w", err)
	}
	return nil
}
