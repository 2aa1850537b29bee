package envelope

import (
	"encoding/json"
	"fmt"
)

// PQHybridProvider is a post-quantum hybrid public-key encryption scheme: a
// KEM that combines a post-quantum and a classical key exchange, with a KDF
// and an AEAD that authenticates associated data. [NewHPKEProvider] is the
// real one; [NewInsecurePlaceholderProvider] is for staging.
//
// Keys are created by the provider that uses them and carry its suite.
type PQHybridProvider interface {
	// Suite names the provider's algorithms; it must be one of this
	// package's PQ suites.
	Suite() Suite

	// GenerateKey returns a new random recipient key pair.
	GenerateKey(keyID string) (PQPrivateKey, error)

	// NewPublicKey parses a recipient public key from its Bytes.
	NewPublicKey(keyID string, data []byte) (PQPublicKey, error)

	// NewPrivateKey parses a recipient private key from its Bytes.
	NewPrivateKey(keyID string, data []byte) (PQPrivateKey, error)

	// Seal encrypts plaintext to pub, binding info into the key schedule
	// and aad into the AEAD. It returns the KEM encapsulation and the
	// ciphertext.
	Seal(pub PQPublicKey, info, aad, plaintext []byte) (enc, ciphertext []byte, err error)

	// Open decrypts what Seal returned, given the same info and aad.
	Open(priv PQPrivateKey, info, enc, aad, ciphertext []byte) ([]byte, error)
}

// PQPublicKey is a recipient public key of a [PQHybridProvider].
type PQPublicKey interface {
	// KeyID returns the id written to envelopes sealed to this key.
	KeyID() string
	// Suite returns the suite of the provider that made the key.
	Suite() Suite
	// Bytes returns the serialized public key.
	Bytes() []byte
}

// PQPrivateKey is a recipient private key of a [PQHybridProvider].
type PQPrivateKey interface {
	// KeyID returns the id of the key pair.
	KeyID() string
	// Suite returns the suite of the provider that made the key.
	Suite() Suite
	// Bytes returns the serialized private key. It is secret.
	Bytes() ([]byte, error)
	// PublicKey returns the matching public key.
	PublicKey() PQPublicKey
}

// pqInfo is the HPKE info string: it separates this package's key schedule
// from any other use of the same recipient key.
var pqInfo = []byte("plasma/envelope/v1 pq")

// PQEnvelope is a value sealed with a PQ suite. It carries the KEM
// encapsulation instead of a nonce: HPKE derives the AEAD key and nonce from
// the key exchange, which is fresh for every envelope.
type PQEnvelope struct {
	Version    int
	Suite      Suite
	KeyID      string // the recipient key id
	Cell       Cell   // the cell the envelope claims; see CheckCell
	Enc        []byte // the KEM encapsulation (1120 bytes for X-Wing)
	Ciphertext []byte // the encrypted value followed by the TagSize-byte tag
}

// Header returns the envelope's clear-text fields (zero for a nil envelope).
func (e *PQEnvelope) Header() Header {
	if e == nil {
		return Header{}
	}
	return Header{e.Version, e.Suite, e.KeyID, e.Cell}
}

func (e *PQEnvelope) check() error {
	if e == nil {
		return fmt.Errorf("%w: nil envelope", ErrMalformed)
	}
	if err := e.Header().check(); err != nil {
		return err
	}
	info := suites[e.Suite]
	if !info.pq {
		return fmt.Errorf("%w: %q is not a PQ suite", ErrUnsupportedSuite, e.Suite)
	}
	if len(e.Enc) < info.encSize {
		return fmt.Errorf("%w: KEM encapsulation is %d bytes, want %d", ErrTruncated, len(e.Enc), info.encSize)
	}
	if len(e.Enc) > info.encSize {
		return fmt.Errorf("%w: KEM encapsulation is %d bytes, want %d", ErrMalformed, len(e.Enc), info.encSize)
	}
	if len(e.Ciphertext) < TagSize {
		return fmt.Errorf("%w: ciphertext is %d bytes, shorter than the %d-byte tag", ErrTruncated, len(e.Ciphertext), TagSize)
	}
	return nil
}

func (e *PQEnvelope) sizes() (ct, enc int) { return len(e.Ciphertext), len(e.Enc) }

