package crdt

import (
	"encoding/json"
	"errors"
	"testing"
)

func mustSet(t *testing.T, r *LWWRegister, id, v string, ts HLC) {
	t.Helper()
	if err := r.Set(id, json.RawMessage(v), ts); err != nil {
		t.Fatalf("Set(%q, %s, %s): %v", id, v, ts, err)
	}
}

func TestLWWLaterTimestampWins(t *testing.T) {
	var a, b LWWRegister
	mustSet(t, &a, "zed", `"old"`, HLC{Wall: 100})
	mustSet(t, &b, "amy", `"new"`, HLC{Wall: 100, Logical: 1})
	ab, ba := a.Clone(), b.Clone()
	if err := ab.Merge(&b); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(&a); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*LWWRegister{ab, ba} {
		if got := string(r.Read(nil)); got != `"new"` {
			t.Fatalf("Read = %s", got)
		}
	}
	// A write with an older marker loses, locally too.
	mustSet(t, ab, "zzz", `"late"`, HLC{Wall: 99})
	if got := string(ab.Read(nil)); got != `"new"` {
		t.Fatalf("after older Set: Read = %s", got)
	}
}

func TestLWWEqualTimestampsTieBrokenByClientID(t *testing.T) {
	ts := HLC{Wall: 1700000000000, Logical: 4}
	var a, b LWWRegister
	mustSet(t, &a, "client-b", `"from b"`, ts)
	mustSet(t, &b, "client-a", `"from a, which sorts first but loses"`, ts)
	ab, ba := a.Clone(), b.Clone()
	if err := ab.Merge(&b); err != nil {
		t.Fatal(err)
	}
	if err := ba.Merge(&a); err != nil {
		t.Fatal(err)
	}
	if string(ab.Encode()) != string(ba.Encode()) {
		t.Fatalf("diverged: %s vs %s", ab.Encode(), ba.Encode())
	}
	if got := string(ab.Read(nil)); got != `"from b"` {
		t.Fatalf("Read = %s; the greater client ID must win", got)
	}
	want := `{"by":"client-b","ts":"001700000000000-00004","v":"from b"}`
	if got := string(ab.Encode()); got != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
}

func TestLWWSameMarkerDifferentValueIsConflict(t *testing.T) {
	ts := HLC{Wall: 5}
	var a, b LWWRegister
	mustSet(t, &a, "c", `{"x":1}`, ts)
	mustSet(t, &b, "c", `{"x":2}`, ts)
	before := string(a.Encode())
	err := a.Merge(&b)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Merge: %v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Op == "" {
		t.Fatalf("not an *Error: %#v", err)
	}
	if string(a.Encode()) != before {
		t.Fatal("conflicting merge changed the state")
	}
	if err := a.Set("c", json.RawMessage(`{"x":3}`), ts); !errors.Is(err, ErrConflict) {
		t.Fatalf("Set: %v", err)
	}
	// The same value in another spelling is the same value: no conflict.
	if err := a.Set("c", json.RawMessage(` { "x" : 1.0 } `), ts); err != nil {
		t.Fatalf("Set same value: %v", err)
	}
	_, err = Merge(KindLWWRegister, a.Encode(), b.Encode(), Limits{})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("generic Merge: %v", err)
	}
}

func TestLWWReadFallbackAndNull(t *testing.T) {
	var r LWWRegister
	if got := string(r.Read(json.RawMessage(`"default"`))); got != `"default"` {
		t.Fatalf("unwritten Read = %s", got)
	}
	if _, ok := r.Value(); ok {
		t.Fatal("unwritten Value reports ok")
	}
	if string(r.Encode()) != "{}" {
		t.Fatalf("unwritten Encode = %s", r.Encode())
	}
	mustSet(t, &r, "a", `null`, HLC{Wall: 1})
	if got := string(r.Read(json.RawMessage(`"default"`))); got != "null" {
		t.Fatalf("null Read = %s; a written null is not 'unwritten'", got)
	}
	ts, by, ok := r.Marker()
	if !ok || by != "a" || ts != (HLC{Wall: 1}) {
		t.Fatalf("Marker = %v %q %v", ts, by, ok)
	}
	d, err := DecodeLWWRegister(r.Encode(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := d.Value(); !ok || string(v) != "null" {
		t.Fatalf("decoded Value = %s, %v", v, ok)
	}
}

func TestLWWSetErrors(t *testing.T) {
	var r LWWRegister
	if err := r.Set("", json.RawMessage(`1`), HLC{}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty client: %v", err)
	}
	if err := r.Set("a", json.RawMessage(`{`), HLC{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad JSON: %v", err)
	}
	if err := r.Set("a", json.RawMessage(`1 2`), HLC{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("two values: %v", err)
	}
	if err := r.Set("a", json.RawMessage(`1`), HLC{Wall: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad timestamp: %v", err)
	}
}
