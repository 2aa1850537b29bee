package envelope

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// Key is a symmetric key for [SuiteAES256GCM]: a key id, written to every
// envelope it seals and bound into the AAD, and a 32-byte secret.
//
// Formatting a Key with the fmt package or log/slog prints its id only.
type Key struct {
	ID     string
	Secret [KeySize]byte
}

// GenerateKey returns a key with the given id and a random secret.
func GenerateKey(id string) (Key, error) {
	k := Key{ID: id}
	rand.Read(k.Secret[:]) // never fails: crypto/rand aborts the program instead
	return k, k.check()
}

// NewKey returns a key with the given id and a copy of secret, which must be
// [KeySize] bytes and not all zero.
func NewKey(id string, secret []byte) (Key, error) {
	k := Key{ID: id}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("%w: secret is %d bytes, want %d", ErrInvalidKey, len(secret), KeySize)
	}
	copy(k.Secret[:], secret)
	return k, k.check()
}

// check refuses an empty id and an all-zero secret: the latter is almost
// always a key that was never loaded.
func (k Key) check() error {
	if err := checkKeyID(k.ID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	var zero [KeySize]byte
	if subtle.ConstantTimeCompare(k.Secret[:], zero[:]) == 1 {
		return fmt.Errorf("%w: key %q has an all-zero secret", ErrInvalidKey, clip(k.ID))
	}
	return nil
}

// Format implements fmt.Formatter so that no verb prints the secret.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "envelope.Key{ID: %q, Secret: REDACTED}", k.ID)
}

// LogValue implements slog.LogValuer so that logs show the id only.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("secret", "REDACTED"))
}
