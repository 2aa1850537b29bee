package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/quick"
)

// Property tests. States are produced by simulating replicas that run
// random operations and merge each other's current and stale states, so
// every state is one a real system could reach (LWW markers and OR-set dots
// stay globally unique). The algebraic laws are then checked on random
// triples of those states, and whole runs are checked for convergence
// against a simple reference model.

var allKinds = []Kind{KindCounter, KindPNCounter, KindLWWRegister, KindORSet}

// sample values for registers and sets: several spellings of equal values,
// nested values, null, and numbers beyond 2^53.
var sampleValues = []string{
	`"a"`, `"b"`, `1`, `1.0`, `null`, `true`, `{"x":1,"y":[2,3]}`, `{ "y":[2,3], "x":1 }`,
	`[]`, `9007199254740993`, `"é\n"`, `{"nested":{"k":"v"}}`,
}

// replica is one simulated client: its state and, for OR-sets, the naive
// OR-set (unique tags plus tombstones) run in lockstep as a model.
type replica struct {
	client string
	state  State
	clock  *Clock
	model  *naiveSet // OR-set only
}

// world is what the reference model needs across replicas.
type world struct {
	r       *rand.Rand
	wall    fakeTime
	total   int64 // counters: sum of every delta applied
	best    *LWWRegister
	nextTag int
}

func newReplica(kind Kind, client string, w *world) *replica {
	s, _ := Decode(kind, nil, Limits{})
	rep := &replica{client: client, state: s, clock: &Clock{Physical: w.wall.now, MaxSkew: -1}}
	if kind == KindORSet {
		rep.model = newNaiveSet()
	}
	return rep
}

func (rep *replica) clone() *replica {
	c := *rep
	c.state = cloneState(rep.state)
	if rep.model != nil {
		c.model = rep.model.clone()
	}
	return &c
}

// op runs one random local operation.
func (rep *replica) op(t testing.TB, w *world) {
	t.Helper()
	var err error
	switch s := rep.state.(type) {
	case *GCounter:
		d := w.r.Int64N(5)
		err = s.Increment(rep.client, d)
		w.total += d
	case *PNCounter:
		d := w.r.Int64N(5)
		if w.r.IntN(2) == 0 {
			err = s.Increment(rep.client, d)
			w.total += d
		} else {
			err = s.Decrement(rep.client, d)
			w.total -= d
		}
	case *LWWRegister:
		w.wall.ms += w.r.Int64N(3) - 1 // wall time jitters, sometimes back
		v := json.RawMessage(sampleValues[w.r.IntN(len(sampleValues))])
		ts := rep.clock.Now()
		err = s.Set(rep.client, v, ts)
		write := &LWWRegister{}
		_ = write.Set(rep.client, v, ts)
		_ = w.best.Merge(write)
	case *ORSet:
		v := sampleValues[w.r.IntN(len(sampleValues))]
		if w.r.IntN(3) == 0 {
			s.Remove(json.RawMessage(v))
			rep.model.remove(canon(t, v))
		} else {
			err = s.Add(rep.client, json.RawMessage(v))
			w.nextTag++
			rep.model.add(canon(t, v), w.nextTag)
		}
	}
	if err != nil {
		t.Fatalf("%s op: %v", rep.client, err)
	}
}

// mergeFrom merges another replica's (possibly stale) state into rep.
func (rep *replica) mergeFrom(t testing.TB, other *replica) {
	t.Helper()
	if err := mergeStates(rep.state, cloneState(other.state)); err != nil {
		t.Fatalf("merge into %s: %v", rep.client, err)
	}
	if rep.model != nil {
		rep.model.merge(other.model)
	}
	if r, ok := other.state.(*LWWRegister); ok {
		if ts, _, ok := r.Marker(); ok {
			_, _ = rep.clock.Update(ts) // receive event, keeps clocks causal
		}
	}
}

// checkModel compares an OR-set replica with its naive model.
func (rep *replica) checkModel(t testing.TB) {
	t.Helper()
	if rep.model == nil {
		return
	}
	got := rawList(rep.state.(*ORSet).Values())
	if want := rawList(rep.model.values()); got != want {
		t.Fatalf("%s: ORSet values %s, naive OR-set %s", rep.client, got, want)
	}
}

