package crdt

import (
	"errors"
	"strings"
	"testing"
)

func TestEmpty(t *testing.T) {
	want := map[Kind]string{
		KindCounter:     `{"c":{}}`,
		KindPNCounter:   `{"n":{},"p":{}}`,
		KindLWWRegister: `{}`,
		KindORSet:       `{"e":[],"vv":{}}`,
	}
	for _, k := range allKinds {
		if got := string(Empty(k)); got != want[k] {
			t.Errorf("Empty(%s) = %s, want %s", k, got, want[k])
		}
		if err := Validate(k, Empty(k), Limits{}); err != nil {
			t.Errorf("Validate(Empty(%s)): %v", k, err)
		}
		// Merging with nothing (a NULL column) gives the canonical empty state.
		if got, err := Merge(k, nil, nil, Limits{}); err != nil || string(got) != want[k] {
			t.Errorf("Merge(%s, nil, nil) = %s, %v", k, got, err)
		}
	}
	if Empty(0) != nil || Empty(99) != nil {
		t.Error("Empty of an invalid kind is not nil")
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range allKinds {
		if !k.Valid() || strings.HasPrefix(k.String(), "Kind(") {
			t.Errorf("%d: Valid=%v String=%s", k, k.Valid(), k)
		}
		s, err := Decode(k, nil, Limits{})
		if err != nil || s.Kind() != k {
			t.Errorf("Decode(%s).Kind() = %v, %v", k, s, err)
		}
	}
	if Kind(0).Valid() || Kind(0).String() != "Kind(0)" {
		t.Errorf("Kind(0): %v %s", Kind(0).Valid(), Kind(0))
	}
}

func TestMergeGeneric(t *testing.T) {
	got, err := Merge(KindCounter, []byte(`{"c":{"a":"2","b":"5"}}`), []byte(` {"c":{"a":"3"}} `), Limits{})
	if err != nil || string(got) != `{"c":{"a":"3","b":"5"}}` {
		t.Fatalf("Merge = %s, %v", got, err)
	}
	got, err = Merge(KindORSet,
		[]byte(`{"e":[{"d":{"a":"1"},"v":"x"}],"vv":{"a":"1"}}`),
		[]byte(`{"e":[{"d":{"b":"1"},"v":"y"}],"vv":{"a":"1","b":"1"}}`), Limits{})
	// The written state saw a1 and dropped x: x was removed.
	if err != nil || string(got) != `{"e":[{"d":{"b":"1"},"v":"y"}],"vv":{"a":"1","b":"1"}}` {
		t.Fatalf("Merge OR-set = %s, %v", got, err)
	}
}

func TestMergeErrors(t *testing.T) {
	if _, err := Merge(0, nil, nil, Limits{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad kind: %v", err)
	}
	if _, err := Decode(42, nil, Limits{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Decode bad kind: %v", err)
	}
	if _, err := Merge(KindCounter, []byte(`{"c":{"a":"x"}}`), nil, Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad stored: %v", err)
	}
	if _, err := Merge(KindCounter, nil, []byte(`{"c":{"a":"-1"}}`), Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad written: %v", err)
	}
	big := `{"c":{"a":"9223372036854775000"}}`
	if _, err := Merge(KindCounter, []byte(big), []byte(`{"c":{"b":"1000"}}`), Limits{}); !errors.Is(err, ErrOverflow) {
		t.Errorf("sum overflow: %v", err)
	}
	if _, err := Merge(KindPNCounter, []byte(`{"p":{"a":"9223372036854775000"}}`), []byte(`{"p":{"b":"1000"}}`), Limits{}); !errors.Is(err, ErrOverflow) {
		t.Errorf("PN sum overflow: %v", err)
	}
}

// Each input is within the caps but the union is not: the merge is refused.
func TestMergeResultChecksLimits(t *testing.T) {
	lim := Limits{MaxClients: 2, MaxElements: 1}
	cases := []struct {
		kind Kind
		a, b string
	}{
		{KindCounter, `{"c":{"a":"1","b":"1"}}`, `{"c":{"c":"1"}}`},
		{KindPNCounter, `{"n":{"a":"1","b":"1"}}`, `{"n":{"c":"1"}}`},
		{KindORSet, `{"vv":{"a":"1","b":"1"}}`, `{"vv":{"c":"1"}}`},
		{KindORSet, `{"e":[{"d":{"a":"1"},"v":1}],"vv":{"a":"1"}}`, `{"e":[{"d":{"b":"1"},"v":2}],"vv":{"b":"1"}}`},
	}
	for _, c := range cases {
		if _, err := Merge(c.kind, []byte(c.a), []byte(c.b), lim); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: %v", c.kind, err)
		}
	}
	// MaxStateBytes applies to the merged encoding too.
	a, b := `{"c":{"aaaaaaaaaa":"1"}}`, `{"c":{"bbbbbbbbbb":"1"}}`
	if _, err := Merge(KindCounter, []byte(a), []byte(b), Limits{MaxStateBytes: 40}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("merged bytes: %v", err)
	}
}

func TestCanonicalJSON(t *testing.T) {
	for in, want := range map[string]string{
		` { "b" : 1 , "a" : [ true , false , null ] } `: `{"a":[true,false,null],"b":1}`,
		`"\u00e9\/\"\\\n\u0001\u2028<>&"`:               "\"é/\\\"\\\\\\n\\u0001\u2028<>&\"",
		`-0`:                                            `0`,
		`-0.0`:                                          `0`,
		`1.0`:                                           `1`,
		`1e3`:                                           `1000`,
		`1.5E-7`:                                        `1.5e-7`,
		`1e21`:                                          `1e+21`,
		`123456789012345678901234567890`:                `123456789012345678901234567890`,
		`0.1`:                                           `0.1`,
		`{"b":{"d":1,"c":2},"a":{}}`:                    `{"a":{},"b":{"c":2,"d":1}}`,
		`{"é":1,"z":2,"A":3}`:                           `{"A":3,"z":2,"é":1}`,
	} {
		got, err := CanonicalJSON([]byte(in), Limits{})
		if err != nil || string(got) != want {
			t.Errorf("CanonicalJSON(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{``, `{`, `[1,]`, `{"a":1,"a":2}`, `1 2`, `nul`, `1e400`, `{"a"}`, `'x'`} {
		if _, err := CanonicalJSON([]byte(in), Limits{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("CanonicalJSON(%s): %v, want ErrMalformed", in, err)
		}
	}
	if _, err := CanonicalJSON([]byte(`"0123456789"`), Limits{MaxValueBytes: 5}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxValueBytes: %v", err)
	}
}
