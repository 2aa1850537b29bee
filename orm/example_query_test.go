package orm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

var (
	exUsers = orm.NewTable("users",
		orm.ID(),
		orm.Text("name"),
		orm.Int("age").Nullable(),
		orm.Boolean("active").Default(true),
	)
	exTodos = orm.NewTable("todos",
		orm.ID(),
		orm.Text("title"),
		orm.Boolean("done").Default(false),
		orm.Text("owner_id").References("users", "id", tabledef.Cascade),
	)
	exSchema = orm.MustDefineSchema("1", exUsers, exTodos)
)

// exampleDB opens an in-memory SQLite database with the example schema
// and a few rows.
func exampleDB(ctx context.Context) *orm.DB {
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	if err := orm.EnsureSchema(ctx, exSchema, db); err != nil {
		panic(err)
	}
	_, err = db.Insert(exUsers).Values(
		orm.Row{"id": "u1", "name": "ann", "age": 31},
		orm.Row{"id": "u2", "name": "bob", "age": nil},
	).Exec(ctx)
	if err != nil {
		panic(err)
	}
	_, err = db.Insert(exTodos).Values(
		orm.Row{"id": "t1", "title": "write tests", "owner_id": "u1", "done": true},
		orm.Row{"id": "t2", "title": "fix bugs", "owner_id": "u1", "done": false},
		orm.Row{"id": "t3", "title": "review", "owner_id": "u2", "done": false},
	).Exec(ctx)
	if err != nil {
		panic(err)
	}
	return db
}

// Select builds a query; All runs it and scans every row into a struct,
// matching columns by db tag or by snake_case field name.
func ExampleDB_Select() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	type todo struct {
		ID      string
		Title   string
		OwnerID string `db:"owner_id"`
	}
	todos, err := orm.All[todo](ctx, db.Select().From(exTodos).
		Where(expr.Eq(exTodos.Col("owner_id"), "u1"), expr.Not(expr.Eq(exTodos.Col("done"), true))).
		OrderBy(expr.Asc(exTodos.Col("id"))).
		Limit(20))
	fmt.Println(todos, err)

	// Joins, grouping and aggregates; One returns a single row.
	type open struct {
		Name string
		N    int64
	}
	busiest, err := orm.One[open](ctx, db.Select(exUsers.Col("name"), expr.As(expr.CountAll(), "n")).
		From(exUsers).
		InnerJoin(exTodos, expr.Eq(exTodos.Col("owner_id"), exUsers.Col("id"))).
		Where(expr.Eq(exTodos.Col("done"), false)).
		GroupBy(exUsers.Col("id")).
		OrderBy(expr.Desc(expr.CountAll()), expr.Asc(exUsers.Col("name"))))
	fmt.Println(busiest, err)

	// No row is an error that errors.Is matches.
	_, err = orm.One[todo](ctx, db.Select().From(exTodos).Where(expr.Eq(exTodos.Col("id"), "nope")))
	fmt.Println(errors.Is(err, orm.ErrNotFound))

	// A statement renders for any dialect without running.
	text, args, _ := db.Select(exUsers.Col("name")).From(exUsers).
		Where(expr.InArray(exUsers.Col("id"), []string{"u1", "u2"})).ToSql()
	fmt.Println(text, args)
	// Output:
	// [{t2 fix bugs u1}] <nil>
	// {ann 1} <nil>
	// true
	// SELECT "users"."name" FROM "users" WHERE ("users"."id" IN (?, ?)) [u1 u2]
}

// Scalar reads one value; Maps reads rows without a struct, with values
// of one Go type per column kind on every engine.
func ExampleAll() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	titles, _ := orm.All[string](ctx, db.Select(exTodos.Col("title")).From(exTodos).OrderBy(expr.Asc(exTodos.Col("title"))))
	fmt.Println(titles)

	n, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(exTodos).Where(expr.Eq(exTodos.Col("done"), false)))
	fmt.Println(n)

	rows, _ := orm.Maps(ctx, db.Select(exUsers.Col("name"), exUsers.Col("age"), exUsers.Col("active")).From(exUsers).OrderBy(expr.Asc(exUsers.Col("id"))))
	for _, r := range rows {
		fmt.Println(r["name"], r["age"], r["active"])
	}
	// Output:
	// [fix bugs review write tests]
	// 2
	// ann 31 true
	// bob <nil> true
}

// Insert writes one or many rows; an upsert resolves a conflict on its
// target, and Returning reads back what was written.
func ExampleDB_Insert() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	n, err := db.Insert(exUsers).Values(
		orm.Row{"id": "u3", "name": "cy"},
		orm.Row{"id": "u4", "name": "di"},
	).Exec(ctx)
	fmt.Println(n, err)

	type user struct {
		ID     string
		Name   string
		Age    *int
		Active bool
	}
	got, err := orm.All[user](ctx, db.Insert(exUsers).
		Values(orm.Row{"id": "u1", "name": "ann b.", "age": 32}).
		OnConflictDoUpdate([]string{"id"}, "name", "age").
		Returning())
	fmt.Println(got[0].Name, *got[0].Age, got[0].Active, err)

	n, err = db.Insert(exUsers).Values(orm.Row{"id": "u2", "name": "ignored"}).OnConflictDoNothing("id").Exec(ctx)
	fmt.Println(n, err)

	// A value of the wrong kind is refused before any SQL runs.
	_, err = db.Insert(exUsers).Values(orm.Row{"id": "u5", "name": "x", "active": "yes"}).Exec(ctx)
	fmt.Println(errors.Is(err, orm.ErrValueKind))
	fmt.Println(err)
	// Output:
	// 2 <nil>
	// ann b. 32 true <nil>
	// 0 <nil>
	// true
	// plasma: INSERT INTO users: column users.active: value of the wrong kind for the column: string "yes" is not a boolean value
}

