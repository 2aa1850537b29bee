package server_test

import (
	"errors"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
)

// TestBatchReplay: permanent failures inside a multi-mutation batch
// (which runs without savepoints and replays on a failure) leave exactly
// what a savepoint per mutation would: the others' effects, every
// lastMutationID advanced, each failure reported once.
func TestBatchReplay(t *testing.T) {
	for _, per := range []int{1, 3, 100} {
		ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
			e := newEnv(t, tg, tg.DB, func(o *server.Options[appCtx]) { o.MutationsPerTransaction = per })
			e.mustPush("ann", "g1",
				mut{"c1", 1, "bump", `{"id":"k"}`},
				mut{"c1", 2, "failAfterWrite", `{"id":"n1"}`},
				mut{"c1", 3, "bump", `{"id":"k"}`},
				mut{"c1", 4, "swallow", `{"id":"x"}`},
				mut{"c1", 5, "bump", `{"id":"k"}`},
				mut{"c1", 6, "panics", `{"id":"x"}`},
				mut{"c1", 7, "failAfterWrite", `{"id":"n2"}`},
				mut{"c1", 8, "bump", `{"id":"k"}`},
				mut{"c1", 9, "note", `{"id":"n3","body":"kept"}`})
			if e.lmid(t, "c1") != 9 || e.count(t, "notes") != 1 {
				t.Fatalf("per %d: lmid %d notes %d", per, e.lmid(t, "c1"), e.count(t, "notes"))
			}
			var n int64
			if err := tg.SQL.QueryRow(`SELECT "n" FROM "counters"`).Scan(&n); err != nil || n != 4 {
				t.Fatalf("per %d: counter %d %v", per, n, err)
			}
			want := []int64{2, 6, 7}
			if tg.Name == "postgres" {
				want = []int64{2, 4, 6, 7}
			}
			errs := e.takeErrors()
			if len(errs) != len(want) {
				t.Fatalf("per %d: errors %v", per, errs)
			}
			for i, err := range errs {
				if !errors.Is(err, server.KindMutatorFailed) || err.MutationID != want[i] {
					t.Fatalf("per %d: errors %v", per, errs)
				}
			}
			cl := e.newClient("ann", "g1")
			cl.pull(t)
			cl.checkConverged(t)
		})
	}
}
