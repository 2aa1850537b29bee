// Package crdt implements the state-based CRDTs that back plasma's CRDT
// columns: a grow-only counter (GCounter), an increment/decrement counter
// (PNCounter), a last-writer-wins register of any JSON value (LWWRegister)
// and an add-wins observed-remove set of JSON values (ORSet), plus a hybrid
// logical clock (HLC, Clock) for register timestamps.
//
// It is pure Go with no I/O. Every state has one canonical JSON encoding —
// keys in a fixed order, maps sorted, counters as decimal strings so that
// JavaScript clients never lose precision past 2^53 — so equal states
// encode to identical bytes and can be compared, hashed and diffed as
// bytes.
//
// # Merging
//
// Each type's Merge is a join: commutative, associative and idempotent, so
// replicas that exchange states in any order, any number of times,
// converge to the same state. A column write stores the merge of the
// stored and written states; the generic entry points do that for the ORM
// without it knowing the types:
//
//	merged, err := crdt.Merge(crdt.KindCounter, stored, written, crdt.Limits{})
//
// along with Validate, Canonical, Decode and Empty.
//
// # Validation
//
// Decoders never panic and never trust their input: wrong shapes, unknown
// or duplicate keys, counts that are negative, non-canonical or beyond
// int64, empty client IDs, inconsistent OR-set dots and inputs beyond the
// caps in Limits all give an *Error wrapping ErrMalformed, ErrTooLarge or
// ErrOverflow. LWW states with the same marker but different values give
// ErrConflict. Empty input and JSON null decode as the empty state of every
// kind, since that is what a NULL column holds.
//
// # JSON values
//
// Register values and set elements are kept in canonical JSON (see
// CanonicalJSON): no whitespace, object keys sorted by their UTF-8 bytes,
// minimal string escapes, integers kept digit for digit, other numbers
// printed as JavaScript prints doubles. Two spellings of the same value
// ({"a":1, "b":2.0} and {"b":2,"a":1}) are therefore the same element.
//
// # Names
//
// The TypeScript seed's functions map to methods:
//
//	sumCrdtCounter    (*GCounter).Read
//	mergeCrdtCounter  (*GCounter).Merge, or Merge(KindCounter, ...)
//	crdtIncrement     (*GCounter).Increment
//	pnRead            (*PNCounter).Read
//	lwwSet            (*LWWRegister).Set
//	orSetAdd          (*ORSet).Add
//	orSetValues       (*ORSet).Values
//
// and the rest follow the same pattern: (*PNCounter).Increment, Decrement
// and Merge; (*LWWRegister).Read and Merge; (*ORSet).Has, Remove and
// Merge. The seed's column kinds crdtCounter, crdtPnCounter,
// crdtLwwRegister and crdtOrSet are KindCounter, KindPNCounter,
// KindLWWRegister and KindORSet.
//
// Every type also has DecodeX(data, lim), Encode, Clone, and MarshalJSON /
// UnmarshalJSON (with DefaultLimits). The zero value of each type is its
// empty state.
//
// # Writing
//
// A write must be built on the latest state the writer has seen, never
// from scratch: a client's G-counter entry is its running total, so an
// increment writes stored total + delta (what the ORM's Increment helper
// does), and an OR-set add takes the next counter after the client's
// version vector entry. A client that reuses its ID with a fresh state
// loses the writes that fall below what it had already published.
//
// # Growth
//
// Counters and OR-set version vectors keep one entry per client that ever
// wrote, so they grow with the number of devices, not with the number of
// operations. Entries must not simply be deleted to compact them: that is
// only safe for a retired client once every replica has seen its final
// value.
package crdt
