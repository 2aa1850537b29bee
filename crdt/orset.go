package crdt

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
)

// ORSet is an observed-remove set of JSON values with add-wins semantics:
// a remove deletes only the adds it has observed, so an add concurrent
// with a remove of the same value survives the merge.
//
// It uses the optimised design without tombstones (ORSWOT, Bieniusa et al.
// 2012, as in riak_dt and rust-crdt). The set keeps a version vector
// counting, per client, the adds it has seen; each live element keeps its
// "dots", the (client, counter) events that added it and that no one has
// removed since. Remove just deletes the element; a replica that still has
// it learns of the removal on merge because its dots are covered by the
// other side's version vector but absent there. The state therefore grows
// with live elements x clients, never with history.
//
// Its canonical encoding is
//
//	{"e":[{"d":{"<clientID>":"<n>",...},"v":<value>},...],"vv":{"<clientID>":"<n>",...}}
//
// with elements sorted by the bytes of their canonical JSON value, maps by
// client ID, counters as decimal strings.
//
// Only full states are merged, so every remove's context is the remover's
// whole version vector and no deferred removes are needed. A delta carrying
// a remove would need one: build such writes as full states.
//
// The zero value is an empty set, ready to use. An ORSet is not safe for
// concurrent use.
type ORSet struct {
	vv    map[string]int64 // adds seen per client; no zero entries
	elems map[string][]dot // canonical value -> dots sorted by client
}

// dot is one add event: the client's n-th add.
type dot struct {
	client string
	n      int64
}

// DecodeORSet decodes and validates an encoded OR-set. Empty input or JSON
// null is the empty set. Besides the shape, it checks the invariants merge
// relies on: every dot is covered by the version vector, no dot belongs to
// two elements, and no value appears twice.
func DecodeORSet(data []byte, lim Limits) (*ORSet, error) {
	p, empty, err := newParser("decode OR-set", data, lim)
	if err != nil {
		return nil, err
	}
	s := &ORSet{}
	if empty {
		return s, nil
	}
	var elems []decodedElem
	err = p.object("", func(key string) error {
		var e error
		switch key {
		case "vv":
			s.vv, e = p.counts("/vv")
		case "e":
			elems, e = decodeElems(p)
		default:
			e = p.unknown("", key)
		}
		return e
	})
	if err == nil {
		err = p.end()
	}
	if err == nil {
		err = s.setElems(p, elems)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// decodedElem is an element as read, before the invariants are checked.
type decodedElem struct {
	value string
	dots  []dot
}

// decodeElems reads the "e" array.
func decodeElems(p *parser) ([]decodedElem, error) {
	var elems []decodedElem
	err := p.array("/e", func(i int) error {
		if i >= p.lim.MaxElements {
			return p.fail(ErrTooLarge, "/e", "more than MaxElements (%d) elements", p.lim.MaxElements)
		}
		el, err := decodeElem(p)
		if err != nil {
			return atElem(err, i)
		}
		elems = append(elems, el)
		return nil
	})
	return elems, err
}

// decodeElem reads one {"d":{...},"v":value} element. Error paths are
// relative to the element; the caller prefixes them, so no path string is
// built for elements that decode.
func decodeElem(p *parser) (decodedElem, error) {
	var el decodedElem
	var hasValue bool
	err := p.object("", func(key string) error {
		var err error
		switch key {
		case "d":
			el.dots, err = p.dots("/d")
		case "v":
			var v []byte
			v, err = p.value("/v")
			el.value, hasValue = string(v), true
		default:
			err = p.unknown("", key)
		}
		return err
	})
	switch {
	case err != nil:
		return el, err
	case !hasValue:
		return el, p.fail(ErrMalformed, "", `element without "v"`)
	case len(el.dots) == 0:
		return el, p.fail(ErrMalformed, "", "element without dots")
	}
	return el, nil
}

// atElem prefixes the path of an error found in element i.
func atElem(err error, i int) error {
	if e, ok := err.(*Error); ok {
		e.Path = index("/e", i) + e.Path
	}
	return err
}

// setElems checks the decoded elements against the version vector and
// against each other, then stores them.
func (s *ORSet) setElems(p *parser, elems []decodedElem) error {
	s.elems = make(map[string][]dot, len(elems))
	owner := make(map[dot]int, len(elems)) // which element holds each dot
	for i, el := range elems {
		if _, dup := s.elems[el.value]; dup {
			return p.fail(ErrMalformed, index("/e", i), "value appears twice")
		}
		for _, d := range el.dots {
			if d.n > s.vv[d.client] {
				return p.fail(ErrMalformed, pointer(index("/e", i)+"/d", d.client),
					"dot %d is beyond the version vector (%d)", d.n, s.vv[d.client])
			}
			if j, dup := owner[d]; dup {
				return p.fail(ErrMalformed, pointer(index("/e", i)+"/d", d.client),
					"dot %d also belongs to /e/%d", d.n, j)
			}
			owner[d] = i
		}
		s.elems[el.value] = el.dots
	}
	return nil
}

// Kind returns KindORSet.
func (s *ORSet) Kind() Kind { return KindORSet }

// Encode returns the canonical JSON encoding.
func (s *ORSet) Encode() []byte {
	dst := append([]byte(nil), `{"e":[`...)
	for i, v := range sortedKeys(s.elems) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"d":{`...)
		for j, d := range s.elems[v] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendQuoted(dst, d.client)
			dst = append(dst, ':', '"')
			dst = strconv.AppendInt(dst, d.n, 10)
			dst = append(dst, '"')
		}
		dst = append(dst, `},"v":`...)
		dst = append(dst, v...)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"vv":`...)
	dst = appendCounts(dst, s.vv)
	return append(dst, '}')
}

// Values returns the elements in canonical JSON, sorted by their bytes.
// (Seed: orSetValues.)
func (s *ORSet) Values() []json.RawMessage {
	keys := sortedKeys(s.elems)
	out := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		out[i] = json.RawMessage(k)
	}
	return out
}

