package live_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/realtime"
)

var (
	liveCases = flag.Int("live.cases", 0, "checks per engine in TestProperty (default 3000 on SQLite, 1200 on PostgreSQL)")
	liveSeed  = flag.Uint64("live.seed", 0, "seed of TestProperty (0: from the clock)")
)

// aggRow is the result row of the generated aggregate queries.
type aggRow struct {
	ListID *string  `db:"list_id"`
	Done   *bool    `db:"done"`
	N      int64    `db:"n"`
	NX     int64    `db:"nx"`
	S      *int64   `db:"s"`
	A      *float64 `db:"a"`
	Mn     *int64   `db:"mn"`
	Mx     *int64   `db:"mx"`
	Mt     *string  `db:"mt"`
}

// gen makes random data, queries and transactions of the todo shape.
type gen struct {
	r   *rand.Rand
	ids []string // live row ids
	n   int      // ids made
}

var genTitles = []string{"a", "ab", "B", "b", "c", "a_c", "Ab", "é"}

func (g *gen) title() any {
	if g.r.IntN(6) == 0 {
		return nil
	}
	return genTitles[g.r.IntN(len(genTitles))]
}

func (g *gen) x() any {
	if g.r.IntN(5) == 0 {
		return nil
	}
	return int64(g.r.IntN(9) - 3)
}

func (g *gen) list() string { return fmt.Sprintf("L%d", g.r.IntN(4)) }

func (g *gen) row() orm.Row {
	g.n++
	id := fmt.Sprintf("r%03d", g.n)
	g.ids = append(g.ids, id)
	return orm.Row{"id": id, "list_id": g.list(), "title": g.title(), "done": g.r.IntN(2) == 0, "x": g.x(), "rank": int64(g.r.IntN(4))}
}

// pred makes a random WHERE predicate over the todo columns.
func (g *gen) pred(depth int) expr.Expr {
	switch k := g.r.IntN(11); {
	case depth > 0 && k == 0:
		return expr.And(g.pred(depth-1), g.pred(depth-1))
	case depth > 0 && k == 1:
		return expr.Or(g.pred(depth-1), g.pred(depth-1))
	case depth > 0 && k == 2:
		return expr.Not(g.pred(depth - 1))
	case k == 3:
		return expr.Eq(Todos.Col("list_id"), g.list())
	case k == 4:
		return expr.InArray(Todos.Col("list_id"), []string{g.list(), g.list()})
	case k == 5:
		return expr.Eq(Todos.Col("done"), g.r.IntN(2) == 0)
	case k == 6:
		ops := []func(l, r any) expr.Expr{expr.Gt, expr.Gte, expr.Lt, expr.Lte, expr.Ne, expr.Eq}
		return ops[g.r.IntN(len(ops))](Todos.Col("x"), g.x())
	case k == 7:
		if g.r.IntN(2) == 0 {
			return expr.IsNull(Todos.Col("x"))
		}
		return expr.IsNotNull(Todos.Col("title"))
	case k == 8:
		pats := []string{"a%", "%b", "_", "%", "A%", "a_c", "%c%"}
		return expr.Like(Todos.Col("title"), pats[g.r.IntN(len(pats))])
	case k == 9:
		return expr.Lte(Todos.Col("rank"), int64(g.r.IntN(4)))
	default:
		return expr.Gt(Todos.Col("title"), genTitles[g.r.IntN(len(genTitles))])
	}
}

// selectQuery makes a random Select-class query; its ORDER BY ends with
// the primary key, so it is total.
func (g *gen) selectQuery(db *orm.DB) *orm.SelectQuery {
	cols := []string{"id", "list_id", "title", "done", "x", "rank"}
	var proj []expr.Expr
	for _, c := range cols {
		if g.r.IntN(2) == 0 {
			proj = append(proj, Todos.Col(c))
		}
	}
	q := db.Select(proj...).From(Todos)
	if g.r.IntN(5) > 0 {
		q.Where(g.pred(2))
	}
	for range g.r.IntN(3) {
		c := Todos.Col([]string{"title", "x", "rank", "done", "list_id"}[g.r.IntN(5)])
		if g.r.IntN(2) == 0 {
			q.OrderBy(expr.Desc(c))
		} else {
			q.OrderBy(expr.Asc(c))
		}
	}
	q.OrderBy(expr.Asc(Todos.Col("id")))
	if g.r.IntN(3) > 0 {
		q.Limit(int64(1 + g.r.IntN(6)))
		if g.r.IntN(3) == 0 {
			q.Offset(int64(g.r.IntN(4)))
		}
	}
	return q
}

