package crdt

import (
	"maps"
	"math"
)

// GCounter is a grow-only counter: one running total per client, merged by
// taking each client's maximum, read as the sum. Concurrent increments from
// different clients therefore all count, unlike a plain number column.
//
// Its canonical encoding is {"c":{"<clientID>":"<total>",...}} with clients
// in byte order, totals as decimal strings and zero totals omitted.
//
// The zero value is an empty counter, ready to use. Its sum always fits in
// an int64: operations that would break that return ErrOverflow. A
// GCounter is not safe for concurrent use.
type GCounter struct {
	counts map[string]int64 // no zero entries, so equal states are equal maps
}

// DecodeGCounter decodes and validates an encoded G-counter. Empty input or
// JSON null is the empty counter.
func DecodeGCounter(data []byte, lim Limits) (*GCounter, error) {
	p, empty, err := newParser("decode G-counter", data, lim)
	if err != nil {
		return nil, err
	}
	c := &GCounter{}
	if empty {
		return c, nil
	}
	err = p.object("", func(key string) error {
		if key != "c" {
			return p.unknown("", key)
		}
		var e error
		c.counts, e = p.counts("/c")
		return e
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	if _, ok := sumCounts(c.counts); !ok {
		return nil, p.fail(ErrOverflow, "/c", "sum of counts does not fit in int64")
	}
	return c, nil
}

// Kind returns KindCounter.
func (c *GCounter) Kind() Kind { return KindCounter }

// Encode returns the canonical JSON encoding.
func (c *GCounter) Encode() []byte {
	dst := append([]byte(nil), `{"c":`...)
	dst = appendCounts(dst, c.counts)
	return append(dst, '}')
}

// Read returns the counter's value: the sum of every client's total.
// (Seed: sumCrdtCounter.)
func (c *GCounter) Read() int64 {
	sum, _ := sumCounts(c.counts) // cannot overflow: every mutator checks
	return sum
}

// Count returns one client's running total (zero for an unknown client).
func (c *GCounter) Count(clientID string) int64 { return c.counts[clientID] }

// Clients returns the IDs of the clients with a non-zero total, in byte
// order: the entries of the per-client map that Limits.MaxClients caps.
func (c *GCounter) Clients() []string { return sortedKeys(c.counts) }

// Increment adds delta to clientID's total. A negative delta is refused
// with ErrInvalidArgument (use a PNCounter to go down); a total or sum
// beyond int64 with ErrOverflow. (Seed: crdtIncrement.)
func (c *GCounter) Increment(clientID string, delta int64) error {
	return c.add("increment G-counter", clientID, delta)
}

// add is Increment with the operation named in errors, shared with
// PNCounter.
func (c *GCounter) add(op, clientID string, delta int64) error {
	if err := checkClientID(op, clientID); err != nil {
		return err
	}
	if delta < 0 {
		return newError(ErrInvalidArgument, op, "", "negative delta %d", delta)
	}
	if delta == 0 {
		return nil
	}
	// Totals are non-negative, so a sum that fits bounds every total.
	if sum := c.Read(); sum > math.MaxInt64-delta {
		return newError(ErrOverflow, op, "", "sum %d + delta %d does not fit in int64", sum, delta)
	}
	if c.counts == nil {
		c.counts = make(map[string]int64)
	}
	c.counts[clientID] += delta
	return nil
}

// Merge folds other into c: each client's total becomes the larger of the
// two. Merge is commutative, associative and idempotent. If the merged sum
// would overflow int64, c is left unchanged and ErrOverflow is returned.
// (Seed: mergeCrdtCounter.)
func (c *GCounter) Merge(other *GCounter) error {
	if _, ok := mergedSum(c.counts, other.counts); !ok {
		return newError(ErrOverflow, "merge G-counter", "", "merged sum does not fit in int64")
	}
	for id, n := range other.counts {
		if n > c.counts[id] {
			if c.counts == nil {
				c.counts = make(map[string]int64, len(other.counts))
			}
			c.counts[id] = n
		}
	}
	return nil
}

// Clone returns an independent copy.
func (c *GCounter) Clone() *GCounter {
	return &GCounter{counts: maps.Clone(c.counts)}
}

// MarshalJSON returns the canonical encoding, so a GCounter can sit in a
// struct that is marshalled with encoding/json.
func (c *GCounter) MarshalJSON() ([]byte, error) { return c.Encode(), nil }

// UnmarshalJSON decodes with DefaultLimits.
func (c *GCounter) UnmarshalJSON(data []byte) error {
	d, err := DecodeGCounter(data, Limits{})
	if err != nil {
		return err
	}
	*c = *d
	return nil
}

// checkSize reports a merged state with more clients than lim allows.
func (c *GCounter) checkSize(op string, lim Limits) error {
	return checkClients(op, "/c", len(c.counts), lim)
}

// checkClients reports a per-client map with more than lim.MaxClients
// entries.
func checkClients(op, path string, n int, lim Limits) error {
	if n > lim.MaxClients {
		return newError(ErrTooLarge, op, path, "%d clients exceed MaxClients %d", n, lim.MaxClients)
	}
	return nil
}

// sumCounts sums non-negative counts, reporting false on overflow.
func sumCounts(m map[string]int64) (int64, bool) {
	var sum int64
	for _, n := range m {
		if n > math.MaxInt64-sum {
			return 0, false
		}
		sum += n
	}
	return sum, true
}

// mergedSum is the sum of the pointwise maximum of a and b, reporting false
// on overflow, without building the merged map.
func mergedSum(a, b map[string]int64) (int64, bool) {
	sum, ok := sumCounts(a)
	if !ok {
		return 0, false
	}
	for id, n := range b {
		if extra := n - a[id]; extra > 0 {
			if extra > math.MaxInt64-sum {
				return 0, false
			}
			sum += extra
		}
	}
	return sum, true
}
