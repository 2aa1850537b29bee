package server_test

import (
	"fmt"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
)

// TestCheaperRescan: a pull whose cookie is followed by more changes
// than twice its view (plus 256), here other users' tags (a table
// without a SyncScope: its changes are all read), rescans by
// choice ("cheaper", known from the change-log heads before anything is
// read) and still answers exactly; a pull after a few changes is
// incremental again.
func TestCheaperRescan(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Exec != ormtest.ExecPool {
			t.Skip("one executor mode is enough")
		}
		e := newEnv(t, tg, tg.DB, nil)
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"ID":"L1","Name":"home"}`},
			mut{"c1", 2, "createTodo", `{"id":"a1","listID":"L1","title":"mine"}`})
		e.mustPush("bob", "g2", mut{"c2", 1, "createList", `{"ID":"L2","Name":"bob's"}`},
			mut{"c2", 2, "createTodo", `{"id":"b","listID":"L2","title":"theirs"}`})
		c := e.newClient("ann", "g1")
		c.pull(t)
		ms := make([]mut, 300)
		for i := range ms {
			ms[i] = mut{"c2", int64(i + 3), "tag", fmt.Sprintf(`{"id":"g%d","todoID":"b","label":"theirs"}`, i)}
		}
		e.mustPush("bob", "g2", ms[:150]...)
		e.mustPush("bob", "g2", ms[150:]...)
		e.mustPush("ann", "g1", mut{"c1", 3, "createTodo", `{"id":"a2","listID":"L1","title":"mine too"}`})
		before := e.h.PullStats()
		if r := c.pull(t); !r.Changed {
			t.Fatalf("pull after ann's todo: nothing changed: %s", r.Raw)
		}
		c.checkConverged(t)
		after := e.h.PullStats()
		if got := after.Fallbacks["cheaper"] - before.Fallbacks["cheaper"]; got != 1 {
			t.Fatalf("%d cheaper rescans, want 1: %+v", got, after)
		}
		e.mustPush("ann", "g1", mut{"c1", 4, "updateTodo", `{"id":"a1","title":"changed","done":true}`})
		if r := c.pull(t); !r.Changed {
			t.Fatalf("pull after ann's update: nothing changed: %s", r.Raw)
		}
		c.checkConverged(t)
		if got := e.h.PullStats().Incremental - after.Incremental; got != 1 {
			t.Fatalf("%d incremental pulls, want 1: %+v", got, e.h.PullStats())
		}
		if errs := e.takeErrors(); len(errs) != 0 {
			t.Fatalf("errors: %v", errs)
		}
	})
}
