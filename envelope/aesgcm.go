package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// Envelope is a value sealed with [SuiteAES256GCM]. Its JSON form is
// described in the package documentation; decode it with [ParseEnvelope] or
// json.Unmarshal, both strict.
type Envelope struct {
	Version    int
	Suite      Suite
	KeyID      string
	Cell       Cell   // the cell the envelope claims; see CheckCell
	Nonce      []byte // NonceSize bytes
	Ciphertext []byte // the encrypted value followed by the TagSize-byte tag
}

// Header returns the envelope's clear-text fields (zero for a nil envelope).
func (e *Envelope) Header() Header {
	if e == nil {
		return Header{}
	}
	return Header{e.Version, e.Suite, e.KeyID, e.Cell}
}

// check validates the shape: after it passes, Open cannot panic on e.
func (e *Envelope) check() error {
	if e == nil {
		return fmt.Errorf("%w: nil envelope", ErrMalformed)
	}
	if err := e.Header().check(); err != nil {
		return err
	}
	if suites[e.Suite].pq {
		return fmt.Errorf("%w: %q is a PQ suite, not an AES envelope", ErrUnsupportedSuite, e.Suite)
	}
	if len(e.Nonce) != NonceSize {
		return fmt.Errorf("%w: nonce is %d bytes, want %d", ErrMalformed, len(e.Nonce), NonceSize)
	}
	if len(e.Ciphertext) < TagSize {
		return fmt.Errorf("%w: ciphertext is %d bytes, shorter than the %d-byte tag", ErrTruncated, len(e.Ciphertext), TagSize)
	}
	return nil
}

func (e *Envelope) sizes() (ct, enc int) { return len(e.Ciphertext), 0 }

// Seal encrypts plaintext for cell under key with [SuiteAES256GCM]: a random
// nonce, and a subkey derived from key and the cell's [AAD], which is also
// authenticated.
func Seal(key Key, cell Cell, plaintext []byte) (*Envelope, error) {
	if err := key.check(); err != nil {
		return nil, err
	}
	if err := cell.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCell, err)
	}
	aad := AAD(Version, SuiteAES256GCM, key.ID, cell)
	gcm, err := cellAEAD(&key.Secret, aad)
	if err != nil {
		return nil, err
	}
	// One allocation holds the nonce and the ciphertext.
	buf := make([]byte, NonceSize, NonceSize+len(plaintext)+TagSize)
	rand.Read(buf) // never fails: crypto/rand aborts the program instead
	nonce := buf[:NonceSize:NonceSize]
	return &Envelope{
		Version:    Version,
		Suite:      SuiteAES256GCM,
		KeyID:      key.ID,
		Cell:       cell,
		Nonce:      nonce,
		Ciphertext: gcm.Seal(buf[NonceSize:], nonce, plaintext, aad),
	}, nil
}

// Open decrypts env, which must have been sealed under key for cell. It
// fails with [ErrCellMismatch] if env claims another cell, [ErrUnknownKey]
// if env names another key id, and [ErrAuth] if anything authenticated was
// altered.
func Open(key Key, cell Cell, env *Envelope) ([]byte, error) {
	if err := env.check(); err != nil {
		return nil, err
	}
	if env.KeyID != key.ID {
		return nil, fmt.Errorf("%w: envelope key %q, have %q", ErrUnknownKey, clip(env.KeyID), clip(key.ID))
	}
	if err := key.check(); err != nil {
		return nil, err
	}
	if err := CheckCell(env, cell); err != nil {
		return nil, err
	}
	// The AAD is rebuilt from the caller's cell, not the envelope's claim.
	aad := AAD(env.Version, env.Suite, env.KeyID, cell)
	gcm, err := cellAEAD(&key.Secret, aad)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, env.Nonce, env.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrAuth, cell)
	}
	return pt, nil
}

// subkeySalt separates the per-cell subkeys from any other HKDF use of the key.
var subkeySalt = []byte("plasma/envelope/v1 cell subkey")

// cellAEAD returns AES-256-GCM under the cell's subkey HKDF-SHA256(secret,
// AAD). Distinct cells never share a GCM key, so the random-nonce budget of
// about 2^32 messages applies per cell rather than per key.
func cellAEAD(secret *[KeySize]byte, aad []byte) (cipher.AEAD, error) {
	sub, err := hkdf.Key(sha256.New, secret[:], subkeySalt, string(aad), KeySize)
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving cell key: %w", err)
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return cipher.NewGCM(block)
}
