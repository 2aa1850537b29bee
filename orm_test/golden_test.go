package ormtest_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sq "github.com/Masterminds/squirrel"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/*.sql from the current rendering")

type renderer interface {
	Render(dialect.Dialect) (string, []any, error)
}

// goldenStatements are representative statements whose SQL is pinned per
// dialect in testdata/golden. A change to rendering shows up as a diff
// there; regenerate with go test ./orm_test -run Golden -update.
func goldenStatements() []struct {
	name string
	st   renderer
} {
	P, O, T := qPeople, qOrders, qTeams
	lead, deputy := P.As("lead"), P.As("deputy")
	totals := orm.Select(oc("person_id"), expr.As(expr.Sum(oc("amount")), "total")).From(O).
		Where(expr.Gt(oc("amount"), 1)).GroupBy(oc("person_id"))
	return []struct {
		name string
		st   renderer
	}{
		{"select_star", orm.Select().From(P)},
		{"select_typical", orm.Select(pc("id"), pc("name"), pc("team")).From(P).
			Where(expr.Gt(pc("age"), 18), expr.Eq(pc("team"), "red"), expr.Like(pc("name"), "a%")).
			OrderBy(expr.Desc(pc("id"))).Limit(10)},
		{"comparisons", orm.Select(pc("id")).From(P).Where(expr.And(expr.Eq(pc("age"), 1), expr.Ne(pc("age"), 2),
			expr.Gt(pc("age"), 3), expr.Gte(pc("age"), 4), expr.Lt(pc("age"), 5), expr.Lte(pc("age"), 6)))},
		{"or_not", orm.Select(pc("id")).From(P).Where(expr.Or(expr.Not(expr.Eq(pc("team"), "red")), expr.Eq(pc("active"), true)))},
		{"empty_and_or", orm.Select(pc("id")).From(P).Where(expr.And(), expr.Not(expr.Or()))},
		{"in_list", orm.Select(pc("id")).From(P).Where(expr.InArray(pc("name"), []string{"a", "b", "c"}))},
		{"in_empty", orm.Select(pc("id")).From(P).Where(expr.InArray(pc("name"), []string{}), expr.Not(expr.InArray(pc("age"), nil)))},
		{"in_subquery", orm.Select(pc("id")).From(P).Where(expr.InArray(pc("id"), orm.Select(oc("person_id")).From(O).Where(expr.Gt(oc("amount"), 5))))},
		{"null_checks", orm.Select(pc("id")).From(P).Where(expr.IsNull(pc("age")), expr.IsNotNull(pc("team")), expr.Not(expr.IsNull(pc("name"))))},
		{"aggregates", orm.Select(expr.CountAll(), expr.Count(pc("age")), expr.As(expr.Sum(pc("score")), "s"), expr.Avg(pc("age")),
			expr.Max(pc("name")), expr.Min(pc("score"))).From(P)},
		{"group_having", orm.Select(pc("team"), expr.As(expr.CountAll(), "n")).From(P).GroupBy(pc("team")).
			Having(expr.Gt(expr.CountAll(), 1), expr.Lt(expr.Avg(pc("age")), 40)).OrderBy(expr.Desc(expr.CountAll()))},
		{"inner_join", orm.Select(pc("name"), oc("amount")).From(P).InnerJoin(O, expr.Eq(oc("person_id"), pc("id"))).Where(expr.Gt(oc("amount"), 10))},
		{"left_join_order", orm.Select(pc("id"), oc("id")).From(P).LeftJoin(O, expr.Eq(oc("person_id"), pc("id"))).
			OrderBy(expr.Asc(pc("id")), expr.Desc(oc("id")))},
		{"joined_twice", orm.Select(T.Col("name"), expr.As(lead.Col("name"), "lead"), expr.As(deputy.Col("name"), "deputy")).From(T).
			LeftJoin(lead, expr.Eq(lead.Col("id"), T.Col("lead_id"))).
			LeftJoin(deputy, expr.Eq(deputy.Col("id"), T.Col("deputy_id")))},
		{"from_subquery", orm.Select(expr.ColRef("t", "person_id"), expr.ColRef("t", "total")).FromSubquery(totals, "t").
			Where(expr.Gt(expr.ColRef("t", "total"), 100)).OrderBy(expr.Desc(expr.ColRef("t", "total")))},
		{"from_subquery_star", orm.Select().FromSubquery(totals, "t")},
		{"scalar_subquery", orm.Select(pc("id")).From(P).Where(expr.Gt(pc("score"), expr.Sub(orm.Select(expr.Avg(pc("score"))).From(P))))},
		{"correlated_subquery", orm.Select(pc("id"), expr.As(expr.Sub(orm.Select(expr.CountAll()).From(O).Where(expr.Eq(oc("person_id"), pc("id")))), "n")).
			From(P).Where(expr.SQL("EXISTS ?", orm.Select(oc("id")).From(O).Where(expr.Eq(oc("person_id"), pc("id")), expr.Gt(oc("amount"), 7))))},
		{"placeholders_nested", orm.Select(pc("id")).From(P).Where(expr.Eq(pc("name"), "a"),
			expr.InArray(pc("id"), orm.Select(expr.ColRef("t", "person_id")).FromSubquery(totals, "t").Where(expr.Lt(expr.ColRef("t", "total"), 9))),
			expr.Ne(pc("team"), "z")).Limit(3)},
		{"raw", orm.Select(expr.As(expr.SQL("? * 2", pc("score")), "double")).From(P).Where(expr.SQL("? <> '?' AND ? > ?", pc("name"), pc("age"), 3))},
		{"squirrel_expr", orm.Select(pc("id")).From(P).Where(expr.Of(sq.And{sq.Gt{`"people"."age"`: 3}, sq.Eq{`"people"."team"`: []string{"a", "b"}}}), expr.Eq(pc("name"), "x"))},
		{"squirrel_subquery", orm.Select(pc("id")).From(P).Where(expr.Eq(pc("active"), true), expr.InArray(pc("id"), sq.Select("person_id").From("orders").Where(sq.Lt{"amount": 60})))},
		{"order_nullable", orm.Select(pc("id")).From(P).OrderBy(expr.Asc(pc("age")), expr.Desc(pc("team")), expr.Asc(pc("name")), expr.Desc(expr.Max(pc("score"))), expr.Asc(expr.CountAll())).GroupBy(pc("id"))},
		{"limit_offset", orm.Select(pc("id")).From(P).OrderBy(expr.Asc(pc("id"))).Limit(20).Offset(40)},
		{"offset_only", orm.Select(pc("id")).From(P).OrderBy(expr.Asc(pc("id"))).Offset(5)},
		{"insert_one", orm.Insert(P).Values(orm.Row{"id": "g1", "name": "ann", "age": 30})},
		{"insert_many", orm.Insert(P).Values(orm.Row{"id": "g1", "name": "ann", "active": true}, orm.Row{"id": "g2", "name": "bob", "active": false})},
		{"insert_json_blob", orm.Insert(qKinds).Values(orm.Row{"id": "k", "doc": map[string]any{"a": []int{1}}, "data": []byte{0, 0xff}, "big": int64(1) << 60})},
		{"upsert_do_nothing", orm.Insert(T).Values(orm.Row{"id": "t1", "name": "red"}).OnConflictDoNothing("name")},
		{"upsert_do_nothing_any", orm.Insert(T).Values(orm.Row{"id": "t1", "name": "red"}).OnConflictDoNothing()},
		{"upsert_do_update", orm.Insert(T).Values(orm.Row{"id": "t1", "name": "red", "lead_id": "p1"}).OnConflictDoUpdate([]string{"id"})},
		{"upsert_do_update_cols", orm.Insert(T).Values(orm.Row{"id": "t1", "name": "red", "lead_id": "p1"}).OnConflictDoUpdate([]string{"name"}, "lead_id").Returning(T.Col("id"))},
		{"insert_returning", orm.Insert(P).Values(orm.Row{"id": "g1", "name": "ann"}).Returning()},
		{"update", orm.Update(P).Set(orm.Row{"name": "x", "age": nil}).Where(expr.Eq(pc("id"), "p1"))},
		{"update_expr_returning", orm.Update(P).Set(orm.Row{"score": expr.SQL("? + ?", pc("score"), 1)}).
			Where(expr.InArray(pc("id"), orm.Select(oc("person_id")).From(O).Where(expr.Gt(oc("amount"), 2)))).Returning(pc("id"), pc("score"))},
		{"update_all_rows", orm.Update(P).Set(orm.Row{"active": false}).AllRows()},
		{"delete", orm.Delete(O).Where(expr.Lt(oc("amount"), 5), expr.IsNull(oc("note")))},
		{"delete_returning", orm.Delete(O).Where(expr.Eq(oc("person_id"), "p1")).Returning()},
		{"delete_all_rows", orm.Delete(O).AllRows()},
	}
}

func TestGolden(t *testing.T) {
	for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
		t.Run(d.Name(), func(t *testing.T) {
			var b strings.Builder
			seen := map[string]bool{}
			for _, g := range goldenStatements() {
				if seen[g.name] {
					t.Fatalf("duplicate golden name %s", g.name)
				}
				seen[g.name] = true
				text, args, err := g.st.Render(d)
				if err != nil {
					t.Errorf("%s: %v", g.name, err)
					continue
				}
				fmt.Fprintf(&b, "-- %s\n-- args: %#v\n%s;\n\n", g.name, args, text)
			}
			got := b.String()
			path := filepath.Join("testdata", "golden", d.Name()+".sql")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./orm_test -run Golden -update)", err)
			}
			if got != string(want) {
				gotParts, wantParts := strings.Split(got, "\n\n"), strings.Split(string(want), "\n\n")
				for i := range max(len(gotParts), len(wantParts)) {
					var g, w string
					if i < len(gotParts) {
						g = gotParts[i]
					}
					if i < len(wantParts) {
						w = wantParts[i]
					}
					if g != w {
						t.Errorf("%s differs from the golden file (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", path, g, w)
					}
				}
			}
		})
	}
}

// TestGoldenStatementsRun runs every golden SELECT and write on both
// engines, so the pinned SQL is also SQL the engines accept.
func TestGoldenStatementsRun(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "it runs each golden statement in a transaction of its own on the pool, which on SQLite waits on the harness's one writer", ormtest.ExecTx)
		ctx, db := seed(t, tg)
		if err := orm.EnsureSchema(ctx, qKindsSchema, db); err != nil {
			t.Fatal(err)
		}
		for _, g := range goldenStatements() {
			text, args, err := g.st.Render(tg.Dialect)
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			tx, err := tg.SQL.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := tx.QueryContext(ctx, text, args...)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			if err != nil {
				t.Errorf("%s: %v\n%s", g.name, err, text)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRenderConcurrently renders every golden statement from several
// goroutines at once (run with -race): a built statement is a value that
// renders the same any number of times, concurrently too.
func TestRenderConcurrently(t *testing.T) {
	stmts := goldenStatements()
	want := make([]string, len(stmts))
	for i, g := range stmts {
		text, args, err := g.st.Render(postgres.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = fmt.Sprintf("%s %#v", text, args)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(stmts))
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 5 {
				for i, g := range stmts {
					d := dialect.Dialect(postgres.Dialect)
					if round%2 == 1 {
						d = sqlite.Dialect
					}
					text, args, err := g.st.Render(d)
					if err != nil {
						errs <- err.Error()
						continue
					}
					if d == postgres.Dialect && fmt.Sprintf("%s %#v", text, args) != want[i] {
						errs <- g.name + ": " + text
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