func canon(t testing.TB, v string) string {
	t.Helper()
	c, err := CanonicalJSON([]byte(v), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return string(c)
}

// rawList prints JSON values as a JSON array.
func rawList(vs []json.RawMessage) string {
	b, _ := json.Marshal(vs)
	return string(b)
}

func cloneState(s State) State {
	switch s := s.(type) {
	case *GCounter:
		return s.Clone()
	case *PNCounter:
		return s.Clone()
	case *LWWRegister:
		return s.Clone()
	case *ORSet:
		return s.Clone()
	}
	panic("unknown state")
}

func readState(s State) string {
	switch s := s.(type) {
	case *GCounter:
		return fmt.Sprint(s.Read())
	case *PNCounter:
		return fmt.Sprint(s.Read())
	case *LWWRegister:
		return string(s.Read(json.RawMessage(`"<unset>"`)))
	case *ORSet:
		return rawList(s.Values())
	}
	panic("unknown state")
}

// simulate runs random operations and merges (current and stale states,
// duplicated and reordered) over n replicas. It returns the replicas and
// every intermediate state seen.
func simulate(t testing.TB, kind Kind, seed uint64, n, steps int) ([]*replica, []State, *world) {
	t.Helper()
	w := &world{r: rand.New(rand.NewPCG(seed, uint64(kind))), wall: fakeTime{ms: 1_700_000_000_000}, best: &LWWRegister{}}
	reps := make([]*replica, n)
	for i := range reps {
		// Client IDs that need escaping and sort unlike their index.
		reps[i] = newReplica(kind, fmt.Sprintf("c%d/~é", (i*7)%n), w)
	}
	var history []*replica
	var pool []State
	for range steps {
		rep := reps[w.r.IntN(n)]
		switch x := w.r.IntN(10); {
		case x < 6:
			rep.op(t, w)
		case x < 8 || len(history) == 0:
			rep.mergeFrom(t, reps[w.r.IntN(n)])
		default: // a stale state delivered late, possibly again
			rep.mergeFrom(t, history[w.r.IntN(len(history))])
		}
		rep.checkModel(t)
		if w.r.IntN(3) == 0 {
			history = append(history, rep.clone())
			pool = append(pool, cloneState(rep.state))
		}
	}
	return reps, pool, w
}

func mergedCopy(t testing.TB, a, b State) []byte {
	t.Helper()
	m := cloneState(a)
	if err := mergeStates(m, cloneState(b)); err != nil {
		t.Fatalf("merge: %v", err)
	}
	return m.Encode()
}

func TestMergeLaws(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= 5; seed++ {
				_, pool, w := simulate(t, kind, seed, 4, 150)
				for range 60 {
					a, b, c := pool[w.r.IntN(len(pool))], pool[w.r.IntN(len(pool))], pool[w.r.IntN(len(pool))]
					checkLaws(t, kind, a, b, c)
				}
			}
		})
	}
}

// checkLaws checks commutativity, associativity, idempotence, absorption,
// the byte-level Merge and the encoding round trip on one triple.
func checkLaws(t *testing.T, kind Kind, a, b, c State) {
	t.Helper()
	ab, ba := mergedCopy(t, a, b), mergedCopy(t, b, a)
	if !bytes.Equal(ab, ba) {
		t.Fatalf("not commutative:\n a=%s\n b=%s\nab=%s\nba=%s", a.Encode(), b.Encode(), ab, ba)
	}
	abState, _ := Decode(kind, ab, Limits{})
	bc, _ := Decode(kind, mergedCopy(t, b, c), Limits{})
	if l, r := mergedCopy(t, abState, c), mergedCopy(t, a, bc); !bytes.Equal(l, r) {
		t.Fatalf("not associative:\n(ab)c=%s\na(bc)=%s", l, r)
	}
	if aa := mergedCopy(t, a, a); !bytes.Equal(aa, a.Encode()) {
		t.Fatalf("not idempotent: %s vs %s", aa, a.Encode())
	}
	if abb := mergedCopy(t, abState, b); !bytes.Equal(abb, ab) {
		t.Fatalf("merging b again changed ab: %s vs %s", abb, ab)
	}
	viaBytes, err := Merge(kind, a.Encode(), b.Encode(), Limits{})
	if err != nil || !bytes.Equal(viaBytes, ab) {
		t.Fatalf("Merge(bytes) = %s, %v; want %s", viaBytes, err, ab)
	}
	back, err := Decode(kind, a.Encode(), Limits{})
	if err != nil || !bytes.Equal(back.Encode(), a.Encode()) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestConvergence(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			for seed := uint64(1); seed <= 12; seed++ {
				checkConvergence(t, kind, seed)
			}
		})
	}
}

