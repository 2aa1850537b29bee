package envelope

// Sealed is either kind of envelope: *[Envelope] or *[PQEnvelope]. It is what
// [Parse] returns and what [Validate] and [CheckCell] accept, so a server
// that holds no key can handle both kinds alike. Use a type switch to tell
// them apart.
type Sealed interface {
	// Header returns the clear-text fields.
	Header() Header

	check() error
	sizes() (ciphertext, kemCiphertext int)
}

var (
	_ Sealed = (*Envelope)(nil)
	_ Sealed = (*PQEnvelope)(nil)
)

// isNil reports a nil interface or a nil pointer inside one.
func isNil(s Sealed) bool {
	switch e := s.(type) {
	case nil:
		return true
	case *Envelope:
		return e == nil
	case *PQEnvelope:
		return e == nil
	}
	return false
}
