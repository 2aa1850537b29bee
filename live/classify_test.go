package live_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/live"
	"github.com/plasma-go/plasma/orm"
)

var Blobs = orm.NewTable("blobs", orm.ID(), orm.JSON("doc"), orm.Text("name"))

func TestClassify(t *testing.T) {
	lite := orm.New(nil, sqlite.Dialect)
	// On PostgreSQL before a subscription read the collation, text
	// ordering (the primary key breaks ties) is None.
	pg := orm.New(nil, postgres.Dialect)
	c := func(n string) *expr.Column { return Todos.Col(n) }
	cases := []struct {
		name string
		q    func(db *orm.DB) *orm.SelectQuery
		lite live.Class
		pg   live.Class // before the collation is known
	}{
		{"filter and limit", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("id")).From(Todos).Where(expr.Eq(c("list_id"), "L")).OrderBy(expr.Desc(c("rank"))).Limit(5).Offset(2)
		}, live.Select, live.None}, // ties are broken by the text primary key
		{"text order", func(db *orm.DB) *orm.SelectQuery {
			return db.Select().From(Todos).OrderBy(expr.Asc(c("title")))
		}, live.Select, live.None},
		{"aggregate", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("rank"), expr.As(expr.Sum(c("x")), "s"), expr.As(expr.Avg(c("x")), "a")).From(Todos).
				GroupBy(c("rank")).Having(expr.Gt(expr.CountAll(), 1))
		}, live.Aggregate, live.Aggregate},
		{"unaliased aggregate", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(expr.CountAll()).From(Todos)
		}, live.None, live.None},
		{"HAVING on AVG", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("rank"), expr.As(expr.CountAll(), "n")).From(Todos).GroupBy(c("rank")).Having(expr.Gt(expr.Avg(c("x")), 1))
		}, live.None, live.None},
		{"aggregate LIMIT", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("rank"), expr.As(expr.CountAll(), "n")).From(Todos).GroupBy(c("rank")).Limit(1)
		}, live.None, live.None},
		{"join", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("id")).From(Todos).InnerJoin(Members, expr.Eq(Members.Col("list_id"), c("list_id")))
		}, live.None, live.None},
		{"subquery", func(db *orm.DB) *orm.SelectQuery {
			return db.Select().From(Todos).Where(expr.InArray(c("id"), expr.Sub(orm.Select(Members.Col("id")).From(Members))))
		}, live.None, live.None},
		{"raw", func(db *orm.DB) *orm.SelectQuery {
			return db.Select().From(Todos).Where(expr.SQL("1 = 1"))
		}, live.None, live.None},
		{"types differ", func(db *orm.DB) *orm.SelectQuery {
			return db.Select().From(Todos).Where(expr.Eq(c("rank"), "1"))
		}, live.None, live.None},
		{"LIKE with a backslash", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("id")).From(Todos).Where(expr.Like(c("title"), `a\%`))
		}, live.Select, live.None},
		{"int32 overflow", func(db *orm.DB) *orm.SelectQuery {
			return db.Select(c("id")).From(Todos).Where(expr.Gt(c("rank"), int64(1)<<33))
		}, live.Select, live.None},
		{"JSON column", func(db *orm.DB) *orm.SelectQuery { return db.Select().From(Blobs) }, live.None, live.None},
		{"subquery FROM", func(db *orm.DB) *orm.SelectQuery {
			return db.Select().FromSubquery(orm.Select().From(Todos), "s")
		}, live.None, live.None},
	}
	for _, tc := range cases {
		if got := live.Classify(tc.q(lite)); got != tc.lite {
			t.Errorf("%s on SQLite: %v, want %v", tc.name, got, tc.lite)
		}
		if got := live.Classify(tc.q(pg)); got != tc.pg {
			t.Errorf("%s on PostgreSQL: %v, want %v", tc.name, got, tc.pg)
		}
	}
	if live.Classify(nil) != live.None || live.Classify(orm.Select().From(Todos)) != live.None {
		t.Error("a nil query, or one without a database, must be None (LIKE rules unknown)")
	}
}

// Bad input: a clear error, no subscription.
func TestSubscribeBadInput(t *testing.T) {
	forEngines(t, func(t *testing.T, e engine) {
		if _, err := live.Subscribe[Todo](sys, nil, e.db.Select().From(Todos)); err == nil {
			t.Error("nil database accepted")
		}
		if _, err := live.Subscribe[Todo](sys, e.db, nil); err == nil {
			t.Error("nil query accepted")
		}
		if _, err := live.Subscribe[Todo](sys, e.db, e.db.Select().From(Todos).Limit(-1)); err == nil {
			t.Error("negative LIMIT accepted")
		}
		if _, err := live.SubscribeFunc[Todo](sys, e.db, e.db.Select().From(Todos), nil); err == nil {
			t.Error("nil callback accepted")
		}
		if err := live.ServerSelect[int](context.Background(), e.db, live.ServerSelectOptions[int]{}); err == nil {
			t.Error("ServerSelect without Fetch accepted")
		}
		// A row type the result cannot scan into fails the subscription
		// with a scan error, and Ready still closes.
		type bad struct {
			Title []int `db:"title"`
		}
		insert(t, e.db, todo("a", "L", "t", false))
		sub, err := live.Subscribe[bad](sys, e.db, e.db.Select(Todos.Col("title")).From(Todos))
		if err != nil {
			t.Fatal(err)
		}
		<-sub.Ready()
		waitFor(t, "the scan error", func() bool { return sub.Err() != nil })
		sub.Close()
	})
}
