package orm_test

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

var (
	rtUsers  = orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Int("age"), orm.Text("bio").Nullable())
	rtOrders = orm.NewTable("orders", orm.ID(), orm.Text("user_id"), orm.BigInt("total"))
)

// TestSelectChecksWhileRendering covers what the render pass checks that
// no other test reaches: each statement is refused with a QueryError
// naming the problem, and no SQL comes back.
func TestSelectChecksWhileRendering(t *testing.T) {
	u, o := rtUsers, rtOrders
	for _, c := range []struct {
		name   string
		q      *orm.SelectQuery
		err    error
		column string
	}{
		{"unknown column in an empty IN list", orm.Select(u.Col("id")).From(u).Where(expr.InArray(u.Col("nope"), []int{})),
			orm.ErrUnknownColumn, "users.nope"},
		{"nil predicate", orm.Select(u.Col("id")).From(u).Where(nil), orm.ErrNoValues, ""},
		{"an aliased table's column beside the table", orm.Select(u.Col("id")).From(u).Where(expr.Eq(u.As("v").Col("name"), "x")),
			orm.ErrUnknownTable, "v.name"},
		{"a FROM subquery does not see the tables joined beside it",
			orm.Select(expr.ColRef("s", "id")).
				FromSubquery(orm.Select(u.Col("id")).From(u).Where(expr.Eq(o.Col("total"), 1)), "s").
				InnerJoin(o, expr.Eq(o.Col("user_id"), expr.ColRef("s", "id"))),
			orm.ErrUnknownTable, "orders.total"},
		{"wrong kind in an IN list of a subquery", orm.Select(u.Col("id")).From(u).
			Where(expr.InArray(u.Col("id"), orm.Select(o.Col("user_id")).From(o).Where(expr.InArray(o.Col("total"), []any{1, "x"})))),
			orm.ErrValueKind, "orders.total"},
		{"wrong kind, value first", orm.Select(u.Col("id")).From(u).Where(expr.Gt(true, u.Col("age"))),
			orm.ErrValueKind, "users.age"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
				text, args, err := c.q.Render(d)
				var qe *orm.QueryError
				if !errors.As(err, &qe) || !errors.Is(err, c.err) || qe.Column != c.column {
					t.Fatalf("%s: got %q %v %v, want %v on %q", d.Name(), text, args, err, c.err, c.column)
				}
				if text != "" || args != nil {
					t.Errorf("%s: SQL %q %v came back with the error", d.Name(), text, args)
				}
			}
		})
	}
}

// TestSelectRendersConcurrently renders one statement from many
// goroutines: rendering only reads it, and every caller gets its own
// arguments.
func TestSelectRendersConcurrently(t *testing.T) {
	u, o := rtUsers, rtOrders
	q := orm.Select(u.Col("id"), u.Col("name")).From(u).
		Where(expr.Gt(u.Col("age"), 18), expr.InArray(u.Col("id"), orm.Select(o.Col("user_id")).From(o).Where(expr.Gt(o.Col("total"), 100)))).
		OrderBy(expr.Desc(u.Col("bio"))).Limit(5)
	want, wantArgs, err := q.Render(postgres.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got, args, err := q.Render(postgres.Dialect)
				if err != nil || got != want || !reflect.DeepEqual(args, wantArgs) {
					errs <- fmt.Errorf("%q %v %v", got, args, err)
					return
				}
				args[0] = "changed" // the caller's to change
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestSelectArguments checks the argument slice Render returns: exactly
// as long as the placeholders, nil when there are none, and not shared
// with the next render.
func TestSelectArguments(t *testing.T) {
	u := rtUsers
	q := orm.Select(u.Col("id")).From(u).Where(expr.Eq(u.Col("name"), "ann"), expr.Gt(u.Col("age"), 3))
	_, first, err := q.Render(sqlite.Dialect)
	if err != nil || len(first) != 2 || cap(first) != 2 {
		t.Fatalf("%v (cap %d) %v", first, cap(first), err)
	}
	first[0] = "changed"
	if _, again, _ := q.Render(sqlite.Dialect); again[0] != "ann" {
		t.Errorf("second render's args %v", again)
	}
	if _, none, err := orm.Select(u.Col("id")).From(u).Render(sqlite.Dialect); err != nil || none != nil {
		t.Errorf("no placeholders: %#v %v", none, err)
	}
	// Many values outgrow the scope's own buffer and stay correct.
	var preds []expr.Expr
	for i := range 20 {
		preds = append(preds, expr.Ne(u.Col("age"), i))
	}
	_, many, err := orm.Select(u.Col("id")).From(u).Where(preds...).Render(postgres.Dialect)
	if err != nil || len(many) != 20 || many[19] != 19 {
		t.Errorf("%v %v", many, err)
	}
}

// TestColumnTextQuoted checks that the quoted text Table.Col's references
// carry is what the Builder would write from the names, quotes doubled,
// aliases included.
func TestColumnTextQuoted(t *testing.T) {
	odd := orm.NewTable(`we"ird`, orm.ID(), orm.Text(`co"l`))
	a := odd.As(`a "b`)
	for _, c := range []struct {
		q    *orm.SelectQuery
		want string
	}{
		{orm.Select(odd.Col(`co"l`)).From(odd).Where(expr.Eq(odd.Col("id"), "x")),
			`SELECT "we""ird"."co""l" FROM "we""ird" WHERE ("we""ird"."id" = ?)`},
		{orm.Select(a.Col(`co"l`)).From(a).Where(expr.Eq(expr.ColRef(`a "b`, "id"), "x")),
			`SELECT "a ""b"."co""l" FROM "we""ird" AS "a ""b" WHERE ("a ""b"."id" = ?)`},
		{orm.Select().From(a),
			`SELECT "a ""b"."id", "a ""b"."co""l" FROM "we""ird" AS "a ""b"`},
	} {
		got, _, err := c.q.ToSql()
		if err != nil || got != c.want {
			t.Errorf("got %s %v\nwant %s", got, err, c.want)
		}
	}
}
