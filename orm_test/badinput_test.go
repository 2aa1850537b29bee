package ormtest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// qCountingExec counts the statements that reach the database.
type qCountingExec struct {
	dialect.Executor
	n atomic.Int64
}

func (c *qCountingExec) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.Executor.ExecContext(ctx, query, args...)
}

// BeginTx starts a transaction on the pool; statements in it are not
// counted (a transaction runs on its own executor).
func (c *qCountingExec) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	return c.Executor.(dialect.Beginner).BeginTx(ctx, opts)
}

func (c *qCountingExec) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.Executor.QueryContext(ctx, query, args...)
}

// qKinds is a table with a column of each scalar kind
// (testschema.ScalarKinds).
var (
	qKinds       = testschema.ScalarKinds()
	qKindsSchema = orm.MustDefineSchema("k1", qKinds)
)

// badCase is a statement that must be refused before it reaches the
// database, with an error naming the statement and (where there is one)
// the column.
type badCase struct {
	name   string
	err    error  // the sentinel
	stmt   string // QueryError.Statement
	column string // QueryError.Column, "" when the problem has no column
	run    func(ctx context.Context, db *orm.DB) error
}

// sel runs a SELECT built without a database on db.
func sel(q *orm.SelectQuery) func(ctx context.Context, db *orm.DB) error {
	return func(ctx context.Context, db *orm.DB) error {
		_, err := orm.Maps(ctx, bindTo(db, q))
		return err
	}
}

// bindTo returns a SELECT on db with q's clauses.
func bindTo(db *orm.DB, q *orm.SelectQuery) *orm.SelectQuery {
	b, p := db.Select().Rewrite()
	*p = q.Clone().Parts()
	return b
}

// execer is a write statement.
type execer interface {
	Exec(context.Context) (int64, error)
}

// write runs the write f builds on db.
func write(f func(db *orm.DB) execer) func(ctx context.Context, db *orm.DB) error {
	return func(ctx context.Context, db *orm.DB) error {
		_, err := f(db).Exec(ctx)
		return err
	}
}

