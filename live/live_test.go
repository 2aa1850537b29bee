package live_test

import (
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
)

type titleRow struct {
	ID    string  `db:"id"`
	Title *string `db:"title"`
}

func titles(rows []titleRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = *r.Title
	}
	return out
}

func TestSelectWindow(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		insert(t, e.db, todo("a", "L", "apple", false), todo("b", "L", "banana", false),
			todo("c", "L", "cherry", false), todo("d", "L", "date", false), todo("e", "M", "egg", false))
		q := openTodos(e.db, "L")
		sub, err := live.Subscribe[titleRow](sys, e.db, q)
		if err != nil {
			t.Fatal(err)
		}
		if c := sub.Class(); c != live.Select {
			t.Fatalf("class %v", c)
		}
		if c := live.Classify(q); c != live.Select {
			t.Fatalf("Classify %v after Subscribe learned the collation", c)
		}
		defer sub.Close()
		<-sub.Ready()
		if got := titles(sub.Snapshot()); len(got) != 3 || got[0] != "apple" || got[2] != "cherry" {
			t.Fatalf("snapshot %v", got)
		}
		// apple leaves the window (done): date refills it.
		if _, err := e.db.Update(Todos).Set(orm.Row{"done": true}).Where(expr.Eq(Todos.Col("id"), "a")).Exec(sys); err != nil {
			t.Fatal(err)
		}
		d := <-sub.Deltas()
		if len(d.Removed) != 1 || d.Removed[0] != "a" || len(d.Added) != 1 {
			t.Fatalf("delta %+v", d)
		}
		if _, ok := d.Added["d"]; !ok {
			t.Fatalf("delta %+v", d)
		}
		got := titles(sub.Snapshot())
		if len(got) != 3 || got[0] != "banana" || got[2] != "date" {
			t.Fatalf("snapshot %v", got)
		}
	})
}
