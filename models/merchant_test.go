package models_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"till/models"
	"till/models/modeltest"
)

const addr = "kaspa:qqkqkzjvr7zwxxmjxjkmxxdwju9kjs6e9u82uh59z07vgaks6gg62v8707g73"

func TestRegisterStoresNoPlaintext(t *testing.T) {
	ctx := context.Background()
	s := modeltest.Store(t)
	m, err := s.Register(ctx, models.RegisterInput{Email: " Shop@Example.com ", Password: "securepassword", Name: "Shop", KaspaAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "shop@example.com" {
		t.Errorf("email not normalised: %q", m.Email)
	}
	key, err := s.APIKey(m)
	if err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	if err := s.DB().R(ctx).Table("merchants").Where("id = ?", m.ID).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	for col, v := range row {
		str, _ := v.(string)
		if strings.Contains(str, key) || strings.Contains(str, "securepassword") {
			t.Errorf("column %s holds a plaintext secret", col)
		}
	}
	if !strings.HasPrefix(m.PasswordHash, "$2a$") {
		t.Errorf("password hash %q is not bcrypt", m.PasswordHash[:4])
	}
	if got, err := s.MerchantByAPIKey(ctx, key); err != nil || got.ID != m.ID {
		t.Fatalf("lookup by key: %v %v", got, err)
	}
}

func TestConcurrentRegisterSameEmail(t *testing.T) {
	ctx := context.Background()
	s := modeltest.Store(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			email := "race@example.com"
			if i%2 == 1 {
				email = "RACE@example.com"
			}
			_, errs[i] = s.Register(ctx, models.RegisterInput{Email: email, Password: "securepassword", Name: "Race", KaspaAddress: addr})
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, models.ErrConflict):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d registrations succeeded, want exactly 1", ok)
	}
}

func TestUpdateSettingsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := modeltest.Store(t)
	m, err := s.Register(ctx, models.RegisterInput{Email: "a@example.com", Password: "securepassword", Name: "A", KaspaAddress: addr})
	if err != nil {
		t.Fatal(err)
	}
	exp, bad := 45, "kaspa:bad"
	_, err = s.UpdateSettings(ctx, m.ID, models.SettingsInput{PaymentExpiry: &exp, KaspaAddress: &bad})
	v, ok := models.AsValidation(err)
	if !ok || v.For("kaspaAddress") == "" {
		t.Fatalf("err = %v", err)
	}
	got, _ := s.Merchant(ctx, m.ID)
	if got.PaymentExpiry != 30 {
		t.Fatalf("expiry changed to %d although the address was invalid", got.PaymentExpiry)
	}
}