func badCases() []badCase {
	P, O := qPeople, qOrders
	nope := P.Col("nope")
	return []badCase{
		// A column of a table that is neither in FROM nor joined.
		{"unknown table in where", orm.ErrUnknownTable, "SELECT FROM people", "orders.amount",
			sel(orm.Select(pc("id")).From(P).Where(expr.Eq(oc("amount"), 1)))},
		{"unknown table in projection", orm.ErrUnknownTable, "SELECT FROM people", "orders.amount",
			sel(orm.Select(pc("id"), oc("amount")).From(P))},
		{"unknown table in order by", orm.ErrUnknownTable, "SELECT FROM people", "orders.id",
			sel(orm.Select(pc("id")).From(P).OrderBy(expr.Asc(oc("id"))))},
		{"unknown table in group by", orm.ErrUnknownTable, "SELECT FROM people", "orders.id",
			sel(orm.Select(expr.CountAll()).From(P).GroupBy(oc("id")))},
		{"unknown table in join on", orm.ErrUnknownTable, "SELECT FROM people", "teams.id",
			sel(orm.Select(pc("id")).From(P).InnerJoin(O, expr.Eq(qTeams.Col("id"), oc("person_id"))))},
		{"join on a table joined later", orm.ErrUnknownTable, "SELECT FROM people", "teams.lead_id",
			sel(orm.Select(pc("id")).From(P).InnerJoin(O, expr.Eq(oc("person_id"), qTeams.Col("lead_id"))).InnerJoin(qTeams, expr.Eq(qTeams.Col("lead_id"), pc("id"))))},
		{"unknown alias", orm.ErrUnknownTable, "SELECT FROM people", "boss.name",
			sel(orm.Select(pc("id")).From(P).Where(expr.Eq(qPeople.As("boss").Col("name"), "x")))},
		{"unknown table in update", orm.ErrUnknownTable, "UPDATE people", "orders.amount",
			write(func(db *orm.DB) execer {
				return db.Update(P).Set(orm.Row{"score": 1}).Where(expr.Eq(oc("amount"), 1))
			})},
		{"unknown table in delete", orm.ErrUnknownTable, "DELETE FROM orders", "people.name",
			write(func(db *orm.DB) execer { return db.Delete(O).Where(expr.Eq(pc("name"), "ann")) })},
		{"unknown table in update set", orm.ErrUnknownTable, "UPDATE people", "orders.amount",
			write(func(db *orm.DB) execer {
				return db.Update(P).Set(orm.Row{"score": expr.SQL("? + 1", oc("amount"))}).AllRows()
			})},
		{"unknown table in subquery", orm.ErrUnknownTable, "SELECT FROM orders", "teams.id",
			sel(orm.Select(pc("id")).From(P).Where(expr.InArray(pc("id"), orm.Select(oc("person_id")).From(O).Where(expr.Eq(qTeams.Col("id"), "t")))))},

		// An ungrouped column beside aggregates.
		{"ungrouped beside count", orm.ErrUngrouped, "SELECT FROM people", "people.name",
			sel(orm.Select(pc("name"), expr.CountAll()).From(P))},
		{"ungrouped beside group", orm.ErrUngrouped, "SELECT FROM people", "people.name",
			sel(orm.Select(pc("team"), pc("name"), expr.As(expr.Sum(pc("score")), "s")).From(P).GroupBy(pc("team")))},
		{"ungrouped aliased", orm.ErrUngrouped, "SELECT FROM people", "people.age",
			sel(orm.Select(expr.As(pc("age"), "a"), expr.As(expr.Max(pc("score")), "m")).From(P))},
		{"ungrouped in having", orm.ErrUngrouped, "SELECT FROM people", "people.age",
			sel(orm.Select(pc("team"), expr.As(expr.CountAll(), "n")).From(P).GroupBy(pc("team")).Having(expr.Gt(pc("age"), 1)))},
		{"ungrouped in order by", orm.ErrUngrouped, "SELECT FROM people", "people.age",
			sel(orm.Select(pc("team"), expr.As(expr.CountAll(), "n")).From(P).GroupBy(pc("team")).OrderBy(expr.Asc(pc("age"))))},
		{"ungrouped in an expression", orm.ErrUngrouped, "SELECT FROM people", "people.age",
			sel(orm.Select(pc("team"), expr.As(expr.SQL("? + 1", pc("age")), "a")).From(P).GroupBy(pc("team")))},
		{"ungrouped beside having", orm.ErrUngrouped, "SELECT FROM people", "people.name",
			sel(orm.Select(pc("name")).From(P).Having(expr.Gt(expr.CountAll(), 1)))},
		{"ungrouped beside ordering by an aggregate", orm.ErrUngrouped, "SELECT FROM people", "people.name",
			sel(orm.Select(pc("name")).From(P).OrderBy(expr.Asc(expr.CountAll())))},
		{"ungrouped beside a nested aggregate", orm.ErrUngrouped, "SELECT FROM people", "people.name",
			sel(orm.Select(pc("name"), expr.As(expr.SQL("? + 1", expr.CountAll()), "n")).From(P))},
		{"ungrouped beside a grouped key of another table", orm.ErrUngrouped, "SELECT FROM people", "people.name",
			sel(orm.Select(pc("name"), expr.As(expr.CountAll(), "n")).From(P).InnerJoin(qOrders, expr.Eq(oc("person_id"), pc("id"))).GroupBy(oc("id")))},
		{"grouped star", orm.ErrUngrouped, "SELECT FROM people", "",
			sel(orm.Select().From(P).GroupBy(pc("team")))},

		// LIMIT and OFFSET below zero.
		{"negative limit", orm.ErrBadLimit, "SELECT FROM people", "", sel(orm.Select(pc("id")).From(P).Limit(-1))},
		{"negative offset", orm.ErrBadLimit, "SELECT FROM people", "", sel(orm.Select(pc("id")).From(P).Offset(-5))},
		{"negative offset with limit", orm.ErrBadLimit, "SELECT FROM people", "", sel(orm.Select(pc("id")).From(P).Limit(3).Offset(-1))},
		{"negative limit in subquery", orm.ErrBadLimit, "SELECT FROM orders", "",
			sel(orm.Select(pc("id")).From(P).Where(expr.InArray(pc("id"), orm.Select(oc("person_id")).From(O).Limit(math.MinInt64))))},

		// A value of the wrong kind.
		{"string into boolean", orm.ErrValueKind, "INSERT INTO kinds", "kinds.flag",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "flag": "yes"}) })},
		{"int into boolean", orm.ErrValueKind, "INSERT INTO kinds", "kinds.flag",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "flag": 1}) })},
		{"string into boolean in update", orm.ErrValueKind, "UPDATE kinds", "kinds.flag",
			write(func(db *orm.DB) execer {
				return db.Update(qKinds).Set(orm.Row{"flag": "true"}).Where(expr.Eq(qKinds.Col("id"), "k"))
			})},
		{"string compared with boolean", orm.ErrValueKind, "SELECT FROM kinds", "kinds.flag",
			sel(orm.Select(qKinds.Col("id")).From(qKinds).Where(expr.Eq(qKinds.Col("flag"), "yes")))},
		{"string compared with boolean, reversed", orm.ErrValueKind, "SELECT FROM kinds", "kinds.flag",
			sel(orm.Select(qKinds.Col("id")).From(qKinds).Where(expr.Eq("yes", qKinds.Col("flag"))))},
		{"string in boolean list", orm.ErrValueKind, "SELECT FROM kinds", "kinds.flag",
			sel(orm.Select(qKinds.Col("id")).From(qKinds).Where(expr.InArray(qKinds.Col("flag"), []any{true, "no"})))},
		{"int overflow into int", orm.ErrValueKind, "INSERT INTO kinds", "kinds.n",
			write(func(db *orm.DB) execer {
				return db.Insert(qKinds).Values(orm.Row{"id": "k", "n": int64(math.MaxInt32) + 1})
			})},
		{"int underflow into int", orm.ErrValueKind, "INSERT INTO kinds", "kinds.n",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "n": math.MinInt32 - 1}) })},
		{"int overflow compared", orm.ErrValueKind, "SELECT FROM kinds", "kinds.n",
			sel(orm.Select(qKinds.Col("id")).From(qKinds).Where(expr.Gt(qKinds.Col("n"), int64(1)<<40)))},
		{"uint64 overflow into bigint", orm.ErrValueKind, "INSERT INTO kinds", "kinds.big",
			write(func(db *orm.DB) execer {
				return db.Insert(qKinds).Values(orm.Row{"id": "k", "big": uint64(math.MaxUint64)})
			})},
		{"float into int", orm.ErrValueKind, "INSERT INTO kinds", "kinds.n",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "n": 1.5}) })},
		{"string into int", orm.ErrValueKind, "UPDATE kinds", "kinds.n",
			write(func(db *orm.DB) execer {
				return db.Update(qKinds).Set(orm.Row{"n": "1"}).Where(expr.Eq(qKinds.Col("id"), "k"))
			})},
		{"invalid UTF-8 into text", orm.ErrValueKind, "INSERT INTO kinds", "kinds.txt",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "txt": "ok\xff\xfe"}) })},
		{"invalid UTF-8 into id", orm.ErrValueKind, "INSERT INTO kinds", "kinds.id",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "\xc3"}) })},
		{"invalid UTF-8 compared", orm.ErrValueKind, "SELECT FROM kinds", "kinds.txt",
			sel(orm.Select(qKinds.Col("id")).From(qKinds).Where(expr.Like(qKinds.Col("txt"), "\x80%")))},
		{"bytes into text", orm.ErrValueKind, "INSERT INTO kinds", "kinds.txt",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "txt": []byte("x")}) })},
		{"string into blob", orm.ErrValueKind, "INSERT INTO kinds", "kinds.data",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "data": "x"}) })},
		{"invalid JSON text", orm.ErrValueKind, "INSERT INTO kinds", "kinds.doc",
			write(func(db *orm.DB) execer {
				return db.Insert(qKinds).Values(orm.Row{"id": "k", "doc": json.RawMessage(`{"a":`)})
			})},
		{"unencodable JSON", orm.ErrValueKind, "INSERT INTO kinds", "kinds.doc",
			write(func(db *orm.DB) execer { return db.Insert(qKinds).Values(orm.Row{"id": "k", "doc": func() {}}) })},
		{"wrong kind in a later row", orm.ErrValueKind, "INSERT INTO kinds", "kinds.flag",
			write(func(db *orm.DB) execer {
				return db.Insert(qKinds).Values(orm.Row{"id": "a", "flag": true}, orm.Row{"id": "b", "flag": "no"})
			})},

		// Unknown column names.
		{"unknown column in projection", orm.ErrUnknownColumn, "SELECT FROM people", "people.nope", sel(orm.Select(nope).From(P))},
		{"unknown column in where", orm.ErrUnknownColumn, "SELECT FROM people", "people.nope",
			sel(orm.Select(pc("id")).From(P).Where(expr.Eq(nope, 1)))},
		{"unknown column in order by", orm.ErrUnknownColumn, "SELECT FROM people", "people.nope",
			sel(orm.Select(pc("id")).From(P).OrderBy(expr.Desc(nope)))},
		{"unknown column in group by", orm.ErrUnknownColumn, "SELECT FROM people", "people.nope",
			sel(orm.Select(expr.CountAll()).From(P).GroupBy(nope))},
		{"unknown column in having", orm.ErrUnknownColumn, "SELECT FROM people", "people.nope",
			sel(orm.Select(pc("team")).From(P).GroupBy(pc("team")).Having(expr.Gt(expr.Max(nope), 1)))},
		{"unknown unqualified column", orm.ErrUnknownColumn, "SELECT FROM people", "nope",
			sel(orm.Select(expr.ColRef("", "nope")).From(P))},
		{"unknown subquery column", orm.ErrUnknownColumn, "SELECT FROM (subquery) s", "s.nope",
			sel(orm.Select(expr.ColRef("s", "nope")).FromSubquery(orm.Select(pc("id")).From(P), "s"))},
		{"unknown column in insert", orm.ErrUnknownColumn, "INSERT INTO people", "people.nope",
			write(func(db *orm.DB) execer { return db.Insert(P).Values(orm.Row{"id": "x", "name": "x", "nope": 1}) })},
		{"unknown column in update set", orm.ErrUnknownColumn, "UPDATE people", "people.nope",
			write(func(db *orm.DB) execer { return db.Update(P).Set(orm.Row{"nope": 1}).AllRows() })},
		{"unknown column in update where", orm.ErrUnknownColumn, "UPDATE people", "people.nope",
			write(func(db *orm.DB) execer { return db.Update(P).Set(orm.Row{"score": 1}).Where(expr.Eq(nope, 1)) })},
		{"unknown column in delete where", orm.ErrUnknownColumn, "DELETE FROM people", "people.nope",
			write(func(db *orm.DB) execer { return db.Delete(P).Where(expr.IsNull(nope)) })},
		{"unknown column in returning", orm.ErrUnknownColumn, "DELETE FROM people", "people.nope",
			write(func(db *orm.DB) execer { return db.Delete(P).Where(expr.IsNull(pc("age"))).Returning(nope) })},
		{"unknown conflict column", orm.ErrUnknownColumn, "INSERT INTO people", "people.nope",
			write(func(db *orm.DB) execer {
				return db.Insert(P).Values(orm.Row{"id": "x", "name": "x"}).OnConflictDoUpdate([]string{"id"}, "nope")
			})},

		// An unqualified column two joined tables both have.
		{"ambiguous column", orm.ErrAmbiguousColumn, "SELECT FROM people", "id",
			sel(orm.Select(expr.ColRef("", "id")).From(P).InnerJoin(O, expr.Eq(oc("person_id"), pc("id"))))},
		{"ambiguous column in where", orm.ErrAmbiguousColumn, "SELECT FROM people", "name",
			sel(orm.Select(pc("id")).From(P).InnerJoin(qTeams, expr.Eq(qTeams.Col("name"), pc("team"))).Where(expr.Eq(expr.ColRef("", "name"), "red")))},

		// Other refusals.
		{"table joined twice without alias", orm.ErrDuplicateAlias, "SELECT FROM people", "",
			sel(orm.Select(pc("id")).From(P).InnerJoin(P, expr.And()))},
		{"empty alias", orm.ErrBadIdentifier, "SELECT FROM people", "", sel(orm.Select(expr.As(pc("id"), "")).From(P))},
		{"NUL in alias", orm.ErrBadIdentifier, "SELECT FROM people", "", sel(orm.Select(expr.As(pc("id"), "a\x00b")).From(P))},
		{"invalid UTF-8 alias", orm.ErrBadIdentifier, "SELECT FROM people", "", sel(orm.Select(expr.As(pc("id"), "a\xffb")).From(P))},
		{"empty subquery alias", orm.ErrBadIdentifier, "SELECT FROM (subquery) ", "", sel(orm.Select().FromSubquery(orm.Select(pc("id")).From(P), ""))},
		{"NULL into NOT NULL", orm.ErrNotNullViolation, "INSERT INTO people", "people.name",
			write(func(db *orm.DB) execer { return db.Insert(P).Values(orm.Row{"id": "x", "name": nil}) })},
		{"NULL set on NOT NULL", orm.ErrNotNullViolation, "UPDATE people", "people.name",
			write(func(db *orm.DB) execer { return db.Update(P).Set(orm.Row{"name": nil}).AllRows() })},
		{"ragged rows", orm.ErrRaggedRows, "INSERT INTO people", "people.name",
			write(func(db *orm.DB) execer {
				return db.Insert(P).Values(orm.Row{"id": "x", "name": "x"}, orm.Row{"id": "y", "age": 1})
			})},
		{"insert without values", orm.ErrNoValues, "INSERT INTO people", "", write(func(db *orm.DB) execer { return db.Insert(P) })},
		{"update without set", orm.ErrNoValues, "UPDATE people", "", write(func(db *orm.DB) execer { return db.Update(P).AllRows() })},
		{"update without where", orm.ErrUnsafeWrite, "UPDATE people", "", write(func(db *orm.DB) execer { return db.Update(P).Set(orm.Row{"score": 1}) })},
		{"delete without where", orm.ErrUnsafeWrite, "DELETE FROM people", "", write(func(db *orm.DB) execer { return db.Delete(P) })},
		{"update of an alias", orm.ErrDuplicateAlias, "UPDATE people", "",
			write(func(db *orm.DB) execer { return db.Update(P.As("p")).Set(orm.Row{"score": 1}).AllRows() })},
		{"select without from", orm.ErrNoTable, "SELECT", "", sel(orm.Select())},
		{"insert into nil", orm.ErrNoTable, "INSERT INTO (no table)", "",
			write(func(db *orm.DB) execer { return db.Insert(nil).Values(orm.Row{"id": "x"}) })},
	}
}