// Update sets columns on the rows Where selects; without Where it is
// refused unless AllRows says every row is meant.
func ExampleDB_Update() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	n, err := db.Update(exTodos).Set(orm.Row{"done": true}).Where(expr.Eq(exTodos.Col("owner_id"), "u1")).Exec(ctx)
	fmt.Println(n, err)

	// A value may be an expression of the row.
	type renamed struct{ Title string }
	got, err := orm.All[renamed](ctx, db.Update(exTodos).
		Set(orm.Row{"title": expr.SQL("? || ?", exTodos.Col("title"), "!")}).
		Where(expr.Eq(exTodos.Col("id"), "t3")).
		Returning(exTodos.Col("title")))
	fmt.Println(got, err)

	_, err = db.Update(exTodos).Set(orm.Row{"done": false}).Exec(ctx)
	fmt.Println(errors.Is(err, orm.ErrUnsafeWrite))

	n, err = db.Update(exTodos).Set(orm.Row{"done": false}).AllRows().Exec(ctx)
	fmt.Println(n, err)
	// Output:
	// 2 <nil>
	// [{review!}] <nil>
	// true
	// 3 <nil>
}

// Delete removes the rows Where selects, here returning their ids.
func ExampleDB_Delete() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	ids, err := orm.All[string](ctx, db.Delete(exTodos).Where(expr.Eq(exTodos.Col("done"), true)).Returning(exTodos.Col("id")))
	fmt.Println(ids, err)

	_, err = db.Delete(exTodos).Exec(ctx)
	fmt.Println(errors.Is(err, orm.ErrUnsafeWrite))

	// Deleting a user cascades to their todos.
	n, err := db.Delete(exUsers).Where(expr.Eq(exUsers.Col("id"), "u1")).Exec(ctx)
	left, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(exTodos))
	fmt.Println(n, err, left)
	// Output:
	// [t1] <nil>
	// true
	// 1 <nil> 1
}

// Tx commits when the function returns nil and rolls back when it returns
// an error or panics.
func ExampleDB_Tx() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	err := db.Tx(ctx, func(tx *orm.Tx) error {
		if _, err := tx.Insert(exUsers).Values(orm.Row{"id": "u3", "name": "cy"}).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.Insert(exTodos).Values(orm.Row{"id": "t4", "title": "onboard", "owner_id": "u3"}).Exec(ctx)
		return err
	})
	fmt.Println(err)

	err = db.Tx(ctx, func(tx *orm.Tx) error {
		if _, err := tx.Delete(exTodos).AllRows().Exec(ctx); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	fmt.Println(err)

	n, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(exTodos))
	fmt.Println(n)

	// Begin, Commit and Rollback by hand.
	tx, _ := db.Begin(ctx)
	_, _ = tx.Update(exUsers).Set(orm.Row{"active": false}).AllRows().Exec(ctx)
	_ = tx.Rollback()
	active, _ := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(exUsers).Where(expr.Eq(exUsers.Col("active"), true)))
	fmt.Println(active)
	// Output:
	// <nil>
	// changed my mind
	// 4
	// 3
}

// Use adds middleware: every statement passes through it, so it can log,
// rewrite (here: hide done todos from every read) or refuse.
func ExampleDB_Use() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	logged := db.Use(func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			fmt.Println("run", st.Op)
			return next(ctx, st)
		}
	})
	_, _ = orm.Scalar[int64](ctx, logged.Select(expr.CountAll()).From(exUsers))
	_, _ = logged.Update(exUsers).Set(orm.Row{"age": 40}).Where(expr.Eq(exUsers.Col("id"), "u2")).Exec(ctx)

	openOnly := db.Use(func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if q, ok := st.Query.(*orm.SelectQuery); ok && st.Table == exTodos {
				st.Query = q.Clone().Where(expr.Eq(exTodos.Col("done"), false))
			}
			return next(ctx, st)
		}
	})
	titles, _ := orm.All[string](ctx, openOnly.Select(exTodos.Col("title")).From(exTodos).OrderBy(expr.Asc(exTodos.Col("id"))))
	fmt.Println(titles)

	readOnly := db.Use(func(next orm.Handler) orm.Handler {
		return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
			if st.Op.IsWrite() {
				return nil, fmt.Errorf("read-only: %s refused", st.Op)
			}
			return next(ctx, st)
		}
	})
	_, err := readOnly.Delete(exTodos).AllRows().Exec(ctx)
	fmt.Println(err)
	// Output:
	// run SELECT
	// run UPDATE
	// [fix bugs review]
	// read-only: DELETE refused
}
