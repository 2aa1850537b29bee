package crdt

import (
	"errors"
	"math"
	"testing"
)

func mustIncrement(t *testing.T, c *GCounter, id string, d int64) {
	t.Helper()
	if err := c.Increment(id, d); err != nil {
		t.Fatalf("Increment(%q, %d): %v", id, d, err)
	}
}

func TestGCounterConcurrentIncrementsBothCount(t *testing.T) {
	var a, b GCounter
	mustIncrement(t, &a, "alice", 2)
	mustIncrement(t, &b, "bob", 3)
	mustIncrement(t, &a, "alice", 1)
	if err := a.Merge(&b); err != nil {
		t.Fatal(err)
	}
	if got := a.Read(); got != 6 {
		t.Fatalf("Read = %d, want 6", got)
	}
	if got, want := string(a.Encode()), `{"c":{"alice":"3","bob":"3"}}`; got != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
	if a.Count("alice") != 3 || a.Count("nobody") != 0 {
		t.Fatalf("Count: alice=%d nobody=%d", a.Count("alice"), a.Count("nobody"))
	}
}

func TestGCounterZeroValueEncodesEmpty(t *testing.T) {
	var c GCounter
	if got := string(c.Encode()); got != `{"c":{}}` {
		t.Fatalf("Encode = %s", got)
	}
	mustIncrement(t, &c, "a", 0) // no-op, no zero entry
	if got := string(c.Encode()); got != `{"c":{}}` {
		t.Fatalf("after +0: Encode = %s", got)
	}
}

func TestGCounterIncrementErrors(t *testing.T) {
	var c GCounter
	if err := c.Increment("a", -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative delta: %v", err)
	}
	if err := c.Increment("", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("empty client: %v", err)
	}
	if err := c.Increment("\xff", 1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("invalid UTF-8 client: %v", err)
	}
	mustIncrement(t, &c, "a", math.MaxInt64-1)
	if err := c.Increment("a", 2); !errors.Is(err, ErrOverflow) {
		t.Fatalf("own total overflow: %v", err)
	}
	// Sum overflow through another client.
	if err := c.Increment("b", 2); !errors.Is(err, ErrOverflow) {
		t.Fatalf("sum overflow: %v", err)
	}
	mustIncrement(t, &c, "b", 1)
	if c.Read() != math.MaxInt64 {
		t.Fatalf("Read = %d", c.Read())
	}
}

func TestGCounterMergeOverflowLeavesStateUnchanged(t *testing.T) {
	var a, b GCounter
	mustIncrement(t, &a, "a", math.MaxInt64-5)
	mustIncrement(t, &b, "b", 10)
	before := string(a.Encode())
	if err := a.Merge(&b); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Merge: %v", err)
	}
	if string(a.Encode()) != before {
		t.Fatal("failed merge changed the state")
	}
}

func TestPNCounter(t *testing.T) {
	var a, b PNCounter
	if err := a.Increment("a", 10); err != nil {
		t.Fatal(err)
	}
	if err := a.Decrement("a", 3); err != nil {
		t.Fatal(err)
	}
	if err := b.Decrement("b", 20); err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(&b); err != nil {
		t.Fatal(err)
	}
	if got := a.Read(); got != -13 {
		t.Fatalf("Read = %d, want -13", got)
	}
	if got, want := string(a.Encode()), `{"n":{"a":"3","b":"20"},"p":{"a":"10"}}`; got != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
	if err := a.Decrement("a", -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative decrement: %v", err)
	}
}

func TestPNCounterExtremes(t *testing.T) {
	var c PNCounter
	if err := c.Decrement("a", math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if c.Read() != -math.MaxInt64 {
		t.Fatalf("Read = %d", c.Read())
	}
	if err := c.Increment("a", math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if c.Read() != 0 {
		t.Fatalf("Read = %d", c.Read())
	}
	var d PNCounter
	if err := d.Decrement("b", 1); err != nil {
		t.Fatal(err)
	}
	before := string(c.Encode())
	if err := c.Merge(&d); !errors.Is(err, ErrOverflow) {
		t.Fatalf("Merge: %v", err)
	}
	if string(c.Encode()) != before {
		t.Fatal("failed merge changed the state")
	}
}

func TestCounterDecodeSumOverflow(t *testing.T) {
	in := `{"c":{"a":"9223372036854775807","b":"1"}}`
	if _, err := DecodeGCounter([]byte(in), Limits{}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("G: %v", err)
	}
	in = `{"p":{},"n":{"a":"9223372036854775807","b":"1"}}`
	if _, err := DecodePNCounter([]byte(in), Limits{}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("PN: %v", err)
	}
}

func TestCounterJSONMethods(t *testing.T) {
	var c GCounter
	mustIncrement(t, &c, "x", 7)
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var d GCounter
	if err := d.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if d.Read() != 7 {
		t.Fatalf("Read = %d", d.Read())
	}
	if err := d.UnmarshalJSON([]byte(`{"c":{"x":"-1"}}`)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("UnmarshalJSON: %v", err)
	}
	clone := c.Clone()
	mustIncrement(t, clone, "x", 1)
	if c.Read() != 7 {
		t.Fatal("Clone shares state")
	}
}