func TestBadInput(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, _ := seed(t, tg)
		if err := orm.EnsureSchema(ctx, qKindsSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		count := &qCountingExec{Executor: tg.SQL}
		var reached atomic.Int64
		spyMW := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				res, err := next(ctx, st)
				if err == nil {
					reached.Add(1)
				}
				return res, err
			}
		}
		db := orm.New(count, tg.Dialect, spyMW)
		for _, c := range badCases() {
			before := count.n.Load()
			err := c.run(ctx, db)
			if n := count.n.Load() - before; n != 0 {
				t.Errorf("%s: %d statements reached the database", c.name, n)
			}
			var qe *orm.QueryError
			if !errors.As(err, &qe) {
				t.Errorf("%s: want a *orm.QueryError, got %T %v", c.name, err, err)
				continue
			}
			if !errors.Is(err, c.err) {
				t.Errorf("%s: want %v, got %v", c.name, c.err, err)
			}
			if qe.Statement != c.stmt {
				t.Errorf("%s: statement %q, want %q (%v)", c.name, qe.Statement, c.stmt, err)
			}
			if qe.Column != c.column {
				t.Errorf("%s: column %q, want %q (%v)", c.name, qe.Column, c.column, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.stmt) || !strings.Contains(msg, c.column) {
				t.Errorf("%s: message %q does not name %q and %q", c.name, msg, c.stmt, c.column)
			}
		}
		if n := reached.Load(); n != 0 {
			t.Errorf("%d refused statements succeeded", n)
		}
		// Nothing was written by any of them.
		if n := countPeople(t, ctx, tg.DB); n != 5 {
			t.Errorf("people: %d", n)
		}
		if n, _ := orm.Scalar[int64](ctx, tg.DB.Select(expr.CountAll()).From(qKinds)); n != 0 {
			t.Errorf("kinds: %d", n)
		}
	})
}

