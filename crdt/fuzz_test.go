package crdt

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// Fuzz targets: decoders never panic, every failure is a typed *Error, and
// decode -> encode -> decode is stable (the encoding is a fixed point and
// merging a state with itself changes nothing). Run one with, e.g.,
//
//	go test ./crdt/ -run '^$' -fuzz FuzzDecodeORSet -fuzztime 30s

// fuzzSeeds adds the valid and malformed table inputs of one kind.
func fuzzSeeds(f *testing.F, kind Kind) {
	for _, c := range validStates {
		if c.kind == kind {
			f.Add([]byte(c.in))
			f.Add([]byte(c.want))
		}
	}
	for _, c := range malformed {
		if c.kind == kind {
			f.Add([]byte(c.in))
		}
	}
	f.Add(Empty(kind))
}

// checkDecodeStable is the body shared by the decoder fuzz targets.
func checkDecodeStable(t *testing.T, kind Kind, data []byte) {
	s, err := Decode(kind, data, Limits{})
	if err != nil {
		checkTypedError(t, err)
		return
	}
	enc := s.Encode()
	if !json.Valid(enc) {
		t.Fatalf("encoding is not JSON: %q", enc)
	}
	again, err := Decode(kind, enc, Limits{})
	if err != nil {
		t.Fatalf("canonical form %s does not decode: %v", enc, err)
	}
	if enc2 := again.Encode(); !bytes.Equal(enc, enc2) {
		t.Fatalf("unstable encoding:\n%s\n%s", enc, enc2)
	}
	if self, err := Merge(kind, data, enc, Limits{}); err != nil || !bytes.Equal(self, enc) {
		t.Fatalf("merge with itself = %s, %v; want %s", self, err, enc)
	}
}

// checkTypedError requires an *Error wrapping one of the decode sentinels.
func checkTypedError(t *testing.T, err error) {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not *Error: %v", err, err)
	}
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrOverflow) {
		t.Fatalf("unexpected sentinel: %v", err)
	}
}

func FuzzDecodeGCounter(f *testing.F) {
	fuzzSeeds(f, KindCounter)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeStable(t, KindCounter, data) })
}

func FuzzDecodePNCounter(f *testing.F) {
	fuzzSeeds(f, KindPNCounter)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeStable(t, KindPNCounter, data) })
}

func FuzzDecodeLWWRegister(f *testing.F) {
	fuzzSeeds(f, KindLWWRegister)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeStable(t, KindLWWRegister, data) })
}

func FuzzDecodeORSet(f *testing.F) {
	fuzzSeeds(f, KindORSet)
	f.Add([]byte(`{"e":[{"d":{"a":"1","b":"2"},"v":{"k":[1,2.50,"\u0000"]}}],"vv":{"a":"1","b":"2"}}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeStable(t, KindORSet, data) })
}

func FuzzParseHLC(f *testing.F) {
	for _, s := range []string{"001732550400000-00003", "999999999999999-65535", "1-1", "001732550400000-65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseHLC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if ts.String() != s {
			t.Fatalf("ParseHLC(%q).String() = %q", s, ts)
		}
	})
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range sampleValues {
		f.Add([]byte(s))
	}
	for _, s := range []string{`1e21`, `-0.0`, `1.5E-7`, `"\ud800"`, `{"a":{"a":[]}}`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := CanonicalJSON(data, Limits{})
		if err != nil {
			checkTypedError(t, err)
			return
		}
		// Differential check against encoding/json: only valid JSON is
		// accepted, and the canonical form means the same thing.
		if !json.Valid(data) || !json.Valid(out) {
			t.Fatalf("accepted invalid JSON %q -> %q", data, out)
		}
		var before, after any
		if json.Unmarshal(data, &before) != nil || json.Unmarshal(out, &after) != nil || !reflect.DeepEqual(before, after) {
			t.Fatalf("meaning changed: %q -> %q", data, out)
		}
		again, err := CanonicalJSON(out, Limits{})
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("not a fixed point: %s -> %s, %v", out, again, err)
		}
	})
}

// FuzzMerge checks that the generic Merge never panics and does not depend
// on argument order, for two arbitrary inputs of any kind.
func FuzzMerge(f *testing.F) {
	for _, c := range validStates {
		f.Add(uint8(c.kind), []byte(c.in), []byte(c.want))
	}
	f.Add(uint8(KindORSet), []byte(`{"e":[{"d":{"a":"1"},"v":"x"}],"vv":{"a":"1"}}`),
		[]byte(`{"e":[{"d":{"b":"1"},"v":"x"}],"vv":{"a":"1","b":"1"}}`))
	f.Add(uint8(KindLWWRegister), []byte(`{"by":"a","ts":"000000000000001-00000","v":1}`),
		[]byte(`{"by":"a","ts":"000000000000001-00000","v":2}`))
	f.Fuzz(func(t *testing.T, k uint8, a, b []byte) {
		kind := Kind(k%4 + 1)
		ab, errAB := Merge(kind, a, b, Limits{})
		ba, errBA := Merge(kind, b, a, Limits{})
		if (errAB == nil) != (errBA == nil) {
			t.Fatalf("order-dependent failure: %v vs %v", errAB, errBA)
		}
		if errAB == nil && !bytes.Equal(ab, ba) {
			t.Fatalf("not commutative: %s vs %s", ab, ba)
		}
	})
}
