// Package envelope encrypts single database cells (one column of one row)
// into self-describing JSON envelopes that are bound to that cell.
//
// # Suites
//
// Two real suites exist:
//
//   - [SuiteAES256GCM]: AES-256-GCM with a random 96-bit nonce, under a
//     per-cell subkey derived with HKDF-SHA256 from a 32-byte [Key] and the
//     cell's AAD. Use [Seal], [Open] or a [Keyset].
//   - [SuiteMLKEM768X25519]: HPKE (RFC 9180) with the ML-KEM-768 + X25519
//     hybrid KEM (X-Wing), HKDF-SHA256 and AES-256-GCM, from the standard
//     library's crypto/hpke. Use [SealPQ] and [OpenPQ] with a
//     [PQHybridProvider] such as [NewHPKEProvider].
//
// [SuiteInsecurePlaceholder] is for staging only (see
// [NewInsecurePlaceholderProvider]) and is refused by [Validate] unless listed
// in [Limits.AllowedSuites].
//
// # Cell binding
//
// Every envelope is sealed with associated data built by [AAD]: a canonical,
// length-prefixed encoding of (envelope version, table, rowId, column, key id,
// suite). Moving a ciphertext to another row, column or table, or relabelling
// its key id, suite or version, makes [Open] and [OpenPQ] fail. The envelope also states in clear the cell it claims to belong
// to, so that a server that holds no key can still refuse, with [CheckCell],
// an envelope written to a cell other than the one it names. A client that
// lies in that claim gains nothing: the claim is not what decryption
// authenticates, the AAD is, so a relabelled envelope fails to open.
//
// # Nonce limits and rotation
//
// With random 96-bit nonces a single AES-GCM key must not encrypt more than
// about 2^32 messages, or the chance of a repeated nonce (which breaks both
// confidentiality and integrity) stops being negligible. This package never
// encrypts under the [Key] itself: each cell gets its own subkey,
// HKDF-SHA256(key, AAD), so the 2^32 budget applies to the writes of one
// cell under one key id, a number no application approaches. [Keyset]
// rotation (a new primary key for new writes, older keys kept for decryption
// only) bounds it further and limits the damage of a leaked key. PQ envelopes
// use a fresh HPKE key exchange per envelope and have no such limit.
//
// AES-GCM is not key-committing: a ciphertext could in principle be crafted
// to decrypt under two different keys. Keys are therefore looked up only by
// the key id that the AAD authenticates, never by trial decryption.
//
// # Wire format
//
// An AES envelope is
//
//	{"v":1,"suite":"aes256gcm-hkdfsha256","keyId":"k1",
//	 "cell":{"table":"todos","rowId":"r1","column":"note"},
//	 "nonce":"<base64, 12 bytes>","ct":"<base64, ciphertext and 16-byte tag>"}
//
// and a PQ envelope replaces "nonce" with "enc", the KEM encapsulation
// (1120 bytes for X-Wing). Base64 is standard, padded and canonical. Decoding
// is strict: unknown or duplicate fields, wrong types, bad base64, wrong
// lengths, invalid UTF-8 and trailing data are all errors. Errors are the
// exported sentinels (such as [ErrMalformed] or [ErrAuth]), to be matched
// with errors.Is.
package envelope
