package crdt_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/plasma-go/plasma/crdt"
)

// Two devices like the same post while offline; after they sync, both
// likes count.
func ExampleGCounter() {
	var phone, laptop crdt.GCounter
	_ = phone.Increment("phone", 1)
	_ = laptop.Increment("laptop", 1)
	_ = laptop.Increment("laptop", 1)

	if err := phone.Merge(&laptop); err != nil {
		panic(err)
	}
	fmt.Println(phone.Read())
	fmt.Println(string(phone.Encode()))
	// Output:
	// 3
	// {"c":{"laptop":"2","phone":"1"}}
}

func ExamplePNCounter() {
	var stock crdt.PNCounter
	_ = stock.Increment("warehouse", 10)
	_ = stock.Decrement("shop", 3)
	fmt.Println(stock.Read())
	fmt.Println(string(stock.Encode()))
	// Output:
	// 7
	// {"n":{"shop":"3"},"p":{"warehouse":"10"}}
}

// Two clients write the register at the same HLC timestamp: the tie goes
// to the greater client ID, on every replica, whatever the values.
func ExampleLWWRegister() {
	clock := &crdt.Clock{Physical: func() time.Time { return time.UnixMilli(1_700_000_000_000) }}
	ts := clock.Now()

	var a, b crdt.LWWRegister
	_ = a.Set("alice", json.RawMessage(`{"title":"Groceries"}`), ts)
	_ = b.Set("bob", json.RawMessage(`{"title":"Shopping"}`), ts)
	if err := a.Merge(&b); err != nil {
		panic(err)
	}
	fmt.Println(string(a.Read(nil)))
	fmt.Println(string(a.Encode()))

	// The same marker with a different value is refused, not silently
	// resolved.
	err := a.Set("bob", json.RawMessage(`"other"`), ts)
	fmt.Println(errors.Is(err, crdt.ErrConflict))
	// Output:
	// {"title":"Shopping"}
	// {"by":"bob","ts":"001700000000000-00000","v":{"title":"Shopping"}}
	// true
}

// One replica removes a tag while another concurrently re-adds it: the add
// wins. The removal of a tag nobody re-added sticks.
func ExampleORSet() {
	var a crdt.ORSet
	_ = a.Add("a", json.RawMessage(`"urgent"`))
	_ = a.Add("a", json.RawMessage(`"home"`))
	b := a.Clone()

	a.Remove(json.RawMessage(`"urgent"`))
	a.Remove(json.RawMessage(`"home"`))
	_ = b.Add("b", json.RawMessage(`"urgent"`))

	a.Merge(b)
	for _, v := range a.Values() {
		fmt.Println(string(v))
	}
	fmt.Println(a.Has(json.RawMessage(`"home"`)))
	// Output:
	// "urgent"
	// false
}

// Merge is what a CRDT column write stores: the merge of the stored and
// the written state, as canonical bytes.
func ExampleMerge() {
	stored := []byte(`{"c":{"phone":"4","laptop":"1"}}`)
	written := []byte(`{"c":{"phone":"5"}}`) // the phone liked once more
	merged, err := crdt.Merge(crdt.KindCounter, stored, written, crdt.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(merged))

	_, err = crdt.Merge(crdt.KindCounter, stored, []byte(`{"c":{"phone":"-1"}}`), crdt.Limits{})
	fmt.Println(err)
	fmt.Println(errors.Is(err, crdt.ErrMalformed))
	// Output:
	// {"c":{"laptop":"1","phone":"5"}}
	// crdt: decode G-counter: at /c/phone: negative count "-1" (malformed CRDT state)
	// true
}

func ExampleClock() {
	wall := int64(1_700_000_000_000)
	clock := &crdt.Clock{Physical: func() time.Time { return time.UnixMilli(wall) }}
	fmt.Println(clock.Now())
	fmt.Println(clock.Now()) // same millisecond: the logical counter moves
	remote, _ := crdt.ParseHLC("001700000000500-00007")
	ts, err := clock.Update(remote) // a message from a clock slightly ahead
	fmt.Println(ts, err)
	// Output:
	// 001700000000000-00000
	// 001700000000000-00001
	// 001700000000500-00008 <nil>
}

func ExampleEmpty() {
	for _, k := range []crdt.Kind{crdt.KindCounter, crdt.KindPNCounter, crdt.KindLWWRegister, crdt.KindORSet} {
		fmt.Printf("%s %s\n", k, crdt.Empty(k))
	}
	// Output:
	// Counter {"c":{}}
	// PNCounter {"n":{},"p":{}}
	// LWWRegister {}
	// ORSet {"e":[],"vv":{}}
}
