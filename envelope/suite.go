package envelope

// Version is the envelope format version written by this package and the
// only one it accepts.
const Version = 1

// Suite names the algorithms of an envelope. It is written to the envelope
// and bound into the AAD, so relabelling an envelope's suite (for example to
// strip the post-quantum layer) makes it fail to open.
type Suite string

// The suites this package knows.
const (
	// SuiteAES256GCM is AES-256-GCM with a random 96-bit nonce under a
	// per-cell subkey HKDF-SHA256(key, AAD).
	SuiteAES256GCM Suite = "aes256gcm-hkdfsha256"

	// SuiteMLKEM768X25519 is HPKE base mode with the ML-KEM-768 + X25519
	// hybrid KEM (X-Wing, KEM id 0x647a), HKDF-SHA256 and AES-256-GCM.
	SuiteMLKEM768X25519 Suite = "hpke-mlkem768x25519-hkdfsha256-aes256gcm"

	// SuiteInsecurePlaceholder is HPKE with classical DHKEM(X25519),
	// HKDF-SHA256 and AES-256-GCM. It is not post-quantum: a recording of
	// today's traffic could be decrypted by a future quantum computer. It
	// exists only so staging systems can exercise the PQ code path.
	SuiteInsecurePlaceholder Suite = "insecure-placeholder-hpke-x25519"
)

// Sizes fixed by the algorithms.
const (
	// KeySize is the size of a symmetric [Key] secret.
	KeySize = 32
	// NonceSize is the AES-GCM nonce size.
	NonceSize = 12
	// TagSize is the AES-GCM authentication tag size; every ciphertext is
	// at least this long.
	TagSize = 16
)

// suiteInfo describes how a suite's envelopes are shaped.
type suiteInfo struct {
	pq      bool // a PQEnvelope (KEM encapsulation) rather than an Envelope (nonce)
	encSize int  // the exact KEM encapsulation size of a PQ suite
}

var suites = map[Suite]suiteInfo{
	SuiteAES256GCM:           {},
	SuiteMLKEM768X25519:      {pq: true, encSize: 1088 + 32}, // ML-KEM-768 ciphertext ‖ X25519 share
	SuiteInsecurePlaceholder: {pq: true, encSize: 32},
}

// defaultSuites are the suites Validate accepts when Limits.AllowedSuites is
// empty: never the placeholder.
var defaultSuites = []Suite{SuiteAES256GCM, SuiteMLKEM768X25519}
