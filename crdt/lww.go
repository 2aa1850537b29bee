package crdt

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// LWWRegister is a last-writer-wins register holding one JSON value. Each
// write carries a marker, (HLC timestamp, client ID), and the write with
// the greater marker wins: timestamps first, then client IDs in byte order.
// Values are never compared, so the winner does not depend on content; and
// two states with the same marker but different values are refused with
// ErrConflict, because silently picking one would let replicas diverge.
//
// Its canonical encoding is {"by":"<clientID>","ts":"<HLC>","v":<value>}
// with the value in canonical JSON, or {} for a register never written.
//
// The zero value is an unwritten register. An LWWRegister is not safe for
// concurrent use.
//
// Markers are only as good as the clocks behind them: take timestamps from
// a Clock, and on a server pass a written register's timestamp through
// Clock.Update before merging, so a client whose clock runs far ahead is
// refused rather than allowed to win every later write.
type LWWRegister struct {
	value json.RawMessage // canonical JSON; nil when unwritten
	ts    HLC
	by    string
}

// DecodeLWWRegister decodes and validates an encoded LWW register. Empty
// input, JSON null and {} are the unwritten register.
func DecodeLWWRegister(data []byte, lim Limits) (*LWWRegister, error) {
	p, empty, err := newParser("decode LWW register", data, lim)
	if err != nil {
		return nil, err
	}
	r := &LWWRegister{}
	if empty {
		return r, nil
	}
	var hasTS bool
	err = p.object("", func(key string) error {
		switch key {
		case "by":
			return r.decodeBy(p)
		case "ts":
			hasTS = true
			return r.decodeTS(p)
		case "v":
			var e error
			r.value, e = p.value("/v")
			return e
		}
		return p.unknown("", key)
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	// All three fields or none: a value without a marker cannot be merged.
	written := r.value != nil
	if (r.by != "") != written || hasTS != written {
		return nil, p.fail(ErrMalformed, "", `a written register needs all of "by", "ts" and "v"`)
	}
	return r, nil
}

// decodeBy reads the "by" member.
func (r *LWWRegister) decodeBy(p *parser) error {
	by, err := p.str("/by", "a client ID")
	if err != nil {
		return err
	}
	if verr := p.checkID(by); verr != nil {
		return p.wrap(verr, "/by")
	}
	r.by = by
	return nil
}

// decodeTS reads the "ts" member.
func (r *LWWRegister) decodeTS(p *parser) error {
	s, err := p.str("/ts", "a timestamp")
	if err != nil {
		return err
	}
	if r.ts, err = ParseHLC(s); err != nil {
		return p.fail(ErrMalformed, "/ts", "%q is not an HLC timestamp", s)
	}
	return nil
}

// Kind returns KindLWWRegister.
func (r *LWWRegister) Kind() Kind { return KindLWWRegister }

// Encode returns the canonical JSON encoding.
func (r *LWWRegister) Encode() []byte {
	if r.value == nil {
		return []byte("{}")
	}
	dst := append([]byte(nil), `{"by":`...)
	dst = appendQuoted(dst, r.by)
	dst = append(dst, `,"ts":"`...)
	dst = append(dst, r.ts.String()...)
	dst = append(dst, `","v":`...)
	dst = append(dst, r.value...)
	return append(dst, '}')
}

// Read returns the current value in canonical JSON, or fallback if the
// register was never written.
func (r *LWWRegister) Read(fallback json.RawMessage) json.RawMessage {
	if r.value == nil {
		return fallback
	}
	return slices.Clone(r.value)
}

// Value returns the current value and whether the register was written.
func (r *LWWRegister) Value() (json.RawMessage, bool) {
	return slices.Clone(r.value), r.value != nil
}

// Marker returns the winning write's timestamp and client ID, and whether
// the register was written.
func (r *LWWRegister) Marker() (ts HLC, clientID string, ok bool) {
	return r.ts, r.by, r.value != nil
}

// Set records a write of value by clientID at ts. It is a merge with a
// one-write register: if the register already holds a greater marker the
// write loses and nothing changes; the same marker with a different value
// is ErrConflict. value must be valid JSON (ErrMalformed otherwise); it is
// stored in canonical form. (Seed: lwwSet.)
func (r *LWWRegister) Set(clientID string, value json.RawMessage, ts HLC) error {
	const op = "set LWW register"
	if err := checkClientID(op, clientID); err != nil {
		return err
	}
	if !ts.Valid() {
		return newError(ErrInvalidArgument, op, "", "timestamp wall %d out of range", ts.Wall)
	}
	canon, err := canonicalArg(op, value)
	if err != nil {
		return err
	}
	return r.merge(op, &LWWRegister{value: canon, ts: ts, by: clientID})
}

// Merge folds other into r: the greater marker wins. The same marker with
// different values returns ErrConflict and leaves r unchanged. Merge is
// commutative, associative and idempotent over conflict-free states.
func (r *LWWRegister) Merge(other *LWWRegister) error {
	return r.merge("merge LWW register", other)
}

func (r *LWWRegister) merge(op string, other *LWWRegister) error {
	if other.value == nil {
		return nil
	}
	if r.value == nil {
		*r = *other.Clone()
		return nil
	}
	switch c := compareMarkers(other, r); {
	case c > 0:
		*r = *other.Clone()
	case c == 0 && !bytes.Equal(r.value, other.value):
		return newError(ErrConflict, op, "", "marker (%s, %q) carries two different values", r.ts, r.by)
	}
	return nil
}

// compareMarkers orders two written registers by (timestamp, client ID).
func compareMarkers(a, b *LWWRegister) int {
	if c := a.ts.Compare(b.ts); c != 0 {
		return c
	}
	return strings.Compare(a.by, b.by)
}

// checkSize has nothing to check: a merged register is one of its inputs,
// which were checked when decoded.
func (r *LWWRegister) checkSize(string, Limits) error { return nil }

// Clone returns an independent copy.
func (r *LWWRegister) Clone() *LWWRegister {
	return &LWWRegister{value: slices.Clone(r.value), ts: r.ts, by: r.by}
}

// MarshalJSON returns the canonical encoding.
func (r *LWWRegister) MarshalJSON() ([]byte, error) { return r.Encode(), nil }

// UnmarshalJSON decodes with DefaultLimits.
func (r *LWWRegister) UnmarshalJSON(data []byte) error {
	d, err := DecodeLWWRegister(data, Limits{})
	if err != nil {
		return err
	}
	*r = *d
	return nil
}
