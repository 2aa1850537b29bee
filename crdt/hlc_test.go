package crdt

import (
	"encoding/json"
	"errors"
	"math"
	"sort"
	"testing"
	"time"
)

// fakeTime is a settable wall clock for Clock.Physical.
type fakeTime struct{ ms int64 }

func (f *fakeTime) now() time.Time { return time.UnixMilli(f.ms) }

func TestHLCTextForm(t *testing.T) {
	ts := HLC{Wall: 1732550400000, Logical: 3}
	if got := ts.String(); got != "001732550400000-00003" {
		t.Fatalf("String = %s", got)
	}
	back, err := ParseHLC(ts.String())
	if err != nil || back != ts {
		t.Fatalf("ParseHLC = %v, %v", back, err)
	}
	b, err := json.Marshal(ts)
	if err != nil || string(b) != `"001732550400000-00003"` {
		t.Fatalf("json.Marshal = %s, %v", b, err)
	}
	var u HLC
	if err := json.Unmarshal(b, &u); err != nil || u != ts {
		t.Fatalf("json.Unmarshal = %v, %v", u, err)
	}
	if !ts.Time().Equal(time.UnixMilli(1732550400000)) {
		t.Fatalf("Time = %v", ts.Time())
	}
	if _, err := (HLC{Wall: MaxHLCWall + 1}).MarshalText(); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("MarshalText out of range: %v", err)
	}
}

func TestParseHLCRejectsOtherSpellings(t *testing.T) {
	for _, s := range []string{
		"", "1-1", "1732550400000-3", "001732550400000-3", "001732550400000_00003",
		"001732550400000-65536", "+01732550400000-00003", "001732550400000-0000a",
		"0017325504000000-0003", " 01732550400000-00003",
	} {
		if _, err := ParseHLC(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseHLC(%q) = %v, want ErrMalformed", s, err)
		}
	}
	if ts, err := ParseHLC("999999999999999-65535"); err != nil || ts != (HLC{MaxHLCWall, math.MaxUint16}) {
		t.Fatalf("max: %v %v", ts, err)
	}
}

func TestHLCStringsSortLikeTimestamps(t *testing.T) {
	ts := []HLC{{5, 0}, {0, 9}, {5, 10}, {123456789, 1}, {5, 2}, {MaxHLCWall, 0}}
	strs := make([]string, len(ts))
	for i, x := range ts {
		strs[i] = x.String()
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Compare(ts[j]) < 0 })
	sort.Strings(strs)
	for i := range ts {
		if ts[i].String() != strs[i] {
			t.Fatalf("order differs at %d: %s vs %s", i, ts[i], strs[i])
		}
	}
}

func TestClockNowIsMonotonicWhenWallGoesBack(t *testing.T) {
	ft := &fakeTime{ms: 1000}
	c := &Clock{Physical: ft.now}
	a := c.Now()
	ft.ms = 900 // wall clock steps back
	b := c.Now()
	ft.ms = 1000
	d := c.Now()
	ft.ms = 2000
	e := c.Now()
	if !(a.Compare(b) < 0 && b.Compare(d) < 0 && d.Compare(e) < 0) {
		t.Fatalf("not increasing: %v %v %v %v", a, b, d, e)
	}
	if a != (HLC{1000, 0}) || b != (HLC{1000, 1}) || e != (HLC{2000, 0}) {
		t.Fatalf("unexpected: %v %v %v", a, b, e)
	}
	if c.Last() != e {
		t.Fatalf("Last = %v", c.Last())
	}
}

func TestClockLogicalOverflowMovesToNextMillisecond(t *testing.T) {
	ft := &fakeTime{ms: 50}
	c := &Clock{Physical: ft.now}
	if _, err := c.Update(HLC{Wall: 50, Logical: math.MaxUint16}); err != nil {
		t.Fatal(err)
	}
	// Update took the remote's successor: (51, 0).
	if got := c.Last(); got != (HLC{51, 0}) {
		t.Fatalf("Last = %v", got)
	}
	if got := c.Now(); got != (HLC{51, 1}) {
		t.Fatalf("Now = %v", got)
	}
}

func TestClockUpdate(t *testing.T) {
	ft := &fakeTime{ms: 10_000}
	c := &Clock{Physical: ft.now, MaxSkew: time.Second}
	got, err := c.Update(HLC{Wall: 10_500, Logical: 7})
	if err != nil || got != (HLC{10_500, 8}) {
		t.Fatalf("Update ahead = %v, %v", got, err)
	}
	got, err = c.Update(HLC{Wall: 3, Logical: 0}) // old remote
	if err != nil || got != (HLC{10_500, 9}) {
		t.Fatalf("Update old = %v, %v", got, err)
	}
	before := c.Last()
	if _, err := c.Update(HLC{Wall: 11_001}); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("Update far ahead: %v", err)
	}
	if c.Last() != before {
		t.Fatal("refused Update moved the clock")
	}
	if _, err := c.Update(HLC{Wall: -1}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Update invalid: %v", err)
	}
	ft.ms = 20_000
	if got := c.Now(); got != (HLC{20_000, 0}) {
		t.Fatalf("Now after wall catches up = %v", got)
	}
	// Negative MaxSkew disables the check.
	c.MaxSkew = -1
	if _, err := c.Update(HLC{Wall: MaxHLCWall}); err != nil {
		t.Fatalf("unchecked Update: %v", err)
	}
}

func TestClockZeroValueUsesWallTime(t *testing.T) {
	var c Clock
	now := time.Now().UnixMilli()
	got := c.Now()
	if got.Wall < now-1000 || got.Wall > now+1000 {
		t.Fatalf("Now = %v, wall time %d", got, now)
	}
	if _, err := c.Update(HLC{Wall: now + DefaultMaxSkew.Milliseconds() + 60_000}); !errors.Is(err, ErrClockSkew) {
		t.Fatalf("default skew not enforced: %v", err)
	}
}

func TestClockConcurrentUse(t *testing.T) {
	var c Clock
	const n = 4
	out := make(chan HLC, n*100)
	done := make(chan struct{})
	for range n {
		go func() {
			for range 100 {
				out <- c.Now()
			}
			done <- struct{}{}
		}()
	}
	for range n {
		<-done
	}
	close(out)
	seen := make(map[HLC]bool)
	for ts := range out {
		if seen[ts] {
			t.Fatalf("timestamp %v issued twice", ts)
		}
		seen[ts] = true
	}
}
