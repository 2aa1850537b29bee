package crdt

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func mustAdd(t testing.TB, s *ORSet, id, v string) {
	t.Helper()
	if err := s.Add(id, json.RawMessage(v)); err != nil {
		t.Fatalf("Add(%q, %s): %v", id, v, err)
	}
}

// merged returns merge(a, b) without touching either.
func merged(a, b *ORSet) *ORSet {
	m := a.Clone()
	m.Merge(b)
	return m
}

func values(s *ORSet) string {
	var parts []string
	for _, v := range s.Values() {
		parts = append(parts, string(v))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestORSetConcurrentAddAndRemoveAddWins(t *testing.T) {
	var a ORSet
	mustAdd(t, &a, "a", `"x"`)
	b := a.Clone() // b has seen a's add

	a.Remove(json.RawMessage(`"x"`)) // a removes the add it saw
	mustAdd(t, b, "b", `"x"`)        // b concurrently re-adds

	ab, ba := merged(&a, b), merged(b, &a)
	if !ab.Has(json.RawMessage(`"x"`)) || !ba.Has(json.RawMessage(`"x"`)) {
		t.Fatalf("add did not win: %s / %s", values(ab), values(ba))
	}
	if string(ab.Encode()) != string(ba.Encode()) {
		t.Fatalf("diverged: %s vs %s", ab.Encode(), ba.Encode())
	}
	want := `{"e":[{"d":{"b":"1"},"v":"x"}],"vv":{"a":"1","b":"1"}}`
	if got := string(ab.Encode()); got != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
}

func TestORSetRemoveThenReAdd(t *testing.T) {
	var a ORSet
	mustAdd(t, &a, "a", `"x"`)
	b := a.Clone()
	if !b.Remove(json.RawMessage(`"x"`)) {
		t.Fatal("Remove reported absent")
	}
	a.Merge(b)
	if a.Has(json.RawMessage(`"x"`)) {
		t.Fatal("observed remove did not remove")
	}
	mustAdd(t, &a, "a", `"x"`)
	b.Merge(&a)
	if !b.Has(json.RawMessage(`"x"`)) || !a.Has(json.RawMessage(`"x"`)) {
		t.Fatal("re-add after remove lost")
	}
	if b.Remove(json.RawMessage(`"y"`)) {
		t.Fatal("Remove of absent value reported present")
	}
}

// Both sides remove an element the other still had: it must not come back
// (rust-crdt's "present but removed" regression).
func TestORSetBothRemovedStaysRemoved(t *testing.T) {
	var a ORSet
	mustAdd(t, &a, "a", `"x"`)
	mustAdd(t, &a, "a", `"y"`)
	b := a.Clone()
	mustAdd(t, b, "b", `"x"`) // x now has dot b1 on b only
	a.Merge(b)                // a: x{b1}, y{a2}
	a.Remove(json.RawMessage(`"x"`))
	b.Remove(json.RawMessage(`"x"`))
	c := merged(&a, b)
	if c.Has(json.RawMessage(`"x"`)) {
		t.Fatalf("x resurrected: %s", c.Encode())
	}
	// A stale copy that still has x, merged later, must not resurrect it
	// either: everything it knows about x is covered.
	stale := a.Clone()
	mustAdd(t, stale, "a", `"z"`)
	c.Merge(stale)
	if c.Has(json.RawMessage(`"x"`)) || !c.Has(json.RawMessage(`"z"`)) {
		t.Fatalf("after stale merge: %s", values(c))
	}
}

// A replica that missed an add and then receives a state in which that add
// was already removed must not keep or revive it.
func TestORSetUnseenAddAlreadyRemoved(t *testing.T) {
	var a, b ORSet
	mustAdd(t, &a, "a", `"x"`)
	c := a.Clone()
	c.Remove(json.RawMessage(`"x"`))
	b.Merge(c) // b learns of a1 only as removed
	b.Merge(&a)
	if b.Has(json.RawMessage(`"x"`)) {
		t.Fatalf("removed add revived: %s", b.Encode())
	}
}

func TestORSetValuesAreCanonical(t *testing.T) {
	var s ORSet
	mustAdd(t, &s, "a", `{"b":2.0, "a":[1, "x"]}`)
	mustAdd(t, &s, "a", `{"a":[1,"x"],"b":2}`) // same value, other spelling
	if s.Len() != 1 {
		t.Fatalf("Len = %d, want 1: %s", s.Len(), values(&s))
	}
	if !s.Has(json.RawMessage(` {"a" : [1 , "x"] , "b" : 2e0} `)) {
		t.Fatal("Has does not canonicalise")
	}
	if s.Has(json.RawMessage(`{`)) {
		t.Fatal("Has accepted invalid JSON")
	}
	if got := values(&s); got != `[{"a":[1,"x"],"b":2}]` {
		t.Fatalf("Values = %s", got)
	}
	if err := s.Add("a", json.RawMessage(`nope`)); err == nil {
		t.Fatal("Add accepted invalid JSON")
	}
}

func TestORSetZeroValueMergeThenAdd(t *testing.T) {
	var a, b ORSet
	mustAdd(t, &b, "b", `1`)
	b.Remove(json.RawMessage(`1`)) // b: vv only, no elements
	a.Merge(&b)
	mustAdd(t, &a, "a", `2`) // must not panic on a nil element map
	if got := values(&a); got != "[2]" {
		t.Fatalf("Values = %s", got)
	}
}

// The state grows with live elements x clients, not with history: after
// 10,000 random operations by 10 clients it stays within 2x of a fresh set
// holding the same elements, one add each.
func TestORSetSizeIndependentOfHistory(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const clients = 10
	reps := make([]*ORSet, clients)
	for i := range reps {
		reps[i] = &ORSet{}
	}
	for op := 0; op < 10000; op++ {
		i := r.IntN(clients)
		v := fmt.Sprintf(`"item-%d"`, r.IntN(200))
		switch x := r.IntN(20); {
		case x < 9:
			reps[i].Remove(json.RawMessage(v))
		case x < 11:
			reps[i].Merge(reps[r.IntN(clients)])
		default:
			mustAdd(t, reps[i], fmt.Sprintf("client-%d", i), v)
		}
	}
	final := &ORSet{}
	for _, s := range reps {
		final.Merge(s)
	}
	fresh := &ORSet{}
	for i, v := range final.Values() {
		mustAdd(t, fresh, fmt.Sprintf("client-%d", i%clients), string(v))
	}
	got, base := len(final.Encode()), len(fresh.Encode())
	t.Logf("live=%d history size=%dB fresh size=%dB (%.1f B/element)", final.Len(), got, base, float64(got)/float64(max(final.Len(), 1)))
	if final.Len() == 0 || got > 2*base {
		t.Fatalf("size %d after history vs %d fresh (live %d)", got, base, final.Len())
	}
}
