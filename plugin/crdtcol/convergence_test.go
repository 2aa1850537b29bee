package crdtcol_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/crdtcol"
)

// replica is one client's copy of a row's four CRDT columns.
type replica struct {
	id    string
	clock crdt.Clock
	g     *crdt.GCounter
	pn    *crdt.PNCounter
	reg   *crdt.LWWRegister
	set   *crdt.ORSet
}

func newReplica(id string) *replica {
	return &replica{id: id, g: new(crdt.GCounter), pn: new(crdt.PNCounter), reg: new(crdt.LWWRegister), set: new(crdt.ORSet)}
}

// op applies one random local operation.
func (r *replica) op(t *testing.T, rng *rand.Rand) {
	var err error
	elem := json.RawMessage(fmt.Sprintf(`"e%d"`, rng.IntN(6)))
	switch rng.IntN(6) {
	case 0:
		err = r.g.Increment(r.id, rng.Int64N(5))
	case 1:
		err = r.pn.Increment(r.id, rng.Int64N(5))
	case 2:
		err = r.pn.Decrement(r.id, rng.Int64N(5))
	case 3:
		err = r.reg.Set(r.id, json.RawMessage(fmt.Sprintf(`{"by":%q,"n":%d}`, r.id, rng.IntN(100))), r.clock.Now())
	case 4:
		err = r.set.Add(r.id, elem)
	case 5:
		r.set.Remove(elem)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (r *replica) row() orm.Row {
	return orm.Row{
		"likes": string(r.g.Encode()), "score": string(r.pn.Encode()),
		"status": string(r.reg.Encode()), "tags": string(r.set.Encode()),
	}
}

// merge folds another replica's (or the stored) states into r.
func (r *replica) merge(t *testing.T, o *replica) {
	if err := r.g.Merge(o.g); err != nil {
		t.Fatal(err)
	}
	if err := r.pn.Merge(o.pn); err != nil {
		t.Fatal(err)
	}
	if err := r.reg.Merge(o.reg); err != nil {
		t.Fatal(err)
	}
	if ts, _, ok := r.reg.Marker(); ok {
		if _, err := r.clock.Update(ts); err != nil {
			t.Fatal(err)
		}
	}
	r.set.Merge(o.set)
}

func (r *replica) encode() string {
	return fmt.Sprintf("%s|%s|%s|%s", r.g.Encode(), r.pn.Encode(), r.reg.Encode(), r.set.Encode())
}

// stored loads the row's states as a replica.
func stored(t *testing.T, ctx context.Context, db *orm.DB, id string) *replica {
	t.Helper()
	s := newReplica("stored")
	for _, col := range []string{"likes", "score", "status", "tags"} {
		st, err := crdtcol.Load(ctx, db, posts, id, col)
		if err != nil {
			t.Fatal(err)
		}
		switch x := st.(type) {
		case *crdt.GCounter:
			s.g = x
		case *crdt.PNCounter:
			s.pn = x
		case *crdt.LWWRegister:
			s.reg = x
		case *crdt.ORSet:
			s.set = x
		}
	}
	return s
}

// TestConvergence: replicas apply random operations and push their full
// states through the database (and pull the stored states back) in a
// random schedule, over two pools; at the end, after a last round of
// concurrent pushes, the stored bytes are exactly the in-memory merge of
// every replica, and every replica that pulls them reads the same.
func TestConvergence(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, dbA := setup(t, tg, crdtcol.Options{})
		dbB := second(t, tg, crdtcol.Options{})
		pools := []*orm.DB{dbA, dbB}
		for seed := uint64(1); seed <= 3; seed++ {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			id := fmt.Sprint("conv-", seed)
			insertPost(t, ctx, dbA, id)
			reps := make([]*replica, 4)
			for i := range reps {
				reps[i] = newReplica(fmt.Sprint("client-", i))
			}
			push := func(r *replica, db *orm.DB) error {
				_, err := db.Update(posts).Set(r.row()).Where(byID(id)).Exec(ctx)
				return err
			}
			for range 60 {
				r := reps[rng.IntN(len(reps))]
				switch n := rng.IntN(10); {
				case n < 6:
					r.op(t, rng)
				case n < 8:
					if err := push(r, pools[rng.IntN(2)]); err != nil {
						t.Fatalf("seed %d: push: %v", seed, err)
					}
				default:
					r.merge(t, stored(t, ctx, pools[rng.IntN(2)], id))
				}
			}
			want := newReplica("want")
			for _, r := range reps {
				want.merge(t, r)
			}
			// Everyone pushes at once, in whatever order the locks allow.
			var wg sync.WaitGroup
			errs := make(chan error, len(reps))
			for i, r := range rng.Perm(len(reps)) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := push(reps[r], pools[i%2]); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("seed %d: final push: %v", seed, err)
			}
			got := fmt.Sprintf("%s|%s|%s|%s", raw(t, tg, id, "likes"), raw(t, tg, id, "score"), raw(t, tg, id, "status"), raw(t, tg, id, "tags"))
			if got != want.encode() {
				t.Fatalf("seed %d: stored\n%s\nwant the in-memory merge\n%s", seed, got, want.encode())
			}
			for _, r := range reps {
				r.merge(t, stored(t, ctx, dbB, id))
				if r.encode() != got {
					t.Fatalf("seed %d: %s after pulling: %s", seed, r.id, r.encode())
				}
			}
		}
	})
}

// TestConcurrentUpserts: upserts of a row that does not exist yet, from
// two pools at once, all count (PostgreSQL serialises them with an
// advisory lock; SQLite with its immediate transactions).
func TestConcurrentUpserts(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, dbA := setup(t, tg, crdtcol.Options{})
		dbB := second(t, tg, crdtcol.Options{})
		const each = 8
		var wg sync.WaitGroup
		errs := make(chan error, 4*each)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db := []*orm.DB{dbA, dbB}[w%2]
				for k := range each {
					_, err := db.Insert(counters).Values(orm.Row{"n": int64(w*100 + k), "slug": "hot", "hits": crdtcol.Incr(1)}).
						OnConflictDoUpdate([]string{"slug"}, "hits").Exec(as(fmt.Sprint("w", w)))
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rows, err := tg.DB.Query(ctx, `SELECT "hits" FROM "counters" WHERE "slug" = ?`, "hot")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var hits string
		for rows.Next() {
			if err := rows.Scan(&hits); err != nil {
				t.Fatal(err)
			}
		}
		c := gcounter(t, hits)
		if c.Read() != 4*each {
			t.Fatalf("upserts: %s, want %d in all", hits, 4*each)
		}
	})
}
