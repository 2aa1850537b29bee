package synctest_test

import (
	"strings"
	"testing"

	"github.com/plasma-go/plasma/sync/synctest"
)

// TestClientRefusesBrokenResponses feeds Apply responses that break each
// rule a real Replicache client enforces, after a good one at order 5.
func TestClientRefusesBrokenResponses(t *testing.T) {
	const good = `{"cookie":{"order":5},"lastMutationIDChanges":{"c1":3},"patch":[{"op":"clear"},{"op":"put","key":"todos/t1","value":{"id":"t1"}}]}`
	cases := []struct{ name, body, want string }{
		{"null lmids", `{"cookie":{"order":6},"lastMutationIDChanges":null,"patch":[]}`, "lastMutationIDChanges is not an object"},
		{"null patch", `{"cookie":{"order":6},"lastMutationIDChanges":{},"patch":null}`, "patch is not an array"},
		{"not an object", `[]`, "not a JSON object"},
		{"cookie back", `{"cookie":{"order":4},"lastMutationIDChanges":{},"patch":[]}`, "cookie went back"},
		{"equal cookie with changes", `{"cookie":{"order":5},"lastMutationIDChanges":{},"patch":[{"op":"del","key":"todos/t1"}]}`, "unchanged cookie with changes"},
		{"lmid back", `{"cookie":{"order":6},"lastMutationIDChanges":{"c1":2},"patch":[]}`, "went back from 3 to 2"},
		{"late clear", `{"cookie":{"order":6},"lastMutationIDChanges":{},"patch":[{"op":"del","key":"todos/t1"},{"op":"clear"}]}`, "clear at position 1"},
		{"put without value", `{"cookie":{"order":6},"lastMutationIDChanges":{},"patch":[{"op":"put","key":"todos/t2"}]}`, "without a key or a value"},
		{"unknown op", `{"cookie":{"order":6},"lastMutationIDChanges":{},"patch":[{"op":"patch","key":"todos/t1"}]}`, "unknown op"},
	}
	for _, tc := range cases {
		c := &synctest.Client{}
		if _, err := c.Apply(good); err != nil {
			t.Fatal(err)
		}
		_, err := c.Apply(tc.body)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		// A refused response changes nothing.
		if len(c.View) != 1 || c.LastMutationIDs["c1"] != 3 || string(c.Cookie) != `{"order":5}` {
			t.Errorf("%s: the client changed: %v %v %s", tc.name, c.View, c.LastMutationIDs, c.Cookie)
		}
	}
	// An equal cookie without changes is accepted and changes nothing.
	c := &synctest.Client{}
	_, _ = c.Apply(good)
	if r, err := c.Apply(`{"cookie":{"order":5},"lastMutationIDChanges":{},"patch":[]}`); err != nil || r.Changed {
		t.Fatalf("unchanged pull: %v %v", r.Changed, err)
	}
}
