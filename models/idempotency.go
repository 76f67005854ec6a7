package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Idempotency keys (the Idempotency-Key header on every create): the first
// request with a key runs and its response is stored; a retry with the same
// key, scope and request gets that response again, byte for byte; the same
// key with another request is refused, and so is a retry while the first is
// still running. Rows live in the database, so every process of a scale-out
// answers the same, and are pruned after IdempotencyTTL.

// Bounds and lifetimes of idempotency keys.
const (
	MaxIdempotencyKeyLen = 255
	// IdempotencyTTL is how long a key is remembered.
	IdempotencyTTL = 24 * time.Hour
	// IdempotencyAbandonAfter is how long a key may stay "in flight" before
	// a retry may take it over (a process died mid-request); well above
	// the request deadline.
	IdempotencyAbandonAfter = 2 * time.Minute
)

// Reasons of refused idempotent requests.
const (
	// ErrIdempotencyMismatch: the key was used with another request.
	ErrIdempotencyMismatch Reason = "idempotency_mismatch"
	// ErrIdempotencyInFlight: the first request with the key is still
	// running.
	ErrIdempotencyInFlight Reason = "idempotency_in_flight"
)

// IdempotencyKey is one remembered request: Scope is whose key it is (a
// merchant, or a client IP on public routes), Fingerprint the SHA-256 of
// the request (method, path, body); Status 0 means still in flight.
type IdempotencyKey struct {
	Scope       string `gorm:"primaryKey"`
	Key         string `gorm:"column:idem_key;primaryKey"`
	Fingerprint string
	Status      int
	ContentType string
	Body        string
	CreatedAt   time.Time
}

// TableName pins the table name.
func (IdempotencyKey) TableName() string { return "idempotency_keys" }

// StoredResponse is a response kept for replay.
type StoredResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// CheckIdempotencyKey validates an Idempotency-Key header value: 1 to 255
// printable ASCII characters.
func CheckIdempotencyKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKeyLen {
		return &ValidationError{Field: "Idempotency-Key", Reason: ErrInvalid,
			Message: fmt.Sprintf("Idempotency-Key must be 1 to %d printable characters", MaxIdempotencyKeyLen)}
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return &ValidationError{Field: "Idempotency-Key", Reason: ErrInvalid,
				Message: fmt.Sprintf("Idempotency-Key must be 1 to %d printable characters", MaxIdempotencyKeyLen)}
		}
	}
	return nil
}

// RequestFingerprint identifies a request for idempotency: its method,
// path (with query) and body.
func RequestFingerprint(method, path string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// BeginIdempotent claims key for a request. It returns (nil, nil) when the
// caller should run the request (and then FinishIdempotent or
// AbandonIdempotent), the stored response when the same request already
// ran, or a StateError with ErrIdempotencyMismatch (another request used
// the key) or ErrIdempotencyInFlight (the first is still running).
func (s *Store) BeginIdempotent(ctx context.Context, scope, key, fingerprint string) (*StoredResponse, error) {
	now := s.clock()
	row := IdempotencyKey{Scope: scope, Key: key, Fingerprint: fingerprint, CreatedAt: now}
	res := s.db.W(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("models: claim idempotency key: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil, nil
	}
	var old IdempotencyKey
	if err := s.db.W(ctx).Where("scope = ? AND idem_key = ?", scope, key).Take(&old).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) { // pruned in between: try once more
			return s.BeginIdempotent(ctx, scope, key, fingerprint)
		}
		return nil, fmt.Errorf("models: idempotency key: %w", err)
	}
	expired := !old.CreatedAt.After(now.Add(-IdempotencyTTL))
	abandoned := old.Status == 0 && !old.CreatedAt.After(now.Add(-IdempotencyAbandonAfter))
	if expired || abandoned {
		// Take the stale row over, conditionally: of two retries, one wins.
		res := s.db.W(ctx).Model(&IdempotencyKey{}).
			Where("scope = ? AND idem_key = ? AND created_at = ? AND status = ?", scope, key, old.CreatedAt, old.Status).
			Updates(map[string]any{"fingerprint": fingerprint, "status": 0, "content_type": "", "body": "", "created_at": now})
		if res.Error != nil {
			return nil, fmt.Errorf("models: take over idempotency key: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return nil, nil
		}
		return nil, &StateError{Reason: ErrIdempotencyInFlight, Message: "A request with this Idempotency-Key is in progress; retry later"}
	}
	if old.Fingerprint != fingerprint {
		return nil, &StateError{Reason: ErrIdempotencyMismatch,
			Message: "This Idempotency-Key was already used with a different request"}
	}
	if old.Status == 0 {
		return nil, &StateError{Reason: ErrIdempotencyInFlight, Message: "A request with this Idempotency-Key is in progress; retry later"}
	}
	return &StoredResponse{Status: old.Status, ContentType: old.ContentType, Body: []byte(old.Body)}, nil
}

// FinishIdempotent stores the response of the request that claimed key.
func (s *Store) FinishIdempotent(ctx context.Context, scope, key string, r StoredResponse) error {
	err := s.db.W(ctx).Model(&IdempotencyKey{}).Where("scope = ? AND idem_key = ? AND status = 0", scope, key).
		Updates(map[string]any{"status": r.Status, "content_type": r.ContentType, "body": string(r.Body)}).Error
	if err != nil {
		return fmt.Errorf("models: store idempotent response: %w", err)
	}
	return nil
}

// AbandonIdempotent forgets a claimed key whose request failed unexpectedly
// (a 5xx), so a retry runs again.
func (s *Store) AbandonIdempotent(ctx context.Context, scope, key string) error {
	err := s.db.W(ctx).Where("scope = ? AND idem_key = ? AND status = 0", scope, key).Delete(&IdempotencyKey{}).Error
	if err != nil {
		return fmt.Errorf("models: release idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotencyKeys deletes up to batch keys older than IdempotencyTTL
// and reports how many it deleted.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, batch int) (int64, error) {
	cutoff := s.clock().Add(-IdempotencyTTL)
	res := s.db.W(ctx).Exec(`DELETE FROM idempotency_keys WHERE (scope, idem_key) IN
		(SELECT scope, idem_key FROM idempotency_keys WHERE created_at < ? LIMIT ?)`, cutoff, batch)
	if res.Error != nil {
		return 0, fmt.Errorf("models: prune idempotency keys: %w", res.Error)
	}
	return res.RowsAffected, nil
}