// TestBadInputRender shows the same refusals from Render and ToSql, with
// no database at all.
func TestBadInputRender(t *testing.T) {
	for _, q := range []interface {
		ToSql() (string, []any, error)
	}{
		orm.Select(pc("id")).From(qPeople).Where(expr.Eq(oc("amount"), 1)),
		orm.Select(pc("name"), expr.CountAll()).From(qPeople),
		orm.Select(pc("id")).From(qPeople).Limit(-1),
		orm.Insert(qKinds).Values(orm.Row{"id": "k", "flag": "yes"}),
		orm.Update(qPeople).Set(orm.Row{"nope": 1}).AllRows(),
		orm.Delete(qPeople),
	} {
		text, args, err := q.ToSql()
		var qe *orm.QueryError
		if !errors.As(err, &qe) || text != "" || args != nil {
			t.Errorf("%T: %q %v %v", q, text, args, err)
		}
	}
	// Unbound statements cannot run.
	_, err := orm.All[string](context.Background(), orm.Select(pc("id")).From(qPeople))
	if !errors.Is(err, orm.ErrNoDB) {
		t.Errorf("unbound select: %v", err)
	}
	_, err = orm.Insert(qPeople).Values(orm.Row{"id": "x", "name": "x"}).Exec(context.Background())
	if !errors.Is(err, orm.ErrNoDB) {
		t.Errorf("unbound insert: %v", err)
	}
}

