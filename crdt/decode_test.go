package crdt

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

type decodeCase struct {
	kind Kind
	in   string
	want error // nil: must decode
	path string
}

// validStates decode, and re-encode to the canonical form given.
var validStates = []struct {
	kind     Kind
	in, want string
}{
	{KindCounter, ``, `{"c":{}}`},
	{KindCounter, ` null `, `{"c":{}}`},
	{KindCounter, `{}`, `{"c":{}}`},
	{KindCounter, ` { "c" : { "b":"2", "a":"0", "é/~":"1" } } `, `{"c":{"b":"2","é/~":"1"}}`},
	{KindCounter, `{"c":{"a":"9223372036854775807"}}`, `{"c":{"a":"9223372036854775807"}}`},
	{KindPNCounter, `{"p":{"a":"1"}}`, `{"n":{},"p":{"a":"1"}}`},
	{KindPNCounter, `{"n":{"a":"1"},"p":{"a":"1"}}`, `{"n":{"a":"1"},"p":{"a":"1"}}`},
	{KindLWWRegister, `{}`, `{}`},
	{KindLWWRegister, `{"v":{"b":[1.50,-0],"a":null},"ts":"000000000000001-00000","by":"x"}`,
		`{"by":"x","ts":"000000000000001-00000","v":{"a":null,"b":[1.5,0]}}`},
	{KindORSet, `{}`, `{"e":[],"vv":{}}`},
	{KindORSet, `{"vv":{"a":"3","b":"0"},"e":[{"v":"y","d":{"a":"3"}},{"v":"x","d":{"a":"1"}}]}`,
		`{"e":[{"d":{"a":"1"},"v":"x"},{"d":{"a":"3"},"v":"y"}],"vv":{"a":"3"}}`},
}

