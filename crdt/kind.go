package crdt

import "strconv"

// Kind names a CRDT type, as a CRDT column declares it.
type Kind uint8

// The CRDT kinds. The zero Kind is invalid.
const (
	KindCounter     Kind = iota + 1 // grow-only counter, GCounter (seed: crdtCounter)
	KindPNCounter                   // increment/decrement counter, PNCounter (seed: crdtPnCounter)
	KindLWWRegister                 // last-writer-wins register, LWWRegister (seed: crdtLwwRegister)
	KindORSet                       // add-wins observed-remove set, ORSet (seed: crdtOrSet)
)

// String returns the kind's name, e.g. "PNCounter".
func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "Counter"
	case KindPNCounter:
		return "PNCounter"
	case KindLWWRegister:
		return "LWWRegister"
	case KindORSet:
		return "ORSet"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool { return k >= KindCounter && k <= KindORSet }

// State is implemented by *GCounter, *PNCounter, *LWWRegister and *ORSet.
type State interface {
	// Kind returns the state's kind.
	Kind() Kind
	// Encode returns the canonical JSON encoding: equal states give
	// identical bytes.
	Encode() []byte

	// checkSize checks the caps that merge can grow past.
	checkSize(op string, lim Limits) error
}

// Decode decodes and validates a state of the given kind. Empty input and
// JSON null decode as the empty state.
func Decode(kind Kind, data []byte, lim Limits) (State, error) {
	switch kind {
	case KindCounter:
		return nonNil(DecodeGCounter(data, lim))
	case KindPNCounter:
		return nonNil(DecodePNCounter(data, lim))
	case KindLWWRegister:
		return nonNil(DecodeLWWRegister(data, lim))
	case KindORSet:
		return nonNil(DecodeORSet(data, lim))
	}
	return nil, badKind("decode", kind)
}

// nonNil converts a typed decoder result to a State without turning a nil
// pointer into a non-nil interface.
func nonNil[S State](s S, err error) (State, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Validate reports whether data is a valid state of the given kind within
// lim; the error says what is wrong and wraps ErrMalformed, ErrTooLarge or
// ErrOverflow.
func Validate(kind Kind, data []byte, lim Limits) error {
	_, err := Decode(kind, data, lim)
	return err
}

// Canonical validates data and returns its canonical encoding, what a new
// row's CRDT column should store.
func Canonical(kind Kind, data []byte, lim Limits) ([]byte, error) {
	s, err := Decode(kind, data, lim)
	if err != nil {
		return nil, err
	}
	return s.Encode(), nil
}

// Empty returns the canonical encoding of the kind's empty state, or nil
// for an invalid kind.
func Empty(kind Kind) []byte {
	switch kind {
	case KindCounter:
		return new(GCounter).Encode()
	case KindPNCounter:
		return new(PNCounter).Encode()
	case KindLWWRegister:
		return new(LWWRegister).Encode()
	case KindORSet:
		return new(ORSet).Encode()
	}
	return nil
}

// Merge decodes two states of the given kind, merges them and returns the
// canonical encoding of the result. It is what a write to a CRDT column
// stores: merge(stored, written), never a blind overwrite. Either input may
// be empty (a NULL column). Both inputs and the result are checked against
// lim. The result does not depend on the argument order, and merging a
// state into itself returns its canonical form.
func Merge(kind Kind, stored, written []byte, lim Limits) ([]byte, error) {
	lim = lim.withDefaults()
	a, err := Decode(kind, stored, lim)
	if err != nil {
		return nil, err
	}
	b, err := Decode(kind, written, lim)
	if err != nil {
		return nil, err
	}
	op := "merge " + kind.String()
	if err := mergeStates(a, b); err != nil {
		return nil, err
	}
	if err := a.checkSize(op, lim); err != nil {
		return nil, err
	}
	out := a.Encode()
	if len(out) > lim.MaxStateBytes {
		return nil, newError(ErrTooLarge, op, "", "merged state of %d bytes exceeds MaxStateBytes %d", len(out), lim.MaxStateBytes)
	}
	return out, nil
}

// mergeStates merges b into a; both have the same concrete type.
func mergeStates(a, b State) error {
	switch a := a.(type) {
	case *GCounter:
		return a.Merge(b.(*GCounter))
	case *PNCounter:
		return a.Merge(b.(*PNCounter))
	case *LWWRegister:
		return a.Merge(b.(*LWWRegister))
	case *ORSet:
		a.Merge(b.(*ORSet))
		return nil
	}
	return badKind("merge", a.Kind())
}

// badKind is the error for a Kind outside the four.
func badKind(op string, k Kind) error {
	return newError(ErrInvalidArgument, op, "", "unknown CRDT kind %s", k)
}
