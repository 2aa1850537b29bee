package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/crdtcol"
)

// crdtClients are the ten clients that write the benchmark sets.
var crdtClients = func() []string {
	c := make([]string, 10)
	for i := range c {
		c[i] = fmt.Sprintf("client-%d", i)
	}
	return c
}()

// crdtElem is the i-th element of the benchmark sets: a small JSON object,
// like a tag or a member reference.
func crdtElem(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"id":%d,"tag":"t%d"}`, i, i%17))
}

func crdtAdd(b *testing.B, s *crdt.ORSet, client string, v json.RawMessage) {
	if err := s.Add(client, v); err != nil {
		b.Fatal(err)
	}
}

// crdtMergeSets returns two replicas of a set, each of 1,000 live elements
// written by 10 clients: they share 800 elements of a common history, and
// since they last synced each has removed 200 of those (different ones)
// and added 200 of its own, so a merge has dots to drop, dots to keep and
// elements to add on both sides.
func crdtMergeSets(b *testing.B) (*crdt.ORSet, *crdt.ORSet) {
	r := rand.New(rand.NewPCG(1, 2))
	base := &crdt.ORSet{}
	for i := range 1000 {
		crdtAdd(b, base, crdtClients[r.IntN(10)], crdtElem(i))
	}
	x, y := base.Clone(), base.Clone()
	for i := range 200 {
		x.Remove(crdtElem(i))
		y.Remove(crdtElem(200 + i))
		crdtAdd(b, x, crdtClients[r.IntN(5)], crdtElem(1000+i))
		crdtAdd(b, y, crdtClients[5+r.IntN(5)], crdtElem(2000+i))
	}
	if x.Len() != 1000 || y.Len() != 1000 {
		b.Fatalf("sets of %d and %d elements", x.Len(), y.Len())
	}
	return x, y
}

// BenchmarkORSetMerge merges two 1,000-element OR-sets written by 10
// clients:
//
//   - typed: in memory, Clone + Merge (the clone is part of the cost, as a
//     merge that keeps both inputs needs it);
//   - bytes: crdt.Merge on the two encoded states — decode both, merge,
//     encode — which is what crdtcol does for each row a write touches;
//   - sqlite-update: the whole column write through the ORM with the
//     crdtcol middleware on an in-memory SQLite database: transaction,
//     locking read, merge, UPDATE.
func BenchmarkORSetMerge(b *testing.B) {
	x, y := crdtMergeSets(b)
	xb, yb := x.Encode(), y.Encode()
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := x.Clone()
			m.Merge(y)
			if m.Len() != 1000 {
				b.Fatalf("merged %d elements", m.Len())
			}
		}
	})
	b.Run("bytes", func(b *testing.B) {
		b.SetBytes(int64(len(xb) + len(yb)))
		b.ReportAllocs()
		for b.Loop() {
			out, err := crdt.Merge(crdt.KindORSet, xb, yb, crdt.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			sinkBuf = out
		}
	})
	b.Run("sqlite-update", func(b *testing.B) {
		ctx := context.Background()
		sets := orm.NewTable("crdt_bench_sets", orm.ID(), orm.CRDTORSet("members").Nullable())
		db, err := orm.Open(sqlite.Dialect, ":memory:", crdtcol.Middleware(crdtcol.Options{}))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if err := orm.EnsureSchema(ctx, orm.MustDefineSchema("1", sets), db); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Insert(sets).Values(orm.Row{"id": "s", "members": string(xb)}).Exec(ctx); err != nil {
			b.Fatal(err)
		}
		q := db.Update(sets).Set(orm.Row{"members": string(yb)}).Where(expr.Eq(sets.Col("id"), "s"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := q.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// crdtHistory runs 10,000 random operations on a set of up to 1,000
// values by 10 clients — 60% adds of a random value, 40% removes of a
// random value — and returns the state every replica converges to.
//
// With sync < 0 every operation is applied to one shared state, as
// operations written through crdtcol are (each on the stored state). With
// sync >= 0 each client works on its own replica and, after each of its
// operations, merges a random peer's replica into its own with
// probability sync; at the end all replicas are merged.
func crdtHistory(b *testing.B, sync float64) *crdt.ORSet {
	r := rand.New(rand.NewPCG(3, 4))
	shared := &crdt.ORSet{}
	reps := make([]*crdt.ORSet, len(crdtClients))
	for i := range reps {
		reps[i] = shared
		if sync >= 0 {
			reps[i] = &crdt.ORSet{}
		}
	}
	for range 10_000 {
		c := r.IntN(len(crdtClients))
		s := reps[c]
		if v := crdtElem(r.IntN(1000)); r.IntN(10) < 6 {
			crdtAdd(b, s, crdtClients[c], v)
		} else {
			s.Remove(v)
		}
		if sync > 0 && r.Float64() < sync {
			s.Merge(reps[r.IntN(len(reps))])
		}
	}
	if sync < 0 {
		return shared
	}
	final := &crdt.ORSet{}
	for _, s := range reps {
		final.Merge(s)
	}
	return final
}

// BenchmarkORSetSize measures what a set's history costs in encoded size:
// after 10,000 random add/remove operations by 10 clients, the bytes per
// live element of the resulting state, against a fresh set holding the
// same elements (each added once, by the 10 clients in turn, so its
// version vector has the same 10 entries). The goal is x-fresh <= 2: size
// does not grow with history. Each iteration replays the whole history.
//
//   - serial: every operation applied to the shared state, as through
//     crdtcol (Add/Remove ops, or full states built on the stored one);
//   - sync=10%, sync=1%: each client offline on its own replica, merging
//     a random peer's replica after an operation with that probability;
//   - offline: no merge until the end, the most concurrency possible,
//     where an element added by several clients keeps a dot for each.
func BenchmarkORSetSize(b *testing.B) {
	for _, sc := range []struct {
		name string
		sync float64
	}{{"serial", -1}, {"sync=10%", 0.1}, {"sync=1%", 0.01}, {"offline", 0}} {
		b.Run(sc.name, func(b *testing.B) {
			var final *crdt.ORSet
			b.ReportAllocs()
			for b.Loop() {
				final = crdtHistory(b, sc.sync)
			}
			live := final.Len()
			fresh := &crdt.ORSet{}
			for i, v := range final.Values() {
				crdtAdd(b, fresh, crdtClients[i%len(crdtClients)], v)
			}
			size, freshSize := len(final.Encode()), len(fresh.Encode())
			b.ReportMetric(float64(live), "live-elems")
			b.ReportMetric(float64(size)/float64(live), "B/live-elem")
			b.ReportMetric(float64(freshSize)/float64(live), "fresh-B/live-elem")
			b.ReportMetric(float64(size)/float64(freshSize), "x-fresh")
		})
	}
}
