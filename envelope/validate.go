package envelope

import (
	"encoding/base64"
	"fmt"
	"slices"
)

// Default limits, used where a [Limits] field is zero.
const (
	// DefaultMaxCiphertextBytes bounds the ciphertext (value plus tag).
	DefaultMaxCiphertextBytes = 64 << 10
	// DefaultMaxKEMCiphertextBytes bounds a PQ envelope's KEM encapsulation;
	// X-Wing's is 1120 bytes.
	DefaultMaxKEMCiphertextBytes = 2048
)

// Limits are what [Validate] enforces on envelopes that arrive from clients.
type Limits struct {
	// MaxCiphertextBytes bounds the decoded ciphertext, tag included.
	// Zero means DefaultMaxCiphertextBytes.
	MaxCiphertextBytes int

	// MaxKEMCiphertextBytes bounds the decoded KEM encapsulation of a PQ
	// envelope. Zero means DefaultMaxKEMCiphertextBytes.
	MaxKEMCiphertextBytes int

	// AllowedKeyIDs lists the key ids envelopes may name. Empty means any
	// well-formed key id.
	AllowedKeyIDs []string

	// AllowedSuites lists the suites envelopes may use. Empty means
	// SuiteAES256GCM and SuiteMLKEM768X25519, never the placeholder.
	AllowedSuites []Suite
}

func (l Limits) maxCiphertext() int {
	return orDefault(l.MaxCiphertextBytes, DefaultMaxCiphertextBytes)
}

func (l Limits) maxKEM() int {
	return orDefault(l.MaxKEMCiphertextBytes, DefaultMaxKEMCiphertextBytes)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func (l Limits) suiteAllowed(s Suite) bool {
	if len(l.AllowedSuites) == 0 {
		return slices.Contains(defaultSuites, s)
	}
	return slices.Contains(l.AllowedSuites, s)
}

func (l Limits) keyAllowed(id string) bool {
	return len(l.AllowedKeyIDs) == 0 || slices.Contains(l.AllowedKeyIDs, id)
}

// maxJSONBytes is a generous bound on the JSON text of an envelope within
// the limits, so that ValidateJSON can refuse a huge document before
// decoding it. Identifiers are counted six times over for \u escapes.
func (l Limits) maxJSONBytes() int {
	const fields = 256
	idents := 6 * (3*MaxCellFieldBytes + MaxKeyIDBytes + 64)
	return fields + idents + base64.StdEncoding.EncodedLen(l.maxCiphertext()) +
		base64.StdEncoding.EncodedLen(max(l.maxKEM(), NonceSize))
}

// Validate checks an envelope from an untrusted client without any key: its
// shape (version, suite, key id, cell, nonce and KEM lengths), that its
// suite and key id are allowed, and its sizes. Errors wrap [ErrMalformed],
// [ErrTruncated], [ErrUnsupportedVersion], [ErrUnsupportedSuite],
// [ErrUnknownKey] or [ErrTooLarge]. It does not check which cell the envelope
// belongs to: see [CheckCell].
func Validate(env Sealed, l Limits) error {
	if isNil(env) {
		return fmt.Errorf("%w: nil envelope", ErrMalformed)
	}
	if err := env.check(); err != nil {
		return err
	}
	h := env.Header()
	if !l.suiteAllowed(h.Suite) {
		return fmt.Errorf("%w: %q is not allowed", ErrUnsupportedSuite, h.Suite)
	}
	if !l.keyAllowed(h.KeyID) {
		return fmt.Errorf("%w: %q is not an allowed key id", ErrUnknownKey, clip(h.KeyID))
	}
	ct, enc := env.sizes()
	if ct > l.maxCiphertext() {
		return fmt.Errorf("%w: ciphertext is %d bytes, limit %d", ErrTooLarge, ct, l.maxCiphertext())
	}
	if enc > l.maxKEM() {
		return fmt.Errorf("%w: KEM encapsulation is %d bytes, limit %d", ErrTooLarge, enc, l.maxKEM())
	}
	return nil
}

// ValidateJSON parses data strictly (see [Parse]) and validates it (see
// [Validate]). Data far larger than the limits allow is refused with
// [ErrTooLarge] before it is decoded.
func ValidateJSON(data []byte, l Limits) (Sealed, error) {
	if len(data) > l.maxJSONBytes() {
		return nil, fmt.Errorf("%w: %d bytes of JSON", ErrTooLarge, len(data))
	}
	env, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if err := Validate(env, l); err != nil {
		return nil, err
	}
	return env, nil
}
