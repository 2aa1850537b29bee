package orm_test

import (
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// renders renders q for PostgreSQL, failing the test on an error.
func renders(t *testing.T, q interface {
	ToSql() (string, []any, error)
}) string {
	t.Helper()
	text, _, err := q.ToSql()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestPartsCopiesDoNotShareBuffers: two copies of a SELECT's clauses
// appended to separately keep their own predicates, and the query keeps
// its own. When the clauses were an exported field, a copy's WHERE pointed
// into the query's inline buffer, so the second append overwrote the first.
func TestPartsCopiesDoNotShareBuffers(t *testing.T) {
	u := rtUsers
	q := orm.Select(u.Col("id")).From(u).Where(expr.Eq(u.Col("name"), "a"))
	before := renders(t, q)
	first, second := expr.Eq(u.Col("age"), 1), expr.Eq(u.Col("age"), 2)
	p1 := q.Parts()
	p1.Where = append(p1.Where, first)
	p2 := q.Parts()
	p2.Where = append(p2.Where, second)
	if len(p1.Where) != 2 || p1.Where[1] != first {
		t.Fatalf("the first copy's WHERE was overwritten: %v", p1.Where)
	}
	q.Where(expr.Eq(u.Col("age"), 3))
	if p2.Where[1] != second {
		t.Fatalf("the query's own Where wrote into a copy: %v", p2.Where)
	}
	if got := renders(t, orm.Select(u.Col("id")).From(u).Where(expr.Eq(u.Col("name"), "a"))); got != before {
		t.Fatalf("rendering changed: %s, want %s", got, before)
	}
}

// TestRewriteLeavesTheQuery: each statement's Rewrite edits a clone;
// the query it was called on renders as before, and the clone as edited.
func TestRewriteLeavesTheQuery(t *testing.T) {
	u := rtUsers
	extra := expr.Eq(u.Col("age"), 7)
	check := func(name string, q, c interface {
		ToSql() (string, []any, error)
	}, before string) {
		t.Helper()
		if got := renders(t, q); got != before {
			t.Errorf("%s: Rewrite changed the query: %s, want %s", name, got, before)
		}
		if got := renders(t, c); got == before {
			t.Errorf("%s: the clone was not rewritten: %s", name, got)
		}
	}

	sel := orm.Select(u.Col("id")).From(u).Where(expr.Eq(u.Col("name"), "a")).OrderBy(expr.Asc(u.Col("id")))
	before := renders(t, sel)
	sc, sp := sel.Rewrite()
	sp.Where = append(sp.Where, extra)
	sp.Columns[0] = u.Col("name")
	sp.OrderBy[0] = expr.Desc(u.Col("id"))
	check("SELECT", sel, sc, before)

	upd := orm.Update(u).Set(orm.Row{"name": "b"}).Where(expr.Eq(u.Col("id"), "x")).Returning(u.Col("id"))
	before = renders(t, upd)
	uc, up := upd.Rewrite()
	up.Where = append(up.Where, extra)
	up.Set[0].Value = "c"
	up.Returning.Columns[0] = u.Col("name")
	check("UPDATE", upd, uc, before)

	del := orm.Delete(u).Where(expr.Eq(u.Col("id"), "x")).Returning(u.Col("id"))
	before = renders(t, del)
	dc, dp := del.Rewrite()
	dp.Where[0] = extra
	dp.Returning.Columns[0] = u.Col("name")
	check("DELETE", del, dc, before)

	ins := orm.Insert(u).Values(orm.Row{"id": "x", "name": "b", "age": 1}).Returning(u.Col("id"))
	before = renders(t, ins)
	ic, ip := ins.Rewrite()
	ip.Rows[0] = []any{"y", "c", 2}
	ip.Returning.Columns[0] = u.Col("name")
	check("INSERT", ins, ic, before)
	if _, args, _ := ins.Render(postgres.Dialect); args[0] != "x" {
		t.Errorf("INSERT: Rewrite changed the query's row: %v", args)
	}
}

// TestSelectOutgrowsInlineClauses: a SELECT whose projection, WHERE or
// ORDER BY outgrows the query's inline room renders every term, in order,
// and so do its Clone and its Rewrite clone, which leave it as it is.
func TestSelectOutgrowsInlineClauses(t *testing.T) {
	u := rtUsers
	small := func() *orm.SelectQuery {
		return orm.Select(u.Col("id"), u.Col("name")).From(u).
			Where(expr.Eq(u.Col("age"), 1)).OrderBy(expr.Asc(u.Col("id")))
	}
	const want = `SELECT "users"."id", "users"."name", "users"."id", "users"."name", "users"."id", "users"."name", "users"."id", "users"."name" ` +
		`FROM "users" WHERE ("users"."age" = ?) AND ("users"."age" = ?) AND ("users"."age" = ?) AND ("users"."age" = ?) AND ("users"."age" = ?) ` +
		`ORDER BY "users"."id", "users"."name" DESC`
	cols := []expr.Expr{u.Col("id"), u.Col("name"), u.Col("id"), u.Col("name"), u.Col("id"), u.Col("name"), u.Col("id"), u.Col("name")}
	grow := func(q *orm.SelectQuery) *orm.SelectQuery {
		return q.Where(expr.Eq(u.Col("age"), 2), expr.Eq(u.Col("age"), 3)).
			Where(expr.Eq(u.Col("age"), 4), expr.Eq(u.Col("age"), 5)).
			OrderBy(expr.Desc(u.Col("name")))
	}
	wide := grow(orm.Select(cols...).From(u).Where(expr.Eq(u.Col("age"), 1)).OrderBy(expr.Asc(u.Col("id"))))
	if got := renders(t, wide); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := renders(t, wide.Clone()); got != want {
		t.Fatalf("Clone: got %s", got)
	}
	c, p := wide.Rewrite()
	p.Where = append(p.Where, expr.Eq(u.Col("age"), 6))
	if got := renders(t, c); got == want {
		t.Fatalf("Rewrite: the clone was not rewritten: %s", got)
	}
	if got := renders(t, wide); got != want {
		t.Fatalf("Rewrite changed the query: %s", got)
	}

	// A small query that spills after a Clone: the clone keeps its own.
	base := small()
	before := renders(t, base)
	grow(base.Clone())
	if got := renders(t, base); got != before {
		t.Fatalf("growing a clone changed the base: %s", got)
	}
	// After Rewrite, appending through the builder keeps what f set.
	rc, rp := small().Rewrite()
	rp.Where = append(rp.Where, expr.Eq(u.Col("age"), 9))
	rc.Where(expr.Eq(u.Col("age"), 10))
	if got := len(rc.Parts().Where); got != 3 {
		t.Fatalf("after Rewrite and Where: %d predicates, want 3", got)
	}
}

// TestSelectBuiltAndRenderedStaysOnTheStack counts what building and
// rendering a SELECT allocates (a count, not a timing): its three
// predicate nodes, the SQL text and the arguments. A fifth allocation
// would be the query itself, forced onto the heap again, as it was while
// its clauses held slices of its own inline buffers.
func TestSelectBuiltAndRenderedStaysOnTheStack(t *testing.T) {
	u := rtUsers
	const age, name = 18, "a%"
	var text string
	allocs := testing.AllocsPerRun(100, func() {
		q := orm.Select(u.Col("id"), u.Col("name")).From(u).
			Where(expr.Gt(u.Col("age"), age), expr.Like(u.Col("name"), name), expr.IsNotNull(u.Col("bio"))).
			OrderBy(expr.Desc(u.Col("id"))).Limit(10)
		var err error
		if text, _, err = q.Render(postgres.Dialect); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 5 {
		t.Errorf("building and rendering a SELECT allocates %v times, want at most 5 (%s)", allocs, text)
	}
}