// Len returns the number of elements.
func (s *ORSet) Len() int { return len(s.elems) }

// Has reports whether value (any JSON spelling of it) is in the set. Input
// that is not valid JSON is in no set.
func (s *ORSet) Has(value json.RawMessage) bool {
	key, err := canonicalArg("", value)
	if err != nil {
		return false
	}
	_, ok := s.elems[string(key)]
	return ok
}

// Clients returns the IDs of the clients in the version vector (every
// client that has added to the set), in byte order.
func (s *ORSet) Clients() []string { return sortedKeys(s.vv) }

// Add inserts value on behalf of clientID: the client's counter in the
// version vector moves on, and the element's dots become that one new dot,
// which replaces (and so covers) every add of it seen so far. value must be
// valid JSON (ErrMalformed otherwise). (Seed: orSetAdd.)
func (s *ORSet) Add(clientID string, value json.RawMessage) error {
	const op = "add to OR-set"
	if err := checkClientID(op, clientID); err != nil {
		return err
	}
	key, err := canonicalArg(op, value)
	if err != nil {
		return err
	}
	n := s.vv[clientID]
	if n == math.MaxInt64 {
		return newError(ErrOverflow, op, "", "client %q has made MaxInt64 adds", clientID)
	}
	if s.vv == nil {
		s.vv = make(map[string]int64)
	}
	if s.elems == nil {
		s.elems = make(map[string][]dot)
	}
	s.vv[clientID] = n + 1
	s.elems[string(key)] = []dot{{clientID, n + 1}}
	return nil
}

// Remove deletes value (any JSON spelling of it) and reports whether it
// was present. Only the adds this replica has seen are removed: a
// concurrent add elsewhere wins on merge.
func (s *ORSet) Remove(value json.RawMessage) bool {
	key, err := canonicalArg("", value)
	if err != nil {
		return false
	}
	if _, ok := s.elems[string(key)]; !ok {
		return false
	}
	delete(s.elems, string(key))
	return true
}

