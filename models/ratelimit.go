package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Rate limits shared by every Till process on one database. Each budget is
// a row of rate_limits keyed by its bucket ("login:ip:…", "login:acct:…"):
// one atomic upsert counts a hit in a fixed window that starts at the
// bucket's first hit and restarts once Window has passed. On Postgres the
// upsert is a single statement, so several `till serve` processes share the
// budget exactly; on SQLite (one process) the same statement runs on the one
// write connection.

// RateLimit is a budget: at most Max hits per Window.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// rateLimitRetention is how long an idle bucket is kept; budgets longer than
// this are not supported.
const rateLimitRetention = 24 * time.Hour

// RateLimitError is a refused hit. It unwraps to an ErrRateLimited StateError, so the
// error mapping renders it in each surface's format; RetryAfter is for the
// Retry-After header.
type RateLimitError struct {
	Message    string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string { return e.Message }

// Unwrap makes it a StateError with reason ErrRateLimited (429 in KasPay).
func (e *RateLimitError) Unwrap() error {
	return &StateError{Reason: ErrRateLimited, Message: e.Message}
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds (at least 1).
func (e *RateLimitError) RetryAfterSeconds() int {
	s := int((e.RetryAfter + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// HitRateLimit counts one hit on bucket and reports whether it stays within
// l; when it does not, retryAfter says when the window ends.
func (s *Store) HitRateLimit(ctx context.Context, bucket string, l RateLimit) (ok bool, retryAfter time.Duration, err error) {
	if l.Max <= 0 || l.Window <= 0 {
		return true, 0, nil
	}
	now := s.clock()
	var row struct {
		Hits        int
		WindowStart scanTime
	}
	// Every SET expression reads the row as it was before the update, so
	// both CASEs see the old window.
	q := `INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)
ON CONFLICT (bucket) DO UPDATE SET
	hits = CASE WHEN rate_limits.window_start <= ? THEN 1 ELSE rate_limits.hits + 1 END,
	window_start = CASE WHEN rate_limits.window_start <= ? THEN excluded.window_start ELSE rate_limits.window_start END
RETURNING hits, window_start`
	expired := now.Add(-l.Window)
	if err := s.db.W(ctx).Raw(q, bucket, now, expired, expired).Scan(&row).Error; err != nil {
		return false, 0, fmt.Errorf("models: rate limit %s: %w", bucket, err)
	}
	s.pruneRateLimits(ctx, now)
	if row.Hits <= l.Max {
		return true, 0, nil
	}
	return false, row.WindowStart.Add(l.Window).Sub(now), nil
}

// checkRateLimits hits every bucket (all of them, so each budget counts the
// attempt) and returns a RateLimitError with msg when any is exhausted.
func (s *Store) checkRateLimits(ctx context.Context, l RateLimit, msg string, buckets ...string) error {
	var wait time.Duration
	limited := false
	for _, b := range buckets {
		ok, retry, err := s.HitRateLimit(ctx, b, l)
		if err != nil {
			return err
		}
		if !ok {
			limited = true
			wait = max(wait, retry)
		}
	}
	if limited {
		return &RateLimitError{Message: msg, RetryAfter: wait}
	}
	return nil
}

// LoginAttempt counts one password attempt (JSON login, HTML login, or a
// password change) against the budget of the client IP and the one of the
// account, shared by every surface and every process. A RateLimitError means
// the attempt must not be checked.
func (s *Store) LoginAttempt(ctx context.Context, ip, email string, l RateLimit) error {
	buckets := []string{"login:ip:" + bucketKey(ip)}
	if e := NormalizeEmail(email); e != "" {
		buckets = append(buckets, "login:acct:"+bucketKey(e))
	}
	return s.checkRateLimits(ctx, l, "Too many requests: too many sign-in attempts, please try again later", buckets...)
}

// RateLimitIP counts one request of a client IP in the named budget (e.g.
// "register").
func (s *Store) RateLimitIP(ctx context.Context, name, ip string, l RateLimit) error {
	return s.checkRateLimits(ctx, l, "Too many requests, please try again later", name+":ip:"+bucketKey(ip))
}

// bucketKey keeps emails and addresses out of the table in clear text.
func bucketKey(s string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(s)))
	return hex.EncodeToString(h[:16])
}

// pruneRateLimits deletes idle buckets, at most every ten minutes per
// process.
func (s *Store) pruneRateLimits(ctx context.Context, now time.Time) {
	last := s.rateLimitPruned.Load()
	if now.UnixNano()-last < int64(10*time.Minute) || !s.rateLimitPruned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if err := s.db.W(ctx).Exec("DELETE FROM rate_limits WHERE window_start < ?", now.Add(-rateLimitRetention)).Error; err != nil {
		s.log.WarnContext(ctx, "prune rate limits", "error", err.Error())
	}
}
