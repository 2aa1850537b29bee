package envelope

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
)

// HPKEProvider is a [PQHybridProvider] on the standard library's crypto/hpke,
// in base mode with a single message per key exchange. Its zero value is not
// usable; construct it with [NewHPKEProvider].
type HPKEProvider struct {
	suite Suite
	kem   hpke.KEM
	kdf   hpke.KDF
	aead  hpke.AEAD
}

var _ PQHybridProvider = (*HPKEProvider)(nil)

// NewHPKEProvider returns the post-quantum hybrid provider for
// [SuiteMLKEM768X25519]: the ML-KEM-768 + X25519 KEM (X-Wing), HKDF-SHA256
// and AES-256-GCM. Its private keys are 32-byte seeds and its public keys
// 1216 bytes.
func NewHPKEProvider() *HPKEProvider {
	return &HPKEProvider{SuiteMLKEM768X25519, hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.AES256GCM()}
}

// PlaceholderOptions configures [NewInsecurePlaceholderProvider].
type PlaceholderOptions struct {
	// AllowInsecure must be true: it records that the caller knows the
	// provider gives no post-quantum protection.
	AllowInsecure bool
}

// NewInsecurePlaceholderProvider returns a provider for
// [SuiteInsecurePlaceholder]: HPKE with classical DHKEM(X25519), HKDF-SHA256
// and AES-256-GCM. It is NOT post-quantum and exists only for staging
// systems that must exercise the PQ code path. It returns
// [ErrInsecureProvider] unless opts.AllowInsecure is set, and [Validate]
// refuses its envelopes unless [Limits.AllowedSuites] names its suite.
func NewInsecurePlaceholderProvider(opts PlaceholderOptions) (*HPKEProvider, error) {
	if !opts.AllowInsecure {
		return nil, ErrInsecureProvider
	}
	return &HPKEProvider{SuiteInsecurePlaceholder, hpke.DHKEM(ecdh.X25519()), hpke.HKDFSHA256(), hpke.AES256GCM()}, nil
}

// Suite returns the provider's suite ("" for a nil or zero provider).
func (p *HPKEProvider) Suite() Suite {
	if p == nil {
		return ""
	}
	return p.suite
}

func (p *HPKEProvider) ready() error {
	if p == nil || p.kem == nil {
		return fmt.Errorf("%w: HPKEProvider not constructed with NewHPKEProvider", ErrUnsupportedSuite)
	}
	return nil
}

// GenerateKey returns a new random recipient key pair.
func (p *HPKEProvider) GenerateKey(keyID string) (PQPrivateKey, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	sk, err := p.kem.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("envelope: generating key: %w", err)
	}
	return p.privateKey(keyID, sk)
}

// NewPrivateKey parses a private key: for X-Wing, its 32-byte seed.
func (p *HPKEProvider) NewPrivateKey(keyID string, data []byte) (PQPrivateKey, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	sk, err := p.kem.NewPrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s private key: %v", ErrInvalidKey, p.suite, err)
	}
	return p.privateKey(keyID, sk)
}

// NewPublicKey parses a public key.
func (p *HPKEProvider) NewPublicKey(keyID string, data []byte) (PQPublicKey, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	if err := checkKeyID(keyID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	pk, err := p.kem.NewPublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s public key: %v", ErrInvalidKey, p.suite, err)
	}
	return &hpkePublicKey{keyID, p.suite, pk}, nil
}

func (p *HPKEProvider) privateKey(keyID string, sk hpke.PrivateKey) (PQPrivateKey, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	pub := &hpkePublicKey{keyID, p.suite, sk.PublicKey()}
	return &hpkePrivateKey{pub, sk}, nil
}

// Seal encrypts plaintext to pub with a fresh HPKE sender context. The
// one-shot hpke.Seal takes no associated data, so a sender context is what
// lets the AAD be bound.
func (p *HPKEProvider) Seal(pub PQPublicKey, info, aad, plaintext []byte) (enc, ciphertext []byte, err error) {
	if err := p.ready(); err != nil {
		return nil, nil, err
	}
	k, ok := pub.(*hpkePublicKey)
	if !ok || k.suite != p.suite {
		return nil, nil, fmt.Errorf("%w: not a %s public key", ErrInvalidKey, p.suite)
	}
	enc, sender, err := hpke.NewSender(k.pk, p.kdf, p.aead, info)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: HPKE sender: %w", err)
	}
	ciphertext, err = sender.Seal(aad, plaintext)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope: HPKE seal: %w", err)
	}
	return enc, ciphertext, nil
}

// Open decrypts with a fresh HPKE recipient context. Every failure, from a
// rejected encapsulation to a bad tag, is [ErrAuth]: telling them apart
// would help an attacker and not the caller.
func (p *HPKEProvider) Open(priv PQPrivateKey, info, enc, aad, ciphertext []byte) ([]byte, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	k, ok := priv.(*hpkePrivateKey)
	if !ok || k.pub.suite != p.suite {
		return nil, fmt.Errorf("%w: not a %s private key", ErrInvalidKey, p.suite)
	}
	r, err := hpke.NewRecipient(enc, k.sk, p.kdf, p.aead, info)
	if err != nil {
		return nil, ErrAuth
	}
	pt, err := r.Open(aad, ciphertext)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// hpkePublicKey is an HPKEProvider public key.
type hpkePublicKey struct {
	id    string
	suite Suite
	pk    hpke.PublicKey
}

func (k *hpkePublicKey) KeyID() string { return k.id }
func (k *hpkePublicKey) Suite() Suite  { return k.suite }
func (k *hpkePublicKey) Bytes() []byte { return k.pk.Bytes() }

// hpkePrivateKey is an HPKEProvider private key.
type hpkePrivateKey struct {
	pub *hpkePublicKey
	sk  hpke.PrivateKey
}

func (k *hpkePrivateKey) KeyID() string          { return k.pub.id }
func (k *hpkePrivateKey) Suite() Suite           { return k.pub.suite }
func (k *hpkePrivateKey) Bytes() ([]byte, error) { return k.sk.Bytes() }
func (k *hpkePrivateKey) PublicKey() PQPublicKey { return k.pub }

// Format implements fmt.Formatter so that no verb prints the private key.
func (k *hpkePrivateKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "envelope.PQPrivateKey{ID: %q, Suite: %q, Key: REDACTED}", k.pub.id, k.pub.suite)
}
