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
