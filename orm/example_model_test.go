package orm_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// Todo is an application's model type: the same db tags serve writes
// (Model, Set) and reads (All, One).
type Todo struct {
	ID      string `db:"id"`
	Title   string `db:"title"`
	Done    bool   `db:"done"`
	OwnerID string `db:"owner_id"`
	Editing bool   `db:"-"` // not a column
}

// Struct writes: insert a model, a slice of models, and update from one,
// without building maps.
func ExampleInsertQuery_Model() {
	ctx := context.Background()
	db := exampleDB(ctx)
	defer db.Close()

	if _, err := db.Insert(exTodos).Model(&Todo{ID: "t4", Title: "write docs", OwnerID: "u1"}).Exec(ctx); err != nil {
		panic(err)
	}
	batch := []Todo{
		{ID: "t5", Title: "review docs", OwnerID: "u2"},
		{ID: "t6", Title: "ship", OwnerID: "u2", Done: true},
	}
	n, err := db.Insert(exTodos).Model(batch).Exec(ctx)
	fmt.Println(n, err)

	// Set assigns every mapped field but the primary key.
	t4 := Todo{Title: "write better docs", Done: true, OwnerID: "u1"}
	if _, err := db.Update(exTodos).Set(&t4).Where(expr.Eq(exTodos.Col("id"), "t4")).Exec(ctx); err != nil {
		panic(err)
	}
	todos, err := orm.All[Todo](ctx, db.Select().From(exTodos).
		Where(expr.Gt(exTodos.Col("id"), "t3")).OrderBy(expr.Asc(exTodos.Col("id"))))
	if err != nil {
		panic(err)
	}
	for _, t := range todos {
		fmt.Printf("%s %q %v %s\n", t.ID, t.Title, t.Done, t.OwnerID)
	}

	// A field that matches no column is refused before anything is written.
	type draft struct {
		ID    string `db:"id"`
		Title string `db:"title"`
		Notes string // no "notes" column
	}
	_, err = db.Insert(exTodos).Model(draft{ID: "t7", Title: "?"}).Exec(ctx)
	fmt.Println(errors.Is(err, orm.ErrBadModel))
	fmt.Println(err)
	// Output:
	// 2 <nil>
	// t4 "write better docs" true u1
	// t5 "review docs" false u2
	// t6 "ship" true u2
	// true
	// plasma: INSERT INTO todos: value cannot be written as a row: orm_test.draft field Notes matches no column of todos (tag it db:"-" to leave it out)
}
