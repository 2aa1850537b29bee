package envelope

import "errors"

// Errors returned by this package. They are wrapped with details; match them
// with errors.Is.
var (
	// ErrMalformed reports an envelope or key that is not well formed: bad
	// JSON, unknown or duplicate fields, wrong types, bad base64, wrong
	// lengths or an invalid cell or key id.
	ErrMalformed = errors.New("envelope: malformed envelope")

	// ErrTruncated reports an envelope cut short: JSON that ends early, or a
	// ciphertext or KEM encapsulation shorter than its suite requires.
	// errors.Is(err, ErrMalformed) also holds for it.
	ErrTruncated error = &subError{"envelope: truncated envelope", ErrMalformed}

	// ErrTooLarge reports an envelope over one of the [Limits].
	ErrTooLarge = errors.New("envelope: envelope too large")

	// ErrUnsupportedVersion reports an envelope version this package does
	// not know.
	ErrUnsupportedVersion = errors.New("envelope: unsupported envelope version")

	// ErrUnsupportedSuite reports an unknown suite, a suite not allowed by
	// the [Limits], or a suite that does not match the key or provider.
	ErrUnsupportedSuite = errors.New("envelope: unsupported suite")

	// ErrUnknownKey reports a key id that the keyset, the given key or the
	// [Limits] do not know.
	ErrUnknownKey = errors.New("envelope: unknown key id")

	// ErrInvalidKey reports unusable key material: an all-zero secret, an
	// empty key id, or bytes that do not parse as a key of the suite.
	ErrInvalidKey = errors.New("envelope: invalid key")

	// ErrInvalidCell reports a [Cell] with an empty, oversized or non-UTF-8
	// field.
	ErrInvalidCell = errors.New("envelope: invalid cell")

	// ErrCellMismatch reports an envelope whose claimed cell is not the cell
	// it is being written to or read from.
	ErrCellMismatch = errors.New("envelope: envelope belongs to another cell")

	// ErrAuth reports that decryption failed: the ciphertext, nonce, KEM
	// encapsulation or any AAD field was altered, or the key is wrong.
	ErrAuth = errors.New("envelope: decryption failed")

	// ErrInsecureProvider reports an attempt to construct the insecure
	// placeholder provider without opting in.
	ErrInsecureProvider = errors.New("envelope: insecure placeholder provider requires explicit opt-in")
)

// subError is a sentinel that is also its parent under errors.Is, so that
// callers who only check the broader error still catch it.
type subError struct {
	msg    string
	parent error
}

func (e *subError) Error() string { return e.msg }
func (e *subError) Unwrap() error { return e.parent }
