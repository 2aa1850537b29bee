package orm_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

var (
	prepUsers = orm.NewTable("users",
		orm.ID(), orm.Text("name"), orm.Text("email").Nullable(), orm.Int("age"), orm.Text("status"))
	prepPosts = orm.NewTable("posts",
		orm.ID(), orm.Text("author_id"), orm.Text("title"))
	prepSchema = orm.MustDefineSchema("1", prepUsers, prepPosts)
)

// ExamplePrepare renders a statement once and binds new values to it on
// each use: only the arguments are built per call.
func ExamplePrepareUnchained() {
	users := orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Int("age"), orm.Text("status"))
	byAge, err := orm.PrepareUnchained(postgres.Dialect,
		orm.Select(users.Col("id"), users.Col("name")).
			From(users).
			Where(expr.Gt(users.Col("age"), expr.Arg(0)), expr.Eq(users.Col("status"), expr.Arg(1))).
			OrderBy(expr.Desc(users.Col("id"))).
			Limit(10))
	if err != nil {
		panic(err)
	}
	text, args, err := byAge.Bind(18, "active")
	fmt.Println(text)
	fmt.Println(args, err)

	_, _, err = byAge.Bind(18)
	fmt.Println(errors.Is(err, orm.ErrArgCount))
	// Output:
	// SELECT "users"."id", "users"."name" FROM "users" WHERE ("users"."age" > $1) AND ("users"."status" = $2) ORDER BY "users"."id" DESC LIMIT 10
	// [18 active] <nil>
	// true
}

func TestPrepareMatchesRender(t *testing.T) {
	build := func(age, status, pattern any) *orm.SelectQuery {
		return orm.Select(prepUsers.Col("id"), prepUsers.Col("name")).
			From(prepUsers).
			Where(
				expr.Gt(prepUsers.Col("age"), age),
				expr.Eq(prepUsers.Col("status"), status),
				expr.Like(prepUsers.Col("name"), pattern),
			).
			OrderBy(expr.Desc(prepUsers.Col("id"))).
			Limit(10)
	}
	for _, dia := range []dialect.Dialect{postgres.Dialect, sqlite.Dialect} {
		t.Run(dia.Name(), func(t *testing.T) {
			p, err := orm.PrepareUnchained(dia, build(expr.Arg(0), expr.Arg(1), expr.Arg(2)))
			if err != nil {
				t.Fatal(err)
			}
			if p.NumArgs() != 3 {
				t.Fatalf("NumArgs = %d", p.NumArgs())
			}
			wantSQL, wantArgs, err := build(30, "active", "a%").Render(dia)
			if err != nil {
				t.Fatal(err)
			}
			gotSQL, gotArgs, err := p.Bind(30, "active", "a%")
			if err != nil {
				t.Fatal(err)
			}
			if gotSQL != wantSQL || p.SQL() != wantSQL {
				t.Fatalf("prepared SQL\n%s\nwant\n%s", gotSQL, wantSQL)
			}
			if !reflect.DeepEqual(gotArgs, wantArgs) {
				t.Fatalf("args %v, want %v", gotArgs, wantArgs)
			}
		})
	}
}

func TestPrepareWrongArgCount(t *testing.T) {
	p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(expr.Eq(prepUsers.Col("name"), expr.Arg(0)), expr.Gt(prepUsers.Col("age"), expr.Arg(1))))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]any{nil, {"ann"}, {"ann", 3, 4}, {"ann", 3, 4, 5}} {
		text, got, err := p.Bind(args...)
		if !errors.Is(err, orm.ErrArgCount) {
			t.Fatalf("Bind(%v): err = %v, want ErrArgCount", args, err)
		}
		var qe *orm.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Detail, fmt.Sprintf("got %d, want 2", len(args))) {
			t.Fatalf("Bind(%v): %v does not say the counts", args, err)
		}
		if text != "" || got != nil {
			t.Fatalf("Bind(%v) returned %q %v beside the error", args, text, got)
		}
	}

	// A statement without slots takes no arguments.
	none, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(expr.Eq(prepUsers.Col("status"), "active")))
	if err != nil {
		t.Fatal(err)
	}
	if none.NumArgs() != 0 {
		t.Fatalf("NumArgs = %d", none.NumArgs())
	}
	if _, _, err := none.Bind("x"); !errors.Is(err, orm.ErrArgCount) {
		t.Fatalf("Bind with an extra argument: %v", err)
	}
	if _, args, err := none.Bind(); err != nil || !reflect.DeepEqual(args, []any{"active"}) {
		t.Fatalf("Bind() = %v, %v", args, err)
	}
}