// SealPQ encrypts plaintext for cell to the recipient key pub with provider
// p. The envelope's AAD (see [AAD]) names the recipient key id and p's suite.
func SealPQ(p PQHybridProvider, pub PQPublicKey, cell Cell, plaintext []byte) (*PQEnvelope, error) {
	if p == nil || pub == nil {
		return nil, fmt.Errorf("%w: nil provider or key", ErrInvalidKey)
	}
	h := Header{Version: Version, Suite: p.Suite(), KeyID: pub.KeyID(), Cell: cell}
	if err := checkPQHeader(h, pub.Suite()); err != nil {
		return nil, err
	}
	if err := cell.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCell, err)
	}
	enc, ct, err := p.Seal(pub, pqInfo, AAD(h.Version, h.Suite, h.KeyID, cell), plaintext)
	if err != nil {
		return nil, err
	}
	env := &PQEnvelope{Version: h.Version, Suite: h.Suite, KeyID: h.KeyID, Cell: cell, Enc: enc, Ciphertext: ct}
	// A provider that produced the wrong sizes would write envelopes no
	// reader accepts: fail now instead.
	if err := env.check(); err != nil {
		return nil, fmt.Errorf("envelope: provider output: %w", err)
	}
	return env, nil
}

// checkPQHeader refuses a provider or key that is not of a known PQ suite,
// or whose suites differ.
func checkPQHeader(h Header, keySuite Suite) error {
	if !suites[h.Suite].pq {
		return fmt.Errorf("%w: provider suite %q is not a PQ suite", ErrUnsupportedSuite, clip(string(h.Suite)))
	}
	if keySuite != h.Suite {
		return fmt.Errorf("%w: key suite %q, provider suite %q", ErrUnsupportedSuite, clip(string(keySuite)), h.Suite)
	}
	if err := checkKeyID(h.KeyID); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	return nil
}

// OpenPQ decrypts env with the recipient private key priv and provider p.
// It fails with [ErrCellMismatch] if env claims another cell,
// [ErrUnknownKey] if env names another recipient key, [ErrUnsupportedSuite]
// if env's suite is not p's, and [ErrAuth] if anything authenticated was
// altered.
func OpenPQ(p PQHybridProvider, priv PQPrivateKey, cell Cell, env *PQEnvelope) ([]byte, error) {
	if p == nil || priv == nil {
		return nil, fmt.Errorf("%w: nil provider or key", ErrInvalidKey)
	}
	if err := env.check(); err != nil {
		return nil, err
	}
	if env.Suite != p.Suite() || priv.Suite() != p.Suite() {
		return nil, fmt.Errorf("%w: envelope %q, provider %q, key %q",
			ErrUnsupportedSuite, env.Suite, clip(string(p.Suite())), clip(string(priv.Suite())))
	}
	if env.KeyID != priv.KeyID() {
		return nil, fmt.Errorf("%w: envelope key %q, have %q", ErrUnknownKey, clip(env.KeyID), clip(priv.KeyID()))
	}
	if err := CheckCell(env, cell); err != nil {
		return nil, err
	}
	// The AAD is rebuilt from the caller's cell, not the envelope's claim.
	return p.Open(priv, pqInfo, env.Enc, AAD(env.Version, env.Suite, env.KeyID, cell), env.Ciphertext)
}

// IsPQEnvelope reports whether data is a well-formed PQ envelope (a strict
// decode, as [ParsePQEnvelope]).
func IsPQEnvelope(data []byte) bool {
	_, err := ParsePQEnvelope(data)
	return err == nil
}

// ParsePQEnvelope decodes a PQ envelope strictly; see [Parse].
func ParsePQEnvelope(data []byte) (*PQEnvelope, error) {
	s, err := Parse(data)
	if err != nil {
		return nil, err
	}
	e, ok := s.(*PQEnvelope)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not a PQ suite", ErrUnsupportedSuite, s.Header().Suite)
	}
	return e, nil
}

func parsePQ(h Header, m map[string]json.RawMessage) (*PQEnvelope, error) {
	e := &PQEnvelope{Version: h.Version, Suite: h.Suite, KeyID: h.KeyID, Cell: h.Cell}
	if _, ok := m["nonce"]; ok {
		return nil, fmt.Errorf("%w: field \"nonce\" is not allowed in a PQ envelope", ErrMalformed)
	}
	if err := bytesField(m, "enc", &e.Enc); err != nil {
		return nil, err
	}
	if err := bytesField(m, "ct", &e.Ciphertext); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

// MarshalJSON encodes the envelope in its wire form. It refuses an envelope
// that would not decode again.
func (e PQEnvelope) MarshalJSON() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	return json.Marshal(wireEnvelope{V: e.Version, Suite: e.Suite, KeyID: e.KeyID,
		Cell: e.Cell, Enc: e.Enc, CT: e.Ciphertext})
}

// UnmarshalJSON decodes a PQ envelope strictly, like [ParsePQEnvelope]. As
// with encoding/json's own types, JSON null leaves e unchanged.
func (e *PQEnvelope) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	got, err := ParsePQEnvelope(data)
	if err != nil {
		return err
	}
	*e = *got
	return nil
}