func TestDecodeValid(t *testing.T) {
	for _, c := range validStates {
		got, err := Canonical(c.kind, []byte(c.in), Limits{})
		if err != nil {
			t.Errorf("%s %s: %v", c.kind, c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s %s:\n got %s\nwant %s", c.kind, c.in, got, c.want)
		}
	}
}

var malformed = []decodeCase{
	// Any kind: broken JSON, wrong top-level shape, trailing data.
	{KindCounter, `{`, ErrMalformed, ""},
	{KindCounter, `[]`, ErrMalformed, ""},
	{KindCounter, `"c"`, ErrMalformed, ""},
	{KindCounter, `{"c":{}} {}`, ErrMalformed, ""},
	{KindCounter, `{"c":{}}x`, ErrMalformed, ""},
	{KindCounter, "\u00a0null", ErrMalformed, ""},
	{KindCounter, `nullnull`, ErrMalformed, ""},
	{KindCounter, `{"c":{}}` + "\x00", ErrMalformed, ""},
	// G-counter entries.
	{KindCounter, `{"c":{"a":"-3"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":3}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":"three"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":"03"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":"+3"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":"3.0"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":"1e3"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":" 3"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":""}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":"-0"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a":null}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":{"a/b":"x"}}`, ErrMalformed, "/c/a~1b"},
	{KindCounter, `{"c":{"a":"9223372036854775808"}}`, ErrOverflow, "/c/a"},
	{KindCounter, `{"c":{"a":"99999999999999999999999"}}`, ErrOverflow, "/c/a"},
	{KindCounter, `{"c":{"":"1"}}`, ErrMalformed, "/c/"},
	{KindCounter, `{"c":{"a":"1","a":"2"}}`, ErrMalformed, "/c/a"},
	{KindCounter, `{"c":[]}`, ErrMalformed, "/c"},
	{KindCounter, `{"c":{},"c":{}}`, ErrMalformed, "/c"},
	{KindCounter, `{"p":{}}`, ErrMalformed, "/p"},
	// PN-counter.
	{KindPNCounter, `{"c":{}}`, ErrMalformed, "/c"},
	{KindPNCounter, `{"p":{"a":"-1"}}`, ErrMalformed, "/p/a"},
	{KindPNCounter, `{"n":{"a":"x"}}`, ErrMalformed, "/n/a"},
	{KindPNCounter, `{"n":"1"}`, ErrMalformed, "/n"},
	// LWW register.
	{KindLWWRegister, `{"v":1}`, ErrMalformed, ""},
	{KindLWWRegister, `{"v":1,"ts":"000000000000001-00000"}`, ErrMalformed, ""},
	{KindLWWRegister, `{"by":"a","ts":"000000000000001-00000"}`, ErrMalformed, ""},
	{KindLWWRegister, `{"by":"","ts":"000000000000001-00000","v":1}`, ErrMalformed, "/by"},
	{KindLWWRegister, `{"by":"a","ts":"yesterday","v":1}`, ErrMalformed, "/ts"},
	{KindLWWRegister, `{"by":"a","ts":1,"v":1}`, ErrMalformed, "/ts"},
	{KindLWWRegister, `{"by":7,"ts":"000000000000001-00000","v":1}`, ErrMalformed, "/by"},
	{KindLWWRegister, `{"by":"a","ts":"000000000000001-00000","v":{"k":1,"k":2}}`, ErrMalformed, "/v"},
	{KindLWWRegister, `{"by":"a","ts":"000000000000001-00000","v":1e999}`, ErrMalformed, "/v"},
	{KindLWWRegister, `{"by":"a","ts":"000000000000001-00000","v":1,"w":2}`, ErrMalformed, "/w"},
	// OR-set.
	{KindORSet, `{"e":{}}`, ErrMalformed, "/e"},
	{KindORSet, `{"e":[1]}`, ErrMalformed, "/e/0"},
	{KindORSet, `{"e":[{"v":1}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0"},
	{KindORSet, `{"e":[{"d":{"a":"1"}}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0"},
	{KindORSet, `{"e":[{"d":{},"v":1}],"vv":{}}`, ErrMalformed, "/e/0"},
	{KindORSet, `{"e":[{"d":{"a":"0"},"v":1}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0/d/a"},
	{KindORSet, `{"e":[{"d":{"a":"2"},"v":1}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0/d/a"},
	{KindORSet, `{"e":[{"d":{"b":"1"},"v":1}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0/d/b"},
	{KindORSet, `{"e":[{"d":{"a":"1"},"v":1},{"d":{"a":"2"},"v":1.0}],"vv":{"a":"2"}}`, ErrMalformed, "/e/1"},
	{KindORSet, `{"e":[{"d":{"a":"1"},"v":1},{"d":{"a":"1"},"v":2}],"vv":{"a":"2"}}`, ErrMalformed, "/e/1/d/a"},
	{KindORSet, `{"e":[{"d":{"a":"1"},"v":1,"x":0}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0/x"},
	{KindORSet, `{"e":[],"vv":{"a":"-1"}}`, ErrMalformed, "/vv/a"},
	{KindORSet, `{"e":[],"vv":{"a":"18446744073709551616"}}`, ErrOverflow, "/vv/a"},
	{KindORSet, `{"e":[{"d":{"a":"1"},"v":[}],"vv":{"a":"1"}}`, ErrMalformed, "/e/0/v"},
}

func TestDecodeMalformed(t *testing.T) {
	for _, c := range malformed {
		checkDecodeError(t, c, Limits{})
	}
}

func checkDecodeError(t *testing.T, c decodeCase, lim Limits) {
	t.Helper()
	_, err := Decode(c.kind, []byte(c.in), lim)
	if !errors.Is(err, c.want) {
		t.Errorf("%s %s: err = %v, want %v", c.kind, c.in, err, c.want)
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s %s: %T is not *Error", c.kind, c.in, err)
		return
	}
	if e.Path != c.path {
		t.Errorf("%s %s: path %q, want %q (%v)", c.kind, c.in, e.Path, c.path, err)
	}
	if !strings.HasPrefix(err.Error(), "crdt: decode ") {
		t.Errorf("%s %s: message %q", c.kind, c.in, err)
	}
}

func TestDecodeLimits(t *testing.T) {
	lim := Limits{MaxStateBytes: 200, MaxClients: 2, MaxElements: 2, MaxValueBytes: 10, MaxClientIDBytes: 4, MaxDepth: 3}
	for _, c := range []decodeCase{
		{KindCounter, `{"c":{"a":"1","b":"1","c":"1"}}`, ErrTooLarge, "/c"},
		{KindCounter, `{"c":{"abcde":"1"}}`, ErrTooLarge, "/c/abcde"},
		{KindCounter, `{"c":{` + strings.Repeat(" ", 200) + `}}`, ErrTooLarge, ""},
		{KindPNCounter, `{"p":{"a":"1","b":"1","c":"1"}}`, ErrTooLarge, "/p"},
		{KindLWWRegister, `{"by":"a","ts":"000000000000001-00000","v":"0123456789"}`, ErrTooLarge, "/v"},
		{KindLWWRegister, `{"by":"a","ts":"000000000000001-00000","v":[[[[1]]]]}`, ErrTooLarge, "/v"},
		{KindORSet, `{"vv":{"a":"1","b":"1","c":"1"}}`, ErrTooLarge, "/vv"},
		{KindORSet, `{"e":[{"d":{"a":"1"},"v":1},{"d":{"a":"2"},"v":2},{"d":{"a":"3"},"v":3}],"vv":{"a":"3"}}`, ErrTooLarge, "/e"},
	} {
		checkDecodeError(t, c, lim)
	}
	// Within the caps, the same shapes decode.
	for _, in := range []string{`{"c":{"a":"1","b":"1"}}`, `{"c":{"abcd":"1"}}`} {
		if err := Validate(KindCounter, []byte(in), lim); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	if err := Validate(KindLWWRegister, []byte(`{"by":"a","ts":"000000000000001-00000","v":[[[1]]]}`), lim); err != nil {
		t.Errorf("depth 3: %v", err)
	}
}

func TestDefaultLimits(t *testing.T) {
	d := DefaultLimits()
	if d.MaxClients != DefaultMaxClients || d.MaxStateBytes != DefaultMaxStateBytes || d.MaxDepth != DefaultMaxDepth {
		t.Fatalf("DefaultLimits = %+v", d)
	}
	if got := (Limits{MaxClients: 7, MaxElements: -1}).withDefaults(); got.MaxClients != 7 || got.MaxElements != DefaultMaxElements {
		t.Fatalf("withDefaults = %+v", got)
	}
	// A deep value is refused under the default depth cap, not by a stack
	// overflow.
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	in := fmt.Sprintf(`{"by":"a","ts":"000000000000001-00000","v":%s}`, deep)
	if err := Validate(KindLWWRegister, []byte(in), Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("deep value: %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := DecodeGCounter([]byte(`{"c":{"alice":"-3"}}`), Limits{})
	want := `crdt: decode G-counter: at /c/alice: negative count "-3" (malformed CRDT state)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}