// aggQuery makes a random Aggregate-class query, ordered by its groups.
func (g *gen) aggQuery(db *orm.DB) *orm.SelectQuery {
	var group []expr.Expr
	var cols []expr.Expr
	for _, c := range []string{"list_id", "done"} {
		if g.r.IntN(2) == 0 {
			group = append(group, Todos.Col(c))
			cols = append(cols, Todos.Col(c))
		}
	}
	cols = append(cols, expr.As(expr.CountAll(), "n"), expr.As(expr.Count(Todos.Col("x")), "nx"),
		expr.As(expr.Sum(Todos.Col("x")), "s"), expr.As(expr.Avg(Todos.Col("x")), "a"),
		expr.As(expr.Min(Todos.Col("x")), "mn"), expr.As(expr.Max(Todos.Col("x")), "mx"),
		expr.As(expr.Max(Todos.Col("title")), "mt"))
	q := db.Select(cols...).From(Todos)
	if g.r.IntN(3) > 0 {
		q.Where(g.pred(1))
	}
	if len(group) > 0 {
		q.GroupBy(group...)
		switch g.r.IntN(3) {
		case 0:
			q.Having(expr.Gt(expr.CountAll(), int64(g.r.IntN(3))))
		case 1:
			q.Having(expr.Gte(expr.Sum(Todos.Col("x")), int64(g.r.IntN(6)-2)))
		}
		for _, c := range group {
			q.OrderBy(expr.Asc(c))
		}
	}
	return q
}

// tx runs one random transaction of inserts, updates and deletes.
func (g *gen) tx(ctx context.Context, db *orm.DB) error {
	return db.Tx(ctx, func(tx *orm.Tx) error {
		for range 1 + g.r.IntN(4) {
			switch k := g.r.IntN(10); {
			case k < 3 || len(g.ids) < 3:
				if _, err := tx.Insert(Todos).Values(g.row()).Exec(ctx); err != nil {
					return err
				}
			case k < 8:
				id := g.ids[g.r.IntN(len(g.ids))]
				set := orm.Row{}
				for _, c := range []string{"list_id", "title", "done", "x", "rank"} {
					if g.r.IntN(3) == 0 {
						set[c] = g.row()[c]
						g.ids, g.n = g.ids[:len(g.ids)-1], g.n-1
					}
				}
				if len(set) == 0 {
					set["done"] = g.r.IntN(2) == 0
				}
				if _, err := tx.Update(Todos).Set(set).Where(expr.Eq(Todos.Col("id"), id)).Exec(ctx); err != nil {
					return err
				}
			default:
				i := g.r.IntN(len(g.ids))
				id := g.ids[i]
				g.ids = append(g.ids[:i], g.ids[i+1:]...)
				if _, err := tx.Delete(Todos).Where(expr.Eq(Todos.Col("id"), id)).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// watched is one subscription and how to re-run its query.
type watched struct {
	q     *orm.SelectQuery
	check func() (bool, string)
	close func()
}

func watch[T any](t *testing.T, ctx context.Context, db *orm.DB, q *orm.SelectQuery, want live.Class) watched {
	t.Helper()
	sub, err := live.Subscribe[T](ctx, db, q)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Class() != want {
		t.Fatalf("query classified %v, want %v", sub.Class(), want)
	}
	<-sub.Ready()
	return watched{q: q, close: sub.Close, check: func() (bool, string) {
		exp, err := orm.All[T](ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got := sub.Snapshot()
		if err := sub.Err(); err != nil {
			t.Fatalf("subscription failed: %v", err)
		}
		if equalRows(got, exp) {
			return true, ""
		}
		return false, fmt.Sprintf("got  %s\nwant %s", show(got), show(exp))
	}}
}

func show[T any](rows []T) string {
	s := ""
	for _, r := range rows {
		s += fmt.Sprintf("%+v ", deref(reflect.ValueOf(r)))
	}
	return s
}

func deref(v reflect.Value) string {
	out := "{"
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				out += "nil "
				continue
			}
			f = f.Elem()
		}
		out += fmt.Sprint(f.Interface()) + " "
	}
	return out + "}"
}

// equalRows compares results, floats (AVG, exact numeric on PostgreSQL)
// to 1e-9 relative.
func equalRows[T any](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalValue(reflect.ValueOf(a[i]), reflect.ValueOf(b[i])) {
			return false
		}
	}
	return true
}

func equalValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Float64:
		x, y := a.Float(), b.Float()
		return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y))
	}
	return a.Interface() == b.Interface()
}

