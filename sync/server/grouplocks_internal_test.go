package server

import (
	"testing"
	"time"
)

// TestGroupLocks: pulls of one group take turns, another group's pull
// never waits for them, and a group's lock leaves the map with its last
// pull.
func TestGroupLocks(t *testing.T) {
	var l groupLocks
	unlockA := l.lock("a")

	other := make(chan struct{})
	go func() {
		defer close(other)
		l.lock("b")()
	}()
	select {
	case <-other:
	case <-time.After(5 * time.Second):
		t.Fatal("group b waited for group a's pull")
	}

	second := make(chan struct{})
	go func() {
		defer close(second)
		l.lock("a")()
	}()
	select {
	case <-second:
		t.Fatal("a second pull of group a did not wait for the first")
	case <-time.After(50 * time.Millisecond):
	}
	if n := l.held(); n != 1 {
		t.Fatalf("held = %d with group a's pulls running, want 1", n)
	}
	unlockA()
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("the second pull of group a never ran")
	}
	if n := l.held(); n != 0 {
		t.Fatalf("held = %d after every pull ended, want 0", n)
	}
}