func TestPrepareBadSlots(t *testing.T) {
	for name, q := range map[string]*orm.SelectQuery{
		"gap": orm.Select(prepUsers.Col("id")).From(prepUsers).
			Where(expr.Eq(prepUsers.Col("name"), expr.Arg(0)), expr.Gt(prepUsers.Col("age"), expr.Arg(2))),
		"negative": orm.Select(prepUsers.Col("id")).From(prepUsers).
			Where(expr.Eq(prepUsers.Col("name"), expr.Arg(-1))),
		"no first": orm.Select(prepUsers.Col("id")).From(prepUsers).
			Where(expr.Eq(prepUsers.Col("name"), expr.Arg(1))),
	} {
		if _, err := orm.PrepareUnchained(postgres.Dialect, q); !errors.Is(err, orm.ErrBadSlot) {
			t.Errorf("%s: err = %v, want ErrBadSlot", name, err)
		}
	}
	// Validation still runs: an unknown column is refused at PrepareUnchained.
	_, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(expr.Eq(prepUsers.Col("nope"), expr.Arg(0))))
	if !errors.Is(err, orm.ErrUnknownColumn) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestPrepareValueKinds(t *testing.T) {
	p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(
			expr.Eq(prepUsers.Col("status"), expr.Arg(0)),
			expr.Or(expr.Lt(expr.Arg(1), prepUsers.Col("age")), expr.InArray(prepUsers.Col("name"), []expr.Expr{expr.Arg(0), expr.Arg(2)})),
		))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Bind("active", 30, "bob"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []any
		col  string
	}{
		{[]any{"active", "thirty", "bob"}, "users.age"},
		{[]any{"active", int64(1) << 40, "bob"}, "users.age"}, // overflows a 32-bit int
		{[]any{true, 30, "bob"}, "users.status"},
		{[]any{"active", 30, 7}, "users.name"},
		{[]any{"active", 30, "\xff"}, "users.name"},
	} {
		_, _, err := p.Bind(tc.args...)
		var qe *orm.QueryError
		if !errors.Is(err, orm.ErrValueKind) || !errors.As(err, &qe) || qe.Column != tc.col {
			t.Errorf("Bind(%v): err = %v, want ErrValueKind on %s", tc.args, err, tc.col)
		}
	}
	// NULL compares (as unknown) without a kind error, as when rendering.
	if _, _, err := p.Bind(nil, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareReusesSlotAndKeepsConstants(t *testing.T) {
	p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(
			expr.Eq(prepUsers.Col("status"), "active"),
			expr.Or(expr.Eq(prepUsers.Col("name"), expr.Arg(0)), expr.Eq(prepUsers.Col("email"), expr.Arg(0))),
			expr.Gt(prepUsers.Col("age"), expr.Arg(1)),
		))
	if err != nil {
		t.Fatal(err)
	}
	text, args, err := p.Bind("ann", 20)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "$4") || strings.Contains(text, "$5") {
		t.Fatalf("placeholders: %s", text)
	}
	if want := []any{"active", "ann", "ann", 20}; !reflect.DeepEqual(args, want) {
		t.Fatalf("args %v, want %v", args, want)
	}
	// Each Bind returns a slice of its own.
	_, again, _ := p.Bind("bob", 40)
	if args[1] != "ann" || again[1] != "bob" {
		t.Fatalf("Bind results share memory: %v %v", args, again)
	}
}

