package models

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// DeriveKey derives an independent 32-byte key for one purpose (JWT signing,
// session cookies, sealing secrets) from TILL_SECRET, so one leaked subkey does
// not expose the others.
func DeriveKey(secret []byte, purpose string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "till/"+purpose, 32)
	if err != nil {
		panic(err) // only possible for lengths hkdf cannot produce
	}
	return k
}

// Sealer encrypts secrets kept at rest (API keys, webhook secrets) with
// AES-256-GCM, so a database dump alone does not reveal them.
type Sealer struct{ aead cipher.AEAD }

// NewSealer builds a Sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("models: sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("models: sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the result is base64 (nonce ‖ ciphertext).
func (s *Sealer) Seal(plaintext string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), nil)
	return base64.RawStdEncoding.EncodeToString(out)
}

// ErrUnseal means a sealed value could not be decrypted: it was damaged or
// sealed under another TILL_SECRET.
var ErrUnseal = errors.New("models: cannot decrypt a stored secret (was TILL_SECRET changed?)")

// Open decrypts a value produced by Seal.
func (s *Sealer) Open(sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", ErrUnseal
	}
	n := s.aead.NonceSize()
	pt, err := s.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return "", ErrUnseal
	}
	return string(pt), nil
}

// hashKey returns the lookup hash of a high-entropy credential (API key).
// A plain SHA-256 is enough for random 122-bit keys and survives a change of
// TILL_SECRET.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
