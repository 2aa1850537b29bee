package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// BenchmarkPullReset measures a first pull (a reset) of 10,000 visible
// rows on SQLite.
func BenchmarkPullReset(b *testing.B) {
	tg := ormtest.SQLite(b)
	e := newEnv(b, tg, tg.DB, nil)
	ctx := rowauth.AsSystem(context.Background())
	rows := make([]orm.Row, 0, 500)
	for i := range 10000 {
		rows = append(rows, orm.Row{"id": fmt.Sprintf("n%05d", i), "body": strings.Repeat("x", 60)})
		if len(rows) == cap(rows) {
			if _, err := e.h.DB().Insert(tNotes).Values(rows...).Exec(ctx); err != nil {
				b.Fatal(err)
			}
			rows = rows[:0]
		}
	}
	b.ResetTimer()
	for i := range b.N {
		status, body := e.post("pull", "ann", pullBody(fmt.Sprintf("g%d", i), nil))
		if status != 200 || len(body) < 10000*80 {
			b.Fatal(status, len(body))
		}
	}
}

// BenchmarkPush measures pushes of 100 createTodo mutations on SQLite.
func BenchmarkPush(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("perTx=%d", per), func(b *testing.B) {
			tg := ormtest.SQLite(b)
			e := newEnv(b, tg, tg.DB, func(o *server.Options[appCtx]) { o.MutationsPerTransaction = per })
			e.mustPush("ann", "g", mut{"c", 1, "createList", `{"ID":"L","Name":"l"}`})
			id := int64(1)
			b.ResetTimer()
			for range b.N {
				muts := make([]mut, 100)
				for k := range muts {
					id++
					muts[k] = mut{"c", id, "createTodo", fmt.Sprintf(`{"id":"t%d","listID":"L","title":"x"}`, id)}
				}
				e.mustPush("ann", "g", muts...)
			}
		})
	}
}