// TestBadRaw shows raw SQL whose placeholders and arguments disagree
// refused before it runs.
func TestBadRaw(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx, _ := seed(t, tg)
		count := &qCountingExec{Executor: tg.SQL}
		db := orm.New(count, tg.Dialect)
		for _, c := range []struct {
			text string
			args []any
		}{
			{"SELECT ? FROM people", nil},
			{"SELECT 1 FROM people", []any{1}},
			{"SELECT ?, ? FROM people", []any{1}},
			{"SELECT 'unterminated ? FROM people", []any{1}},
		} {
			if _, err := db.Exec(ctx, c.text, c.args...); err == nil {
				t.Errorf("Exec %q %v: no error", c.text, c.args)
			}
			if _, err := db.Query(ctx, c.text, c.args...); err == nil {
				t.Errorf("Query %q %v: no error", c.text, c.args)
			}
			if _, err := orm.All[int64](ctx, db.Select(expr.As(expr.SQL(c.text[7:len(c.text)-12], c.args...), "x")).From(qPeople)); err == nil {
				t.Errorf("expr.SQL %q %v: no error", c.text, c.args)
			}
		}
		if n := count.n.Load(); n != 0 {
			t.Errorf("%d statements reached the database", n)
		}
	})
}

// qHostileValues are values that would change a statement if they were
// ever spliced into its text.
func qHostileValues() []string {
	return []string{
		"'", "''", `"`, `\`, `\'`, `\\'`, "`",
		"'; DROP TABLE people; --",
		`"; DROP TABLE people; --`,
		"Robert'); DROP TABLE orders;--",
		"' OR '1'='1",
		"1; DELETE FROM people",
		"/* comment */", "-- comment\n", "*/",
		"?", "??", "$1", "$2::text", ":name", "@p1", "%s", "%_",
		"NULL", "E'\\x00'", "$$ dollar $$", "$tag$ x $tag$",
		"\x00", "a\x00b", "\x00'; DROP TABLE people; --",
		"😀 ünïcødé ß", "\u202e override", "עברית", "\u2028\u2029", "\r\n\t\v\f",
		"\uFEFFbom", "\U0010FFFF",
		strings.Repeat("x'\"\\;", 200000), // a megabyte
	}
}

