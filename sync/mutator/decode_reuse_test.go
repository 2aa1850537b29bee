package mutator_test

import (
	"encoding/json"
	"testing"

	"github.com/plasma-go/plasma/sync/mutator"
)

type reuseArgs struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Arguments decode alike however the decoders before them ended: a
// decoder is reused, and nothing of one input may reach the next.
func TestDecodeArgsInSequence(t *testing.T) {
	cases := []struct {
		raw string
		ok  bool
		id  string
	}{
		{`{"id":"a","title":"x"}`, true, "a"},
		{`{"id":"b"}   `, true, "b"},
		{`{"id":"c"} }`, false, ""},
		{`{"id":"d"}`, true, "d"},
		{`{"id":"e"} {"id":"f"}`, false, ""},
		{`{"id":"g"}`, true, "g"},
		{`{"id":"h","extra":1}`, false, ""},
		{`{"id":"i"}`, true, "i"},
		{`{"id":"j"`, false, ""},
		{`{"id":"k"}`, true, "k"},
		{`  `, true, ""}, // empty arguments are null: the zero value
		{`{"id":"l"}` + "\n\t ", true, "l"},
		{`"not an object"`, false, ""},
		{`{"id":"m"}`, true, "m"},
	}
	for round := range 3 {
		for _, c := range cases {
			a, err := mutator.DecodeArgs[reuseArgs](json.RawMessage(c.raw))
			if c.raw == `  ` { // empty arguments are null: the zero value
				if err != nil || a != (reuseArgs{}) {
					t.Errorf("round %d: empty: %+v, %v", round, a, err)
				}
				continue
			}
			if (err == nil) != c.ok || (c.ok && a.ID != c.id) {
				t.Errorf("round %d: %q: %+v, %v", round, c.raw, a, err)
			}
		}
	}
}

// FuzzDecodeArgsReuse: whatever an input leaves behind, the next
// arguments decode as they would first.
func FuzzDecodeArgsReuse(f *testing.F) {
	for _, s := range []string{`{"id":"a"}`, `{"id":"a"} }`, `{"id":"a"}   `, `{"id":`, `[1,2]`, `{"id":"a","x":1}`, `"s"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		_, _ = mutator.DecodeArgs[reuseArgs](json.RawMessage(raw))
		a, err := mutator.DecodeArgs[reuseArgs](json.RawMessage(`{"id":"next","title":"t"}`))
		if err != nil || a.ID != "next" || a.Title != "t" {
			t.Fatalf("after %q: %+v, %v", raw, a, err)
		}
	})
}