// Merge folds other into s. An element survives with the dots both sides
// share, plus those of each side that the other side has not seen (a dot
// the other side has seen but lacks was removed there). The version vector
// becomes the pointwise maximum. Merge is commutative, associative and
// idempotent.
func (s *ORSet) Merge(other *ORSet) {
	// Elements only in other: keep the dots s has not seen. Computed before
	// s changes, because it reads s's version vector and membership.
	type pending struct {
		key  string
		dots []dot
	}
	var added []pending
	for key, b := range other.elems {
		if _, inS := s.elems[key]; !inS {
			if kept := mergeDots(nil, s.vv, b, other.vv); len(kept) > 0 {
				added = append(added, pending{key, kept})
			}
		}
	}
	for key, a := range s.elems { // deleting while ranging is allowed
		if kept := mergeDots(a, s.vv, other.elems[key], other.vv); len(kept) > 0 {
			s.elems[key] = kept
		} else {
			delete(s.elems, key)
		}
	}
	if s.elems == nil && len(added) > 0 {
		s.elems = make(map[string][]dot, len(added))
	}
	for _, p := range added {
		s.elems[p.key] = p.dots
	}
	for id, n := range other.vv {
		if n > s.vv[id] {
			if s.vv == nil {
				s.vv = make(map[string]int64, len(other.vv))
			}
			s.vv[id] = n
		}
	}
}

// mergeDots merges one element's dots, a from a state with version vector
// avv and b from one with bvv (either may be nil: absent on that side).
// Both are sorted by client with at most one dot per client. The result is
// a itself when nothing changes, else a fresh slice: dot slices are never
// modified in place, so states may share them.
func mergeDots(a []dot, avv map[string]int64, b []dot, bvv map[string]int64) []dot {
	if slices.Equal(a, b) {
		return a
	}
	out := make([]dot, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].client < b[j].client):
			if a[i].n > bvv[a[i].client] { // b never saw this add
				out = append(out, a[i])
			}
			i++
		case i == len(a) || b[j].client < a[i].client:
			if b[j].n > avv[b[j].client] {
				out = append(out, b[j])
			}
			j++
		default: // same client on both sides
			if d, ok := mergeDot(a[i], avv, b[j], bvv); ok {
				out = append(out, d)
			}
			i++
			j++
		}
	}
	return out
}

// mergeDot merges two dots of the same client for the same element. A
// shared dot stays; otherwise a dot stays only if the other side has not
// seen it. In valid states at most one of two different dots survives; the
// larger is taken if both do, which keeps merge commutative even then.
func mergeDot(x dot, xvv map[string]int64, y dot, yvv map[string]int64) (dot, bool) {
	keepX := x.n == y.n || x.n > yvv[x.client]
	keepY := x.n != y.n && y.n > xvv[y.client]
	switch {
	case keepX && keepY:
		return dot{x.client, max(x.n, y.n)}, true
	case keepX:
		return x, true
	case keepY:
		return y, true
	}
	return dot{}, false
}

// Clone returns an independent copy.
func (s *ORSet) Clone() *ORSet {
	// A shallow copy of elems is enough: dot slices are never modified in
	// place.
	return &ORSet{vv: maps.Clone(s.vv), elems: maps.Clone(s.elems)}
}

// checkSize reports a merged state with more clients or elements than lim
// allows.
func (s *ORSet) checkSize(op string, lim Limits) error {
	if err := checkClients(op, "/vv", len(s.vv), lim); err != nil {
		return err
	}
	if len(s.elems) > lim.MaxElements {
		return newError(ErrTooLarge, op, "/e", "%d elements exceed MaxElements %d", len(s.elems), lim.MaxElements)
	}
	return nil
}

// MarshalJSON returns the canonical encoding.
func (s *ORSet) MarshalJSON() ([]byte, error) { return s.Encode(), nil }

// UnmarshalJSON decodes with DefaultLimits.
func (s *ORSet) UnmarshalJSON(data []byte) error {
	d, err := DecodeORSet(data, Limits{})
	if err != nil {
		return err
	}
	*s = *d
	return nil
}