// hostileStatements builds statements carrying v as a value every way a
// value can enter one.
func hostileStatements(v string) map[string]interface {
	Render(dialect.Dialect) (string, []any, error)
} {
	return map[string]interface {
		Render(dialect.Dialect) (string, []any, error)
	}{
		"eq":        orm.Select(pc("id")).From(qPeople).Where(expr.Eq(pc("name"), v)),
		"reversed":  orm.Select(pc("id")).From(qPeople).Where(expr.Ne(v, pc("name"))),
		"like":      orm.Select(pc("id")).From(qPeople).Where(expr.Like(pc("name"), v)),
		"in":        orm.Select(pc("id")).From(qPeople).Where(expr.InArray(pc("name"), []string{v, "x", v})),
		"raw":       orm.Select(pc("id")).From(qPeople).Where(expr.SQL("? = ?", pc("name"), v)),
		"bind":      orm.Select(expr.As(expr.Bind(v), "b")).From(qPeople),
		"having":    orm.Select(pc("team"), expr.As(expr.CountAll(), "n")).From(qPeople).GroupBy(pc("team")).Having(expr.Ne(expr.Max(pc("name")), v)),
		"join":      orm.Select(pc("id")).From(qPeople).LeftJoin(qOrders, expr.And(expr.Eq(oc("person_id"), pc("id")), expr.Eq(oc("note"), v))),
		"subquery":  orm.Select(pc("id")).From(qPeople).Where(expr.InArray(pc("id"), orm.Select(oc("person_id")).From(qOrders).Where(expr.Eq(oc("note"), v)))),
		"insert":    orm.Insert(qPeople).Values(orm.Row{"id": v, "name": v, "team": v}),
		"upsert":    orm.Insert(qPeople).Values(orm.Row{"id": v, "name": v}).OnConflictDoUpdate([]string{"id"}, "name").Returning(),
		"update":    orm.Update(qPeople).Set(orm.Row{"name": v, "team": v}).Where(expr.Eq(pc("id"), v)),
		"update-ex": orm.Update(qPeople).Set(orm.Row{"name": expr.SQL("? || ?", pc("name"), v)}).Where(expr.Eq(pc("id"), v)),
		"delete":    orm.Delete(qPeople).Where(expr.Eq(pc("id"), v)).Returning(pc("id")),
	}
}

