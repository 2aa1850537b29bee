package live_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

// Todos is the todo shape the tests use: a text id, a list, a nullable
// title, a done flag, a nullable bigint and an int rank.
var Todos = orm.NewTable("todos",
	orm.ID(),
	orm.Text("list_id"),
	orm.Text("title").Nullable(),
	orm.Boolean("done").Default(false),
	orm.BigInt("x").Nullable(),
	orm.Int("rank").Default(0),
).With(orm.TableOptions{Auth: orm.TableAuth{
	// A user named like a list reads that list's rows (the tests run as
	// the system unless they say otherwise).
	Read: rowauth.Owner(expr.ColRef("todos", "list_id")).Rule(),
}})

// Todo is one row of Todos.
type Todo struct {
	ID     string  `db:"id"`
	ListID string  `db:"list_id"`
	Title  *string `db:"title"`
	Done   bool    `db:"done"`
	X      *int64  `db:"x"`
	Rank   int64   `db:"rank"`
}

var todoSchema = mustSchema(orm.DefineSchema("1", Todos))

func mustSchema(s *orm.Schema, err error) *orm.Schema {
	if err != nil {
		panic(err)
	}
	return s
}

// engine is one database target of a test.
type engine struct {
	name string
	db   *orm.DB        // with plasma's plugins
	open func() *orm.DB // another *orm.DB (own pool) on the same database
	dsn  string         // PostgreSQL: for a listener
}

// engines returns SQLite and, when configured, PostgreSQL.
func engines(t *testing.T) []engine {
	t.Helper()
	out := []engine{newEngine(t, ormtest.SQLite(t), "")}
	if os.Getenv(ormtest.EnvPostgres) != "" {
		out = append(out, newEngine(t, ormtest.Postgres(t), os.Getenv(ormtest.EnvPostgres)))
	}
	return out
}

func newEngine(t *testing.T, tg *ormtest.Target, dsn string) engine {
	t.Helper()
	ctx := context.Background()
	db, err := serverdb.New(ctx, todoSchema, tg.DB)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *orm.DB {
		other, err := serverdb.New(ctx, todoSchema, orm.New(tg.Open(t), tg.Dialect), serverdb.SkipEnsure())
		if err != nil {
			t.Fatal(err)
		}
		return other
	}
	return engine{name: tg.Name, db: db, open: open, dsn: dsn}
}

func forEngines(t *testing.T, body func(t *testing.T, e engine)) {
	for _, e := range engines(t) {
		t.Run(e.name, func(t *testing.T) { body(t, e) })
	}
}

var sys = rowauth.AsSystem(context.Background())

func insert(t testing.TB, db *orm.DB, rows ...orm.Row) {
	t.Helper()
	if _, err := db.Insert(Todos).Values(rows...).Exec(sys); err != nil {
		t.Fatal(err)
	}
}

func todo(id, list, title string, done bool) orm.Row {
	return orm.Row{"id": id, "list_id": list, "title": title, "done": done}
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func openTodos(db *orm.DB, list string) *orm.SelectQuery {
	return db.Select(Todos.Col("id"), Todos.Col("title")).From(Todos).
		Where(expr.Eq(Todos.Col("list_id"), list), expr.Eq(Todos.Col("done"), false)).
		OrderBy(expr.Asc(Todos.Col("title"))).Limit(3)
}
