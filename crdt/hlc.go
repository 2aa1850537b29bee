package crdt

import (
	"cmp"
	"fmt"
	"math"
	"sync"
	"time"
)

// HLC is a hybrid logical clock timestamp: wall-clock milliseconds plus a
// logical counter that orders events within one millisecond (and absorbs
// clocks that run behind). Timestamps are totally ordered by (Wall,
// Logical); LWW registers break the remaining ties by client ID.
//
// The canonical text form is 15 zero-padded decimal digits of Wall, a dash
// and 5 zero-padded digits of Logical, e.g. "001732550400000-00003". Being
// fixed-width, it sorts as a string in the same order as the timestamps,
// so JavaScript clients can compare markers without parsing them. It is
// also the JSON form (via MarshalText).
type HLC struct {
	Wall    int64  // milliseconds since the Unix epoch, 0..MaxHLCWall
	Logical uint16 // tie-breaking counter within Wall
}

// MaxHLCWall is the largest Wall that fits the 15-digit text form (about
// the year 33658).
const MaxHLCWall = 999_999_999_999_999

// hlcTextLen is len("WWWWWWWWWWWWWWW-LLLLL").
const hlcTextLen = 15 + 1 + 5

// Valid reports whether t can be encoded: 0 <= Wall <= MaxHLCWall.
func (t HLC) Valid() bool { return t.Wall >= 0 && t.Wall <= MaxHLCWall }

// Compare returns -1, 0 or +1 as t is before, equal to or after u.
func (t HLC) Compare(u HLC) int {
	if c := cmp.Compare(t.Wall, u.Wall); c != 0 {
		return c
	}
	return cmp.Compare(t.Logical, u.Logical)
}

// Time returns the wall-clock part as a time.Time.
func (t HLC) Time() time.Time { return time.UnixMilli(t.Wall) }

// String returns the canonical text form. An invalid timestamp still
// prints, for debugging, but is not parseable.
func (t HLC) String() string { return fmt.Sprintf("%015d-%05d", t.Wall, t.Logical) }

// MarshalText returns the canonical text form, or an error wrapping
// ErrInvalidArgument for an invalid timestamp.
func (t HLC) MarshalText() ([]byte, error) {
	if !t.Valid() {
		return nil, newError(ErrInvalidArgument, "encode HLC", "", "wall %d out of range", t.Wall)
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses the canonical text form.
func (t *HLC) UnmarshalText(text []byte) error {
	v, err := ParseHLC(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseHLC parses the canonical text form exactly: any other spelling of
// the same timestamp is refused with ErrMalformed, so each timestamp has
// one encoding.
func ParseHLC(s string) (HLC, error) {
	bad := func() (HLC, error) {
		return HLC{}, newError(ErrMalformed, "parse HLC", "", "%q is not WWWWWWWWWWWWWWW-LLLLL", s)
	}
	if len(s) != hlcTextLen || s[15] != '-' {
		return bad()
	}
	wall, ok1 := parseDigits(s[:15])
	logical, ok2 := parseDigits(s[16:])
	if !ok1 || !ok2 || logical > math.MaxUint16 {
		return bad()
	}
	return HLC{Wall: wall, Logical: uint16(logical)}, nil
}

// parseDigits parses a string of ASCII digits (at most 18, so no overflow).
func parseDigits(s string) (int64, bool) {
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// next returns the smallest timestamp after t: one more logical tick, or
// the next millisecond if the counter is full, so a clock never has to
// fail or repeat a timestamp.
func (t HLC) next() HLC {
	if t.Logical == math.MaxUint16 {
		return HLC{Wall: t.Wall + 1}
	}
	return HLC{Wall: t.Wall, Logical: t.Logical + 1}
}

// DefaultMaxSkew is how far ahead of the local wall clock a remote
// timestamp may be before Clock.Update refuses it.
const DefaultMaxSkew = time.Minute

// Clock issues HLC timestamps. Each one is later than every timestamp the
// clock issued or observed before, and stays close to wall time. Without
// it, a register written from a device whose clock runs behind would lose
// to older writes; with it, only the order within the clock skew is
// arbitrary, and a remote clock running far ahead is refused rather than
// allowed to win every future write.
//
// The zero value is ready to use: it reads time.Now and allows
// DefaultMaxSkew. A Clock is safe for concurrent use; do not copy it after
// first use.
type Clock struct {
	// Physical returns the wall time; nil means time.Now. Tests set a fake.
	Physical func() time.Time
	// MaxSkew is how far ahead of Physical a remote timestamp given to
	// Update may be. Zero means DefaultMaxSkew; negative disables the check.
	MaxSkew time.Duration

	mu   sync.Mutex
	last HLC
}

// physical reads the wall clock in milliseconds, clamped to the HLC range.
func (c *Clock) physical() int64 {
	now := time.Now
	if c.Physical != nil {
		now = c.Physical
	}
	return min(max(now().UnixMilli(), 0), MaxHLCWall)
}

// Now returns a timestamp for a local event: the wall time if it is past
// the last timestamp, else the last timestamp's successor.
func (c *Clock) Now() HLC {
	pt := c.physical()
	c.mu.Lock()
	defer c.mu.Unlock()
	if pt > c.last.Wall {
		c.last = HLC{Wall: pt}
	} else {
		c.last = c.last.next()
	}
	return c.last
}

// Update records a timestamp received from another replica and returns a
// timestamp for the receive event, later than both it and everything this
// clock issued. A remote timestamp more than MaxSkew ahead of the local wall
// clock is refused with ErrClockSkew and leaves the clock unchanged; an
// invalid one with ErrInvalidArgument.
func (c *Clock) Update(remote HLC) (HLC, error) {
	if !remote.Valid() {
		return HLC{}, newError(ErrInvalidArgument, "update HLC", "", "wall %d out of range", remote.Wall)
	}
	pt := c.physical()
	if skew := c.maxSkew(); skew >= 0 && remote.Wall > pt+skew {
		return HLC{}, newError(ErrClockSkew, "update HLC", "",
			"remote %s is %dms ahead of local wall time (max %dms)", remote, remote.Wall-pt, skew)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	latest := c.last
	if remote.Compare(latest) > 0 {
		latest = remote
	}
	if pt > latest.Wall {
		c.last = HLC{Wall: pt}
	} else {
		c.last = latest.next()
	}
	return c.last, nil
}

// Last returns the latest timestamp issued or observed (zero before any).
func (c *Clock) Last() HLC {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// maxSkew returns the allowed skew in milliseconds, or -1 for no check.
func (c *Clock) maxSkew() int64 {
	switch {
	case c.MaxSkew == 0:
		return DefaultMaxSkew.Milliseconds()
	case c.MaxSkew < 0:
		return -1
	}
	return c.MaxSkew.Milliseconds()
}