// TestHostileValuesNeverInSQL renders statements with each hostile value
// and checks that the SQL text is exactly the text rendered with a benign
// value: the value reaches the database only as a bound argument.
func TestHostileValuesNeverInSQL(t *testing.T) {
	for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
		benign := hostileStatements("benign")
		for _, v := range qHostileValues() {
			for name, st := range hostileStatements(v) {
				text, args, err := st.Render(d)
				if err != nil {
					t.Errorf("%s %s %.20q: %v", d.Name(), name, v, err)
					continue
				}
				want, wantArgs, _ := benign[name].Render(d)
				if text != want {
					t.Errorf("%s %s %.20q: SQL depends on the value:\n%s\n%s", d.Name(), name, v, text, want)
				}
				if len(args) != len(wantArgs) || !slices.Contains(args, any(v)) {
					t.Errorf("%s %s %.20q: value not among the %d args", d.Name(), name, v, len(args))
				}
				if len(v) > 3 && strings.Contains(text, v) {
					t.Errorf("%s %s %.20q: value in the SQL text", d.Name(), name, v)
				}
			}
		}
	}
}

// TestHostileValuesRoundTrip writes each hostile value and reads it back
// unchanged, with the tables intact, on both engines.
func TestHostileValuesRoundTrip(t *testing.T) {
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		if tg.AbortsOnError() {
			tg.SkipExec(t, "the body goes on after PostgreSQL refuses a NUL in text; a failed statement aborts the caller's PostgreSQL transaction", ormtest.ExecTx)
		}
		ctx, db := seed(t, tg)
		var stored []string
		for i, v := range qHostileValues() {
			id := fmt.Sprintf("h%02d", i)
			_, err := db.Insert(qPeople).Values(orm.Row{"id": id, "name": v, "team": v}).Exec(ctx)
			if strings.IndexByte(v, 0) >= 0 && tg.Name == "postgres" {
				// PostgreSQL's text cannot hold NUL: the engine refuses
				// the bound value, and nothing is written.
				var ee *orm.ExecError
				if !errors.As(err, &ee) {
					t.Errorf("NUL in text on postgres: %v", err)
				}
				continue
			}
			if err != nil {
				t.Errorf("insert %.20q: %v", v, err)
				continue
			}
			got, err := orm.Scalar[string](ctx, db.Select(pc("name")).From(qPeople).Where(expr.Eq(pc("id"), id)))
			if err != nil || got != v {
				t.Errorf("read back %.20q: %.20q %v", v, got, err)
			}
			// Found by value, through every way a value enters a query.
			for _, where := range []expr.Expr{
				expr.Eq(pc("name"), v),
				expr.InArray(pc("team"), []string{v}),
				expr.SQL("? = ?", pc("name"), v),
			} {
				ids, err := orm.All[string](ctx, db.Select(pc("id")).From(qPeople).Where(where))
				if err != nil || !slices.Equal(ids, []string{id}) {
					t.Errorf("find %.20q by %T: %v %v", v, where, ids, err)
				}
			}
			n, err := db.Update(qPeople).Set(orm.Row{"team": "updated:" + v}).Where(expr.Eq(pc("name"), v)).Exec(ctx)
			if err != nil || n != 1 {
				t.Errorf("update %.20q: %d %v", v, n, err)
			}
			stored = append(stored, id)
		}
		// Every table is still there with its rows.
		if n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(qOrders)); err != nil || n != 4 {
			t.Errorf("orders: %d %v", n, err)
		}
		if n := countPeople(t, ctx, db); n != 5+int64(len(stored)) {
			t.Errorf("people: %d", n)
		}
		n, err := db.Delete(qPeople).Where(expr.InArray(pc("id"), stored)).Exec(ctx)
		if err != nil || n != int64(len(stored)) {
			t.Errorf("delete: %d %v", n, err)
		}
	})
}

