package models

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"till/models/evm"
	"till/models/kaspa"
)

// Merchant is an account that owns links, payments and webhook endpoints.
type Merchant struct {
	ID            string
	Email         string
	Name          string
	PasswordHash  string
	KaspaAddress  string
	APIKeyHash    string
	APIKeySealed  string
	PaymentExpiry int
	// KaspaKpub, when set, switches the merchant to one address per payment
	// derived at kpub/0/i; KaspaNextIndex is the next i.
	KaspaKpub             string
	KaspaNextIndex        int64
	RequiredConfirmations int
	// CredentialEpoch invalidates credentials issued before it: browser
	// sessions and API JWTs carry the epoch they were issued at and are
	// refused once it is older than this. Logout everywhere, a password
	// change and an API key rotation bump it.
	CredentialEpoch int64
	// EVMAddress is the merchant's payout address on EVM chains (lower-case
	// hex, "" when unset), the default receiver of USDC links.
	EVMAddress string `gorm:"column:evm_address"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TableName pins the table name.
func (Merchant) TableName() string { return "merchants" }

// RegisterInput is what a new merchant supplies.
type RegisterInput struct {
	Email        string
	Password     string
	Name         string
	KaspaAddress string
}

// Register validates the input, creates the merchant with a fresh API key and
// returns it. A duplicate email (case-insensitive) is a ConflictError.
func (s *Store) Register(ctx context.Context, in RegisterInput) (*Merchant, error) {
	in.Email = NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	in.KaspaAddress = strings.TrimSpace(in.KaspaAddress)
	var v ValidationErrors
	v.add(validateEmail("email", in.Email))
	v.add(validatePassword("password", in.Password))
	v.add(validateText("name", "Name", in.Name, true, MaxNameLen))
	v.add(s.validateKaspaAddress("kaspaAddress", in.KaspaAddress))
	if err := v.err(); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.bcryptCost)
	if err != nil {
		return nil, fmt.Errorf("models: hash password: %w", err)
	}
	key := uuid.NewString()
	now := s.clock()
	m := &Merchant{
		ID:                    uuid.NewString(),
		Email:                 in.Email,
		Name:                  in.Name,
		PasswordHash:          string(hash),
		KaspaAddress:          in.KaspaAddress,
		APIKeyHash:            hashKey(key),
		APIKeySealed:          s.sealer.Seal(key),
		PaymentExpiry:         30,
		RequiredConfirmations: defaultRequiredConfirmations,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	if err := s.db.W(ctx).Create(m).Error; err != nil {
		if isUniqueViolation(err) {
			return nil, &ConflictError{Field: "email", Message: "Email already registered"}
		}
		return nil, fmt.Errorf("models: create merchant: %w", err)
	}
	return m, nil
}

// newDummyHash makes the hash compared against when the email is unknown, so
// a login for a missing account costs the same time as one with a wrong
// password: same algorithm, same cost as the hashes Register writes.
func newDummyHash(cost int) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("till-dummy-"+randomHex(8)), cost)
	if err != nil {
		panic(fmt.Sprintf("models: dummy bcrypt hash: %v", err)) // only for an invalid cost, checked by NewStore
	}
	return h
}

// DummyHashCost is the bcrypt cost of the hash compared for unknown emails
// (tests check it equals the cost of real hashes).
func (s *Store) DummyHashCost() (int, error) { return bcrypt.Cost(s.dummyHash) }

// Authenticate checks an email and password. Unknown email and wrong password
// both give ErrInvalidCredentials.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*Merchant, error) {
	email = NormalizeEmail(email)
	var m Merchant
	err := s.db.R(ctx).Where("email = ?", email).Take(&m).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		return nil, ErrInvalidCredentials
	case err != nil:
		return nil, fmt.Errorf("models: find merchant: %w", err)
	}
	if bcrypt.CompareHashAndPassword([]byte(m.PasswordHash), []byte(password)) != nil {
		return nil, ErrInvalidCredentials
	}
	return &m, nil
}

// Merchant returns the merchant with id.
func (s *Store) Merchant(ctx context.Context, id string) (*Merchant, error) {
	var m Merchant
	if err := s.db.R(ctx).Where("id = ?", id).Take(&m).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, &NotFoundError{What: "Merchant"}
		}
		return nil, fmt.Errorf("models: merchant %s: %w", id, err)
	}
	return &m, nil
}

// MerchantByAPIKey finds the merchant owning an API key. The key is looked up
// by its hash and then compared in constant time. Every API request asks,
// so the answer is cached (see Changes): a rotated or revoked key stops
// working at once in this process, and in others within a NOTIFY.
func (s *Store) MerchantByAPIKey(ctx context.Context, key string) (*Merchant, error) {
	if key == "" {
		return nil, ErrInvalidCredentials
	}
	h := hashKey(key)
	m, err := s.caches.apiKeys.get(h, func() (Merchant, error) {
		var m Merchant
		if err := s.db.R(ctx).Where("api_key_hash = ?", h).Take(&m).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return m, ErrInvalidCredentials
			}
			return m, fmt.Errorf("models: merchant by key: %w", err)
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(m.APIKeyHash), []byte(h)) != 1 {
		return nil, ErrInvalidCredentials
	}
	return &m, nil
}

// APIKey decrypts the merchant's API key for display to its owner.
func (s *Store) APIKey(m *Merchant) (string, error) {
	return s.sealer.Open(m.APIKeySealed)
}

// RotateAPIKey replaces the merchant's API key; the old one stops working at
// once. It also bumps the credential epoch (a rotation is what a merchant
// does after a leak), so older JWTs and browser sessions are refused too.
func (s *Store) RotateAPIKey(ctx context.Context, merchantID string) (string, error) {
	key := uuid.NewString()
	err := s.db.Tx(ctx, func(tx *gorm.DB) error {
		now := s.clock()
		res := tx.Model(&Merchant{}).Where("id = ?", merchantID).Updates(map[string]any{
			"api_key_hash":     hashKey(key),
			"api_key_sealed":   s.sealer.Seal(key),
			"credential_epoch": gorm.Expr("credential_epoch + 1"),
			"updated_at":       now,
		})
		if res.Error != nil {
			return fmt.Errorf("models: rotate api key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return &NotFoundError{What: "Merchant"}
		}
		return revokeBrowserSessions(tx, merchantID, now)
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

// ChangePassword replaces the merchant's password after checking the
// current one, and bumps the credential epoch: every browser session and
// JWT issued before is refused from now on (the caller re-issues the
// session that made the change). A wrong current password is a validation
// error on "currentPassword".
func (s *Store) ChangePassword(ctx context.Context, merchantID, current, next string) error {
	m, err := s.Merchant(ctx, merchantID)
	if err != nil {
		return err
	}
	if current == "" {
		return Invalid("currentPassword", "Current password is required")
	}
	if bcrypt.CompareHashAndPassword([]byte(m.PasswordHash), []byte(current)) != nil {
		return Invalid("currentPassword", "Current password is incorrect")
	}
	if err := validatePassword("newPassword", next); err != nil {
		return err
	}
	if next == current {
		return Invalid("newPassword", "The new password must differ from the current one")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(next), s.bcryptCost)
	if err != nil {
		return fmt.Errorf("models: hash password: %w", err)
	}
	return s.db.Tx(ctx, func(tx *gorm.DB) error {
		now := s.clock()
		// Conditional on the hash checked above: of two concurrent changes
		// with the same current password, one wins.
		res := tx.Model(&Merchant{}).Where("id = ? AND password_hash = ?", merchantID, m.PasswordHash).Updates(map[string]any{
			"password_hash":    string(hash),
			"credential_epoch": gorm.Expr("credential_epoch + 1"),
			"updated_at":       now,
		})
		if res.Error != nil {
			return fmt.Errorf("models: change password: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return Invalid("currentPassword", "Current password is incorrect")
		}
		return revokeBrowserSessions(tx, merchantID, now)
	})
}

// SettingsInput holds the settings a merchant may change; nil fields stay as they are.
type SettingsInput struct {
	Name          *string
	KaspaAddress  *string
	PaymentExpiry *int
	// KaspaKpub switches to one address per payment; "" switches back to
	// the single payout address.
	KaspaKpub             *string
	RequiredConfirmations *int
	// EVMAddress is the payout address on EVM chains (strict EIP-55); ""
	// clears it.
	EVMAddress *string
}

// Empty reports whether no field is set.
func (in SettingsInput) Empty() bool {
	return in.Name == nil && in.KaspaAddress == nil && in.PaymentExpiry == nil && in.KaspaKpub == nil && in.RequiredConfirmations == nil &&
		in.EVMAddress == nil
}

// EVMAddressHex is the merchant's EVM address in EIP-55 form ("" if unset).
func (m *Merchant) EVMAddressHex() string { return evmHex(m.EVMAddress) }

// Bounds on confirmation depth.
const (
	MinConfirmations = 1
	MaxConfirmations = 1000
)

// UpdateSettings validates every given field and applies them together; when
// any field is invalid nothing changes.
func (s *Store) UpdateSettings(ctx context.Context, merchantID string, in SettingsInput) (*Merchant, error) {
	if in.Empty() {
		return nil, Invalid("", "No settings to update")
	}
	var v ValidationErrors
	updates := map[string]any{}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		v.add(validateText("name", "Name", name, true, MaxNameLen))
		updates["name"] = name
	}
	if in.KaspaAddress != nil {
		addr := strings.TrimSpace(*in.KaspaAddress)
		v.add(s.validateKaspaAddress("kaspaAddress", addr))
		updates["kaspa_address"] = addr
	}
	if in.PaymentExpiry != nil {
		v.add(validatePaymentExpiry("paymentExpiry", *in.PaymentExpiry))
		updates["payment_expiry"] = *in.PaymentExpiry
	}
	if in.RequiredConfirmations != nil {
		if n := *in.RequiredConfirmations; n < MinConfirmations || n > MaxConfirmations {
			v.add(Invalid("requiredConfirmations", "requiredConfirmations must be between %d and %d", MinConfirmations, MaxConfirmations))
		}
		updates["required_confirmations"] = *in.RequiredConfirmations
	}
	if in.EVMAddress != nil {
		addr := strings.TrimSpace(*in.EVMAddress)
		if addr != "" {
			a, err := evm.ParseAddress(addr, evm.Strict)
			if err != nil {
				v.add(Invalid("evmAddress", "Invalid EVM address: %s", evmReason(err)))
			} else {
				addr = a.Lower()
			}
		}
		updates["evm_address"] = addr
	}
	if in.KaspaKpub != nil {
		kpub := strings.TrimSpace(*in.KaspaKpub)
		if kpub != "" {
			key, err := kaspa.ParseExtendedPublicKey(kpub, s.network)
			if err != nil {
				v.add(Invalid("kaspaKpub", "Invalid extended public key: %s", err.Error()))
			} else {
				kpub = key.String()
			}
		}
		cur, err := s.Merchant(ctx, merchantID)
		if err != nil {
			return nil, err
		}
		if kpub != cur.KaspaKpub {
			updates["kaspa_kpub"] = kpub
			updates["kaspa_next_index"] = 0 // a new wallet starts at its first address
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	updates["updated_at"] = s.clock()
	res := s.db.W(ctx).Model(&Merchant{}).Where("id = ?", merchantID).Updates(updates)
	if res.Error != nil {
		return nil, fmt.Errorf("models: update settings: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, &NotFoundError{What: "Merchant"}
	}
	return s.Merchant(ctx, merchantID)
}
