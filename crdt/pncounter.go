package crdt

// PNCounter is a counter that goes up and down: two G-counters, P for
// increments and N for decrements, read as sum(P) - sum(N). Each half is
// merged per client by maximum, so concurrent increments and decrements
// from different clients all count.
//
// Its canonical encoding is {"n":{...},"p":{...}}, each half encoded like a
// GCounter's "c" map.
//
// The zero value is an empty counter, ready to use. Each half's sum always
// fits in an int64, so Read cannot overflow. A PNCounter is not safe for
// concurrent use.
type PNCounter struct {
	p, n GCounter
}

// DecodePNCounter decodes and validates an encoded PN-counter. Empty input
// or JSON null is the empty counter.
func DecodePNCounter(data []byte, lim Limits) (*PNCounter, error) {
	p, empty, err := newParser("decode PN-counter", data, lim)
	if err != nil {
		return nil, err
	}
	c := &PNCounter{}
	if empty {
		return c, nil
	}
	err = p.object("", func(key string) error {
		var half *GCounter
		switch key {
		case "p":
			half = &c.p
		case "n":
			half = &c.n
		default:
			return p.unknown("", key)
		}
		var e error
		half.counts, e = p.counts("/" + key)
		if e == nil {
			if _, ok := sumCounts(half.counts); !ok {
				e = p.fail(ErrOverflow, "/"+key, "sum of counts does not fit in int64")
			}
		}
		return e
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Kind returns KindPNCounter.
func (c *PNCounter) Kind() Kind { return KindPNCounter }

// Encode returns the canonical JSON encoding.
func (c *PNCounter) Encode() []byte {
	dst := append([]byte(nil), `{"n":`...)
	dst = appendCounts(dst, c.n.counts)
	dst = append(dst, `,"p":`...)
	dst = appendCounts(dst, c.p.counts)
	return append(dst, '}')
}

// Read returns the counter's value: increments minus decrements. Both sums
// are in [0, MaxInt64], so the difference always fits. (Seed: pnRead.)
func (c *PNCounter) Read() int64 { return c.p.Read() - c.n.Read() }

// Clients returns the client IDs of each half's map, in byte order: those
// with increments, and those with decrements.
func (c *PNCounter) Clients() (increments, decrements []string) {
	return c.p.Clients(), c.n.Clients()
}

// Increment adds delta (>= 0) for clientID.
func (c *PNCounter) Increment(clientID string, delta int64) error {
	return c.p.add("increment PN-counter", clientID, delta)
}

// Decrement subtracts delta (>= 0) for clientID: it grows the client's
// total in the N half.
func (c *PNCounter) Decrement(clientID string, delta int64) error {
	return c.n.add("decrement PN-counter", clientID, delta)
}

// Merge folds other into c, half by half. If either merged sum would
// overflow int64, c is left unchanged and ErrOverflow is returned.
func (c *PNCounter) Merge(other *PNCounter) error {
	// Check both halves before touching either, so a failed merge leaves
	// no half-merged state behind.
	_, okP := mergedSum(c.p.counts, other.p.counts)
	_, okN := mergedSum(c.n.counts, other.n.counts)
	if !okP || !okN {
		return newError(ErrOverflow, "merge PN-counter", "", "merged sum does not fit in int64")
	}
	_ = c.p.Merge(&other.p) // checked above
	_ = c.n.Merge(&other.n)
	return nil
}

// checkSize reports a merged state with more clients than lim allows.
func (c *PNCounter) checkSize(op string, lim Limits) error {
	if err := checkClients(op, "/n", len(c.n.counts), lim); err != nil {
		return err
	}
	return checkClients(op, "/p", len(c.p.counts), lim)
}

// Clone returns an independent copy.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{p: *c.p.Clone(), n: *c.n.Clone()}
}

// MarshalJSON returns the canonical encoding.
func (c *PNCounter) MarshalJSON() ([]byte, error) { return c.Encode(), nil }

// UnmarshalJSON decodes with DefaultLimits.
func (c *PNCounter) UnmarshalJSON(data []byte) error {
	d, err := DecodePNCounter(data, Limits{})
	if err != nil {
		return err
	}
	*c = *d
	return nil
}