// qHostileIdents are used as table aliases, column aliases and subquery
// aliases.
var qHostileIdents = []string{
	`x"; DROP TABLE people; --`,
	`"`, `""`, `'`, `';--`, `a"b"c`,
	`select`, `FROM`, `order by`,
	`?`, `??`, `$1`, `%s`,
	`/*`, `--`, `\`, `back\"slash`,
	`😀`, "\u202eevil", `ünï cødé`, "tab\tnl\n",
	`a.b`, `*`,
}

// TestHostileIdentifiers renders statements with each hostile alias and
// checks that it appears only quoted (the text equals the benign text
// with the quoted alias in its place), then runs them on both engines.
func TestHostileIdentifiers(t *testing.T) {
	build := func(h string) *orm.SelectQuery {
		a := qPeople.As(h)
		inner := orm.Select(expr.As(pc("id"), h), expr.As(pc("score"), "s")).From(qPeople)
		return orm.Select(expr.As(a.Col("name"), h), expr.As(oc("amount"), h+"2")).
			From(qTeams).
			InnerJoin(a, expr.Eq(a.Col("id"), qTeams.Col("lead_id"))).
			InnerJoin(qOrders, expr.Eq(oc("person_id"), a.Col("id"))).
			Where(expr.Gt(oc("amount"), 0), expr.InArray(a.Col("id"), orm.Select(expr.ColRef(h+"_sub", h)).FromSubquery(inner, h+"_sub"))).
			OrderBy(expr.Asc(a.Col("name")), expr.Asc(oc("amount")))
	}
	for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
		benign, _, err := build("benign").Render(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range qHostileIdents {
			text, _, err := build(h).Render(d)
			if err != nil {
				t.Errorf("%s %q: %v", d.Name(), h, err)
				continue
			}
			replaced := strings.ReplaceAll(text, dialect.QuoteIdent(h+"_sub"), dialect.QuoteIdent("benign_sub"))
			replaced = strings.ReplaceAll(replaced, dialect.QuoteIdent(h+"2"), dialect.QuoteIdent("benign2"))
			replaced = strings.ReplaceAll(replaced, dialect.QuoteIdent(h), dialect.QuoteIdent("benign"))
			if replaced != benign {
				t.Errorf("%s %q: identifier not only quoted:\n%s\n%s", d.Name(), h, text, benign)
			}
		}
	}
	// NUL, invalid UTF-8 and the empty string are no identifiers.
	for _, bad := range []string{"a\x00b", "\xff", ""} {
		for i, q := range []*orm.SelectQuery{
			orm.Select(expr.As(pc("id"), bad)).From(qPeople),
			orm.Select().FromSubquery(orm.Select(pc("id")).From(qPeople), bad),
			orm.Select(expr.ColRef(bad, "id")).From(qPeople.As(bad)),
			orm.Select(pc("id")).From(qPeople).InnerJoin(qPeople.As(bad), expr.And()),
		} {
			if bad == "" && i >= 2 {
				continue // As("") is the table under its own name
			}
			if _, _, err := q.ToSql(); !errors.Is(err, orm.ErrBadIdentifier) {
				t.Errorf("identifier %q in statement %d: %v", bad, i, err)
			}
		}
	}
	both(t, func(t *testing.T, tg *ormtest.Target, rec recorder) {
		ctx, db := seed(t, tg)
		for _, h := range qHostileIdents {
			maps, err := orm.Maps(ctx, bindTo(db, build(h)))
			if err != nil {
				t.Errorf("%q: %v", h, err)
				continue
			}
			want := []orm.Row{{h: "ann", h + "2": int64(50)}, {h: "ann", h + "2": int64(100)}, {h: "bob", h + "2": int64(70)}}
			if !reflect.DeepEqual(maps, want) {
				t.Errorf("%q: %v", h, maps)
			}
			rec(h, maps)
		}
	})
}
