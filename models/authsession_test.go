package models_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"till/models"
	"till/models/modeltest"
)

// TestDummyHashCost: a login for an unknown email compares against a hash of
// the same bcrypt cost as real password hashes, so its timing does not tell
// that the email is unknown (the cost, not a clock, is asserted).
func TestDummyHashCost(t *testing.T) {
	for _, cost := range []int{bcrypt.MinCost, 6} {
		s := modeltest.Store(t, func(o *models.StoreOptions) { o.BcryptCost = cost })
		ctx := context.Background()
		m, err := s.Register(ctx, models.RegisterInput{Email: "cost@example.com", Password: "securepassword", Name: "Cost", KaspaAddress: addr})
		if err != nil {
			t.Fatal(err)
		}
		real, err := bcrypt.Cost([]byte(m.PasswordHash))
		if err != nil {
			t.Fatal(err)
		}
		dummy, err := s.DummyHashCost()
		if err != nil {
			t.Fatal(err)
		}
		if real != cost || dummy != real {
			t.Fatalf("configured cost %d: real hashes cost %d, the dummy hash %d", cost, real, dummy)
		}
		if _, err := s.Authenticate(ctx, "unknown@example.com", "securepassword"); !errors.Is(err, models.ErrInvalidCredentials) {
			t.Fatalf("unknown email: %v", err)
		}
	}
}

// TestRateLimitAtomic: concurrent hits on one bucket (many connections on
// Postgres) let exactly Max through in a window.
func TestRateLimitAtomic(t *testing.T) {
	s := modeltest.Store(t)
	ctx := context.Background()
	l := models.RateLimit{Max: 7, Window: time.Minute}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			allowed, _, err := s.HitRateLimit(ctx, "probe", l)
			if err != nil {
				t.Error(err)
			}
			if allowed {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 7 {
		t.Fatalf("%d hits allowed, want 7", ok.Load())
	}
	allowed, retry, err := s.HitRateLimit(ctx, "probe", l)
	if err != nil || allowed || retry <= 0 || retry > time.Minute {
		t.Fatalf("after the budget: allowed %v retry %s err %v", allowed, retry, err)
	}
}

// TestCommonPasswordList: the embedded list has a few thousand entries and
// the usual suspects, and leaves the KasPay document's example alone.
func TestCommonPasswordList(t *testing.T) {
	for _, pw := range []string{"password", "Password123", "QWERTYUIOP", "1q2w3e4r5t", "letmein2020", "iloveyou!", "dragon1234", "zzzzzzzzzz"} {
		if !models.IsCommonPassword(pw) {
			t.Errorf("%q is not on the list", pw)
		}
	}
	for _, pw := range []string{"securepassword", "correct horse battery", "a much better passphrase"} {
		if models.IsCommonPassword(pw) {
			t.Errorf("%q is on the list", pw)
		}
	}
}

// TestSessionRevocation: a browser session is valid until logout, expiry
// or an epoch bump (logout everywhere, password change, key rotation).
func TestSessionRevocation(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	s := modeltest.Store(t, func(o *models.StoreOptions) { o.Now = func() time.Time { return now } })
	ctx := context.Background()
	m, err := s.Register(ctx, models.RegisterInput{Email: "sess@example.com", Password: "securepassword", Name: "Sess", KaspaAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	start := func() string {
		tok, err := s.StartBrowserSession(ctx, m.ID, "test agent", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := func(tok string) bool {
		got, err := s.BrowserSession(ctx, tok)
		if err != nil && !errors.Is(err, models.ErrInvalidCredentials) {
			t.Fatal(err)
		}
		return err == nil && got.ID == m.ID
	}
	a, b := start(), start()
	if !valid(a) || !valid(b) || valid("") || valid(strings.Repeat("x", 43)) {
		t.Fatal("fresh sessions")
	}
	if err := s.EndBrowserSession(ctx, a); err != nil || valid(a) || !valid(b) {
		t.Fatalf("logout of a: %v", err)
	}
	now = now.Add(61 * time.Minute)
	if valid(b) {
		t.Fatal("expired session accepted")
	}
	c := start()
	if err := s.RevokeAllCredentials(ctx, m.ID); err != nil || valid(c) {
		t.Fatalf("logout everywhere: %v", err)
	}
	d := start()
	if err := s.ChangePassword(ctx, m.ID, "securepassword", "a much better passphrase"); err != nil || valid(d) {
		t.Fatalf("password change: %v", err)
	}
	e := start()
	if _, err := s.RotateAPIKey(ctx, m.ID); err != nil || valid(e) {
		t.Fatalf("key rotation: %v", err)
	}
	if got, _ := s.Merchant(ctx, m.ID); got.CredentialEpoch != 3 {
		t.Fatalf("epoch %d after three bumps", got.CredentialEpoch)
	}
	if !valid(start()) {
		t.Fatal("a session started after the bumps is refused")
	}
}