func checkConvergence(t *testing.T, kind Kind, seed uint64) {
	reps, _, w := simulate(t, kind, seed, 5, 300)

	// Folding the final states in any order gives the same bytes.
	var want []byte
	for range 4 {
		order := w.r.Perm(len(reps))
		acc, _ := Decode(kind, nil, Limits{})
		for _, i := range order {
			if err := mergeStates(acc, cloneState(reps[i].state)); err != nil {
				t.Fatal(err)
			}
		}
		if got := acc.Encode(); want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Fatalf("seed %d: fold order %v gives %s, want %s", seed, order, got, want)
		}
	}

	// Gossip in random pairs until everyone has heard from everyone.
	for range 3 {
		for _, i := range w.r.Perm(len(reps)) {
			for _, j := range w.r.Perm(len(reps)) {
				reps[i].mergeFrom(t, reps[j])
			}
		}
	}
	for _, rep := range reps {
		rep.checkModel(t)
		if got := rep.state.Encode(); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: %s did not converge:\n%s\nwant\n%s", seed, rep.client, got, want)
		}
		if readState(rep.state) != readState(reps[0].state) {
			t.Fatalf("seed %d: reads differ", seed)
		}
	}

	// And the converged value is the model's.
	switch s := reps[0].state.(type) {
	case *GCounter:
		if s.Read() != w.total {
			t.Fatalf("seed %d: Read %d, model %d", seed, s.Read(), w.total)
		}
	case *PNCounter:
		if s.Read() != w.total {
			t.Fatalf("seed %d: Read %d, model %d", seed, s.Read(), w.total)
		}
	case *LWWRegister:
		if !bytes.Equal(s.Encode(), w.best.Encode()) {
			t.Fatalf("seed %d: register %s, latest write %s", seed, s.Encode(), w.best.Encode())
		}
	}
}

// TestGCounterLawsQuick checks the laws on arbitrary G-counters, which
// (unlike the other types) need no shared history to be mutually valid.
func TestGCounterLawsQuick(t *testing.T) {
	// Few distinct client IDs, so the maps overlap.
	mk := func(m map[uint8]uint32) *GCounter {
		c := &GCounter{}
		for id, n := range m {
			_ = c.Increment(fmt.Sprintf("k%d", id%16), int64(n))
		}
		return c
	}
	laws := func(x, y, z map[uint8]uint32) bool {
		a, b, c := mk(x), mk(y), mk(z)
		ab, ba := mergedCopy(t, a, b), mergedCopy(t, b, a)
		abc, _ := DecodeGCounter(ab, Limits{})
		bc, _ := DecodeGCounter(mergedCopy(t, b, c), Limits{})
		return bytes.Equal(ab, ba) &&
			bytes.Equal(mergedCopy(t, abc, c), mergedCopy(t, a, bc)) &&
			bytes.Equal(mergedCopy(t, a, a), a.Encode())
	}
	if err := quick.Check(laws, &quick.Config{MaxCount: 200, Rand: mrand.New(mrand.NewSource(1))}); err != nil {
		t.Fatal(err)
	}
}

// naiveSet is the textbook OR-set (Shapiro et al. 2011): every add has a
// unique tag, a remove tombstones the tags it has seen, merge is union. It
// is obviously correct and grows forever; ORSet must behave the same.
type naiveSet struct {
	adds  map[string]map[int]bool // value -> tags
	tombs map[int]bool
}

func newNaiveSet() *naiveSet {
	return &naiveSet{adds: map[string]map[int]bool{}, tombs: map[int]bool{}}
}

func (n *naiveSet) add(v string, tag int) {
	if n.adds[v] == nil {
		n.adds[v] = map[int]bool{}
	}
	n.adds[v][tag] = true
}

func (n *naiveSet) remove(v string) {
	for tag := range n.adds[v] {
		n.tombs[tag] = true
	}
}

func (n *naiveSet) merge(o *naiveSet) {
	for v, tags := range o.adds {
		for tag := range tags {
			n.add(v, tag)
		}
	}
	for tag := range o.tombs {
		n.tombs[tag] = true
	}
}

func (n *naiveSet) clone() *naiveSet {
	c := newNaiveSet()
	c.merge(n)
	return c
}

func (n *naiveSet) values() []json.RawMessage {
	var out []string
	for v, tags := range n.adds {
		for tag := range tags {
			if !n.tombs[tag] {
				out = append(out, v)
				break
			}
		}
	}
	slices.Sort(out)
	res := make([]json.RawMessage, len(out))
	for i, v := range out {
		res[i] = json.RawMessage(v)
	}
	return res
}