func TestPrepareConcurrentBind(t *testing.T) {
	p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(expr.Gt(prepUsers.Col("age"), expr.Arg(0))))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				_, args, err := p.Bind(g*1000 + i)
				if err != nil || args[0] != g*1000+i {
					t.Errorf("Bind: %v %v", args, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPrepareWrites(t *testing.T) {
	ins, err := orm.PrepareUnchained(postgres.Dialect, orm.Insert(prepUsers).Values(orm.Row{
		"id": expr.Arg(0), "name": expr.Arg(1), "email": nil, "age": expr.Arg(2), "status": "new",
	}))
	if err != nil {
		t.Fatal(err)
	}
	text, args, err := ins.Bind("u1", "ann", 30)
	if err != nil {
		t.Fatal(err)
	}
	if want := `INSERT INTO "users" ("id", "name", "email", "age", "status") VALUES ($1, $2, $3, $4, $5)`; text != want {
		t.Fatalf("insert SQL %s", text)
	}
	// Written values are converted as Values converts them: int to int64.
	if want := []any{"u1", "ann", nil, int64(30), "new"}; !reflect.DeepEqual(args, want) {
		t.Fatalf("insert args %#v, want %#v", args, want)
	}
	if _, _, err := ins.Bind("u1", "ann", "old"); !errors.Is(err, orm.ErrValueKind) {
		t.Fatalf("string into int column: %v", err)
	}
	if _, _, err := ins.Bind("u1", nil, 3); !errors.Is(err, orm.ErrNotNullViolation) {
		t.Fatalf("NULL into NOT NULL column: %v", err)
	}

	upd, err := orm.PrepareUnchained(sqlite.Dialect, orm.Update(prepUsers).
		Set(orm.Row{"status": expr.Arg(0)}).
		Where(expr.Eq(prepUsers.Col("id"), expr.Arg(1))))
	if err != nil {
		t.Fatal(err)
	}
	if _, args, err := upd.Bind("gone", "u1"); err != nil || !reflect.DeepEqual(args, []any{"gone", "u1"}) {
		t.Fatalf("update: %v %v", args, err)
	}
	if _, _, err := upd.Bind(false, "u1"); !errors.Is(err, orm.ErrValueKind) {
		t.Fatalf("bool into text column: %v", err)
	}

	del, err := orm.PrepareUnchained(sqlite.Dialect, orm.Delete(prepUsers).Where(expr.Eq(prepUsers.Col("age"), expr.Arg(0))))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := del.Bind("x"); !errors.Is(err, orm.ErrValueKind) {
		t.Fatalf("delete: %v", err)
	}
}

func TestPrepareSubquery(t *testing.T) {
	inner := orm.Select(prepPosts.Col("author_id")).From(prepPosts).Where(expr.Eq(prepPosts.Col("title"), expr.Arg(1)))
	p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
		Where(expr.Gt(prepUsers.Col("age"), expr.Arg(0)), expr.InArray(prepUsers.Col("id"), inner)))
	if err != nil {
		t.Fatal(err)
	}
	text, args, err := p.Bind(18, "hello")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `"posts"."title" = $2`) || !reflect.DeepEqual(args, []any{18, "hello"}) {
		t.Fatalf("%s %v", text, args)
	}
	if _, _, err := p.Bind(18, 5); !errors.Is(err, orm.ErrValueKind) {
		t.Fatalf("int into the subquery's text column: %v", err)
	}
}

func TestPrepareRunsOnSQLite(t *testing.T) {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, prepSchema, db); err != nil {
		t.Fatal(err)
	}
	ins, err := orm.PrepareUnchained(db.Dialect(), orm.Insert(prepUsers).Values(orm.Row{
		"id": expr.Arg(0), "name": expr.Arg(1), "age": expr.Arg(2), "status": "active",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"ann", "bob", "cid"} {
		text, args, err := ins.Bind(fmt.Sprint("u", i), name, 20+10*i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Executor().ExecContext(ctx, text, args...); err != nil {
			t.Fatal(err)
		}
	}
	sel, err := orm.PrepareUnchained(db.Dialect(), orm.Select(prepUsers.Col("name")).From(prepUsers).
		Where(expr.Gte(prepUsers.Col("age"), expr.Arg(0))).OrderBy(expr.Asc(prepUsers.Col("name"))))
	if err != nil {
		t.Fatal(err)
	}
	for age, want := range map[int][]string{0: {"ann", "bob", "cid"}, 30: {"bob", "cid"}, 99: nil} {
		text, args, err := sel.Bind(age)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Executor().QueryContext(ctx, text, args...)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, s)
		}
		rows.Close()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("age >= %d: %v, want %v", age, got, want)
		}
	}

	// A slot rendered without PrepareUnchained never reaches SQL as a value: the
	// driver asks it for its value and it refuses.
	_, err = orm.All[string](ctx, db.Select(prepUsers.Col("name")).From(prepUsers).
		Where(expr.Eq(prepUsers.Col("name"), expr.Arg(0))))
	if err == nil || !strings.Contains(err.Error(), "unbound") {
		t.Fatalf("unbound slot: %v", err)
	}
	var v driver.Valuer = expr.Arg(3)
	if _, err := v.Value(); err == nil || !strings.Contains(err.Error(), "expr.Arg(3)") {
		t.Fatalf("Slot.Value: %v", err)
	}
}

func TestPrepareManyArgs(t *testing.T) {
	for n := 0; n <= 6; n++ {
		slots := make([]expr.Expr, n)
		want := make([]any, n)
		for i := range slots {
			slots[i] = expr.Arg(i)
			want[i] = fmt.Sprint("u", i)
		}
		p, err := orm.PrepareUnchained(postgres.Dialect, orm.Select(prepUsers.Col("id")).From(prepUsers).
			Where(expr.InArray(prepUsers.Col("id"), slots)))
		if err != nil {
			t.Fatal(err)
		}
		_, args, err := p.Bind(want...)
		if err != nil || len(args) != n || (n > 0 && !reflect.DeepEqual(args, want)) {
			t.Fatalf("%d slots: %v %v", n, args, err)
		}
		if n > 0 {
			want[0] = "changed"
			if args[0] == "changed" {
				t.Fatalf("%d slots: Bind's result aliases its arguments", n)
			}
		}
	}
}
