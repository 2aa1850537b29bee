package live_test

import (
	"errors"
	"testing"
	"time"

	"github.com/plasma-go/plasma/live"
)

// An idle subscription makes its channels only when asked: Ready after
// the first snapshot is closed at once, Deltas first asked for after
// Close is closed, a delta waiting for a consumer that never asked for
// Deltas does not hold Close up, and SubscribeFunc has no Deltas.
func TestLazyChannels(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		insert(t, e.db, todo("a", "L", "t", false))
		sub, err := live.Subscribe[Todo](sys, e.db, listQuery(e.db, "L"))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first snapshot", func() bool { return len(sub.Snapshot()) == 1 })
		select {
		case <-sub.Ready():
		default:
			t.Fatal("Ready asked after the first snapshot is not closed")
		}
		// A delta waits; nobody has asked for Deltas.
		insert(t, e.db, todo("b", "L", "t", false))
		waitFor(t, "the second row", func() bool { return len(sub.Snapshot()) == 2 })
		closed := make(chan struct{})
		go func() { sub.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close blocked on a delta nobody asked for")
		}
		if _, ok := <-sub.Deltas(); ok {
			t.Fatal("Deltas after Close delivered")
		}
		if !errors.Is(sub.Err(), live.ErrClosed) {
			t.Fatalf("Err %v", sub.Err())
		}

		got := make(chan live.Delta[Todo], 4)
		fsub, err := live.SubscribeFunc(sys, e.db, listQuery(e.db, "L"), func(d live.Delta[Todo]) { got <- d })
		if err != nil {
			t.Fatal(err)
		}
		defer fsub.Close()
		<-fsub.Ready()
		if fsub.Deltas() != nil {
			t.Fatal("SubscribeFunc has a Deltas channel")
		}
		insert(t, e.db, todo("c", "L", "t", false))
		select {
		case d := <-got:
			if len(d.Added) != 1 {
				t.Fatalf("delta %+v", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no callback")
		}
	})
}
