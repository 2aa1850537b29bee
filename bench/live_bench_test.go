package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// liveTodos is the table of the live-query benchmarks, indexed for the
// list query (list_id, done, title).
var (
	liveTodos = orm.NewTable("live_todos",
		orm.ID(), orm.Text("list_id"), orm.Text("title"), orm.Boolean("done").Default(false), orm.BigInt("x").Default(0)).
		With(orm.TableOptions{Indexes: []orm.Index{{Name: "live_todos_list", Columns: []string{"list_id", "done", "title"}}}})
	liveSchema = orm.MustDefineSchema("1", liveTodos)
)

type liveTitle struct {
	ID    string `db:"id"`
	Title string `db:"title"`
}

type liveSum struct {
	ListID string `db:"list_id"`
	N      int64  `db:"n"`
	S      int64  `db:"s"`
}

// liveRows is the size of BenchmarkLiveUpdate's table: the issue's
// 1,000,000 rows unless PLASMA_LIVE_ROWS says otherwise.
func liveRows() int {
	if n, err := strconv.Atoi(os.Getenv("PLASMA_LIVE_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// liveOpen makes a SQLite database with rows todos spread over lists
// lists (row j: id and title t%07d, list j%lists, done when j/lists is
// odd, x = j%10), loaded
// in one transaction with multi-row INSERTs, and returns it with the
// change log installed.
func liveOpen(b testing.TB, rows, lists int, mws ...orm.Middleware) *orm.DB {
	b.Helper()
	ctx := context.Background()
	sqldb, err := sqlite.Open(filepath.Join(b.TempDir(), "live.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sqldb.Close() })
	plain := orm.New(sqldb, sqlite.Dialect)
	if err := orm.EnsureSchema(ctx, liveSchema, plain); err != nil {
		b.Fatal(err)
	}
	if err := changelog.Ensure(ctx, plain); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	tx, err := sqldb.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	const per = 500
	var sb strings.Builder
	args := make([]any, 0, per*5)
	for i := 0; i < rows; i += per {
		sb.Reset()
		args = args[:0]
		sb.WriteString(`INSERT INTO "live_todos" ("id", "list_id", "title", "done", "x") VALUES `)
		for j := i; j < min(i+per, rows); j++ {
			if j > i {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?)")
			args = append(args, fmt.Sprintf("t%07d", j), fmt.Sprintf("l%05d", j%lists), fmt.Sprintf("t%07d", j), (j/lists)%2, j%10)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d rows in %v", rows, time.Since(start).Round(time.Millisecond))
	return plain.Use(append(mws, changelog.Middleware(changelog.Options{}))...)
}

func liveListQuery(db *orm.DB, list string) *orm.SelectQuery {
	return db.Select(liveTodos.Col("id"), liveTodos.Col("title")).From(liveTodos).
		Where(expr.Eq(liveTodos.Col("list_id"), list), expr.Eq(liveTodos.Col("done"), false)).
		OrderBy(expr.Asc(liveTodos.Col("title"))).Limit(50)
}

func liveSumQuery(db *orm.DB) *orm.SelectQuery {
	return db.Select(liveTodos.Col("list_id"), expr.As(expr.CountAll(), "n"), expr.As(expr.Sum(liveTodos.Col("x")), "s")).
		From(liveTodos).GroupBy(liveTodos.Col("list_id"))
}

// liveWrites numbers the writes of all runs, so each one changes the row.
var liveWrites atomic.Int64

// liveWrite changes one open todo of list l000007 so that both queries'
// results change: its title moves it to the top of the window, its x
// changes the list's sum.
func liveWrite(b *testing.B, db *orm.DB) {
	i := int(liveWrites.Add(1))
	_, err := db.Update(liveTodos).Set(orm.Row{"title": fmt.Sprintf("a%09d", 1_000_000_000-i), "x": int64(i)}).
		Where(expr.Eq(liveTodos.Col("id"), "t0000007")).Exec(context.Background())
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLiveUpdate: one write that changes the result of a LIMIT 50
// list query and of a COUNT/SUM GROUP BY, on a large todos table, timed
// end to end from the write to both results being current. ivm: live
// subscriptions (deltas delivered by callback); rerun: both queries run
// again after the write.
func BenchmarkLiveUpdate(b *testing.B) {
	rows := liveRows()
	db := liveOpen(b, rows, rows/100)
	ctx := context.Background()
	b.Run("ivm", func(b *testing.B) {
		got := make(chan struct{}, 2)
		cb := func(string) func(live.Delta[liveTitle]) { return func(live.Delta[liveTitle]) { got <- struct{}{} } }
		start := time.Now()
		sel, err := live.SubscribeFunc(ctx, db, liveListQuery(db, "l00007"), cb(""))
		if err != nil {
			b.Fatal(err)
		}
		defer sel.Close()
		agg, err := live.SubscribeFunc(ctx, db, liveSumQuery(db), func(live.Delta[liveSum]) { got <- struct{}{} })
		if err != nil {
			b.Fatal(err)
		}
		defer agg.Close()
		<-sel.Ready()
		<-agg.Ready()
		if sel.Class() != live.Select || agg.Class() != live.Aggregate {
			b.Fatalf("classes %v %v", sel.Class(), agg.Class())
		}
		b.Logf("subscribed (rows loaded) in %v", time.Since(start).Round(time.Millisecond))
		b.ResetTimer()
		for range b.N {
			liveWrite(b, db)
			<-got
			<-got
		}
	})
	b.Run("rerun", func(b *testing.B) {
		for range b.N {
			liveWrite(b, db)
			if _, err := orm.All[liveTitle](ctx, liveListQuery(db, "l00007")); err != nil {
				b.Fatal(err)
			}
			if _, err := orm.All[liveSum](ctx, liveSumQuery(db)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// countStatements counts SELECTs (and raw reads, the change log's) run
// through a DB.
type countStatements struct{ selects, raws atomic.Int64 }

func (c *countStatements) mw(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		switch st.Op {
		case orm.OpSelect:
			c.selects.Add(1)
		case orm.OpRaw:
			c.raws.Add(1)
		}
		return next(ctx, st)
	}
}

// BenchmarkLiveFanout: 10,000 subscriptions to list queries (distinct
// lists) on one table; each op is one write to one list. Reports the
// delivery latency from the write's return (its commit) to the affected
// subscription's delta (p50, p99), the queries the op cost (selects/op:
// the unaffected subscriptions must cost none; logreads/op: the engine's
// change-log reads, shared by all) and the heap per idle subscription.
func BenchmarkLiveFanout(b *testing.B) {
	const subs = 10_000
	var cnt countStatements
	db := liveOpen(b, subs*5, subs, cnt.mw)
	ctx := context.Background()
	got := make([]chan struct{}, subs)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	all := make([]*live.Subscription[liveTitle], subs)
	for i := range subs {
		ch := make(chan struct{}, 1)
		got[i] = ch
		s, err := live.SubscribeFunc(ctx, db, liveListQuery(db, fmt.Sprintf("l%05d", i)), func(live.Delta[liveTitle]) { ch <- struct{}{} })
		if err != nil {
			b.Fatal(err)
		}
		all[i] = s
	}
	for _, s := range all {
		<-s.Ready()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	defer func() {
		for _, s := range all {
			s.Close()
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	sel0, raw0 := cnt.selects.Load(), cnt.raws.Load()
	b.ResetTimer()
	for i := range b.N {
		list := (i * 7919) % subs
		j := list // row j is in list j and open
		_, err := db.Update(liveTodos).Set(orm.Row{"title": fmt.Sprintf("u%09d", i)}).
			Where(expr.Eq(liveTodos.Col("id"), fmt.Sprintf("t%07d", j))).Exec(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		<-got[list]
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(cnt.selects.Load()-sel0)/float64(b.N), "selects/op")
	b.ReportMetric(float64(cnt.raws.Load()-raw0)/float64(b.N), "logreads/op")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/subs, "B/sub")
}

// BenchmarkLiveIdleMemory reports the heap an idle subscription holds
// with an empty result (B/sub), so that BenchmarkLiveFanout's B/sub minus
// it is what its 5-row result costs. Each op is one subscription.
func BenchmarkLiveIdleMemory(b *testing.B) {
	db := liveOpen(b, 1000, 100)
	ctx := context.Background()
	subs := make([]*live.Subscription[liveTitle], 0, b.N)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		s, err := live.Subscribe[liveTitle](ctx, db, liveListQuery(db, fmt.Sprintf("none%07d", i)))
		if err != nil {
			b.Fatal(err)
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		<-s.Ready()
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "B/sub")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	for _, s := range subs {
		s.Close()
	}
}