// TestProperty: random queries of the Select and Aggregate classes stay
// equal to re-running them after every commit of random transactions
// (rows moving in and out of filters and LIMIT windows, NULLs, ties),
// made through two *orm.DB on one database.
func TestProperty(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		defaultCases := 3000
		if e.name == "postgres" {
			defaultCases = 1200
		}
		cases, seed := propertySetup(t, e, defaultCases)
		ctx := sys
		other := e.open()
		g := &gen{r: rand.New(rand.NewPCG(seed, 17))}
		for range 30 {
			insert(t, e.db, g.row())
		}
		const nq = 20
		var subs []watched
		defer func() {
			for _, w := range subs {
				w.close()
			}
		}()
		for i := range nq {
			// A quarter of the subscriptions run as a user who may read
			// one list's rows: the read rule is evaluated in Go, and rows
			// move in and out of it as their list changes.
			who := sys
			if i%4 == 3 {
				who = rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: g.list()})
			}
			if i%3 == 2 {
				subs = append(subs, watch[aggRow](t, who, e.db, g.aggQuery(e.db), live.Aggregate))
			} else {
				subs = append(subs, watch[Todo](t, who, e.db, g.selectQuery(e.db), live.Select))
			}
		}
		checks := 0
		for checks < cases {
			db := e.db
			if g.r.IntN(3) == 0 {
				db = other
			}
			if err := g.tx(ctx, db); err != nil {
				t.Fatal(err)
			}
			checks = awaitAll(t, subs, seed, checks)
		}
		t.Logf("%d checks", checks)
	})
}

// propertySetup returns how many cases a property test runs (-live.cases,
// else defaultCases) and its seed (-live.seed, else the clock, logged for
// replay), and configures e's live engine as the property tests run it:
// a short poll and, on PostgreSQL, LISTEN on the NOTIFY trigger.
func propertySetup(t *testing.T, e engine, defaultCases int) (cases int, seed uint64) {
	t.Helper()
	cases, seed = *liveCases, *liveSeed
	if cases == 0 {
		cases = defaultCases
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-live.seed)", seed)
	opts := live.Options{PollInterval: 20 * time.Millisecond}
	if e.name == "postgres" {
		if err := realtime.Ensure(sys, e.db); err != nil {
			t.Fatal(err)
		}
		opts.Listener = e.dsn
	}
	if err := live.Configure(e.db, opts); err != nil {
		t.Fatal(err)
	}
	return cases, seed
}

// awaitAll waits until every subscription's result equals its query's
// (a live result may trail the commit by a notification), failing with
// the seed, the check's number and the difference after 10 s. It returns
// checks plus the subscriptions checked.
func awaitAll(t *testing.T, subs []watched, seed uint64, checks int) int {
	t.Helper()
	for i, w := range subs {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, diff := w.check()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				sqlText, args, _ := w.q.ToSql()
				t.Fatalf("seed %d, check %d, query %d: %s %v\n%s", seed, checks, i, sqlText, args, diff)
			}
			time.Sleep(time.Millisecond)
		}
		checks++
	}
	return checks
}
