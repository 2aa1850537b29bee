package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
)

// liveLists are the lists BenchmarkLiveJoin joins liveTodos with: list
// l%05d is owned by user u(j%100).
var (
	liveLists      = orm.NewTable("live_lists", orm.ID(), orm.Text("owner_id"))
	liveListSchema = orm.MustDefineSchema("1", liveLists)
)

// liveJoinRows is BenchmarkLiveJoin's table size: 100,000 todos unless
// PLASMA_LIVE_JOIN_ROWS says otherwise.
func liveJoinRows() int {
	if n, err := strconv.Atoi(os.Getenv("PLASMA_LIVE_JOIN_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// liveJoinQuery is the join: the open todos of the lists a user
// owns, by title, 50 at most.
func liveJoinQuery(db *orm.DB, owner string) *orm.SelectQuery {
	t, l := liveTodos.Col, liveLists.Col
	return db.Select(t("id"), t("title")).From(liveTodos).InnerJoin(liveLists, expr.Eq(t("list_id"), l("id"))).
		Where(expr.Eq(l("owner_id"), owner), expr.Eq(t("done"), false)).
		OrderBy(expr.Asc(t("title"))).Limit(50)
}

// BenchmarkLiveJoin: one write that changes the result of the issue's
// join (todos JOIN lists ON todos.list_id = lists.id WHERE lists.owner_id
// = ? AND todos.done = false ORDER BY title LIMIT 50), timed end to end
// from the write to the result being current. todo: a todo of a list the
// result holds changes title (ivm looks the list up in its kept rows: no
// query); list: a list of 100 todos changes owner back and forth, so its
// open todos enter and leave (ivm: one query for the list's todos, then
// a refill when they leave). rerun: the query runs again after the write.
func BenchmarkLiveJoin(b *testing.B) {
	db := liveJoinOpen(b, liveJoinRows())
	ctx := context.Background()
	n := 0
	writes := map[string]func(){
		"todo": func() { liveWrite(b, db) },
		"list": func() {
			n++
			owner := "u7"
			if n%2 == 1 {
				owner = "u8"
			}
			if _, err := db.Update(liveLists).Set(orm.Row{"owner_id": owner}).Where(expr.Eq(liveLists.Col("id"), "l00107")).Exec(ctx); err != nil {
				b.Fatal(err)
			}
		},
	}
	for _, w := range []string{"todo", "list"} {
		write := writes[w]
		b.Run(w+"/ivm", func(b *testing.B) {
			got := make(chan struct{}, 1)
			sub, err := live.SubscribeFunc(ctx, db, liveJoinQuery(db, "u7"), func(live.Delta[liveTitle]) { got <- struct{}{} })
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			<-sub.Ready()
			if sub.Class() != live.Select {
				b.Fatalf("class %v", sub.Class())
			}
			b.ResetTimer()
			for range b.N {
				write()
				<-got
			}
		})
		b.Run(w+"/rerun", func(b *testing.B) {
			for range b.N {
				write()
				if _, err := orm.All[liveTitle](ctx, liveJoinQuery(db, "u7")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// liveJoinOpen makes liveOpen's todos (rows of them, in rows/100 lists)
// and their lists.
func liveJoinOpen(b *testing.B, rows int, mws ...orm.Middleware) *orm.DB {
	lists := rows / 100
	db := liveOpen(b, rows, lists, mws...)
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, liveListSchema, db); err != nil {
		b.Fatal(err)
	}
	err := db.Tx(ctx, func(tx *orm.Tx) error {
		for j := range lists {
			row := orm.Row{"id": fmt.Sprintf("l%05d", j), "owner_id": fmt.Sprintf("u%d", j%100)}
			if _, err := tx.Insert(liveLists).Values(row).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkLiveJoinFanout: 100 subscriptions to the join, one
// per owner (each owns 1% of the lists); each op retitles one open todo,
// which changes one subscription's result. Reports the latency from the
// write's return to that subscription's delta and the queries per write
// (selects/op): the other 99 look the todo's list up in one lookup the
// round shares, or in their kept rows.
func BenchmarkLiveJoinFanout(b *testing.B) {
	const owners = 100
	var cnt countStatements
	rows := liveJoinRows()
	lists := rows / 100
	db := liveJoinOpen(b, rows, cnt.mw)
	ctx := context.Background()
	got := make([]chan struct{}, owners)
	for i := range owners {
		ch := make(chan struct{}, 1)
		got[i] = ch
		s, err := live.SubscribeFunc(ctx, db, liveJoinQuery(db, fmt.Sprintf("u%d", i)), func(live.Delta[liveTitle]) { ch <- struct{}{} })
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		<-s.Ready()
	}
	lat := make([]time.Duration, 0, b.N)
	sel0 := cnt.selects.Load()
	b.ResetTimer()
	for i := range b.N {
		j := (i * 7919) % lists // row j is in list j, open, first of its list by title
		_, err := db.Update(liveTodos).Set(orm.Row{"title": fmt.Sprintf("a%09d", 1_000_000_000-i)}).
			Where(expr.Eq(liveTodos.Col("id"), fmt.Sprintf("t%07d", j))).Exec(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		<-got[j%owners]
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(cnt.selects.Load()-sel0)/float64(b.N), "selects/op")
}
