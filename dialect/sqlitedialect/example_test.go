package sqlitedialect_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the program's own driver; a GORM app has glebarez's instead

	"github.com/plasma-go/plasma/dialect/sqlitedialect"
	"github.com/plasma-go/plasma/orm"
)

// plasma on a SQLite pool the program opened with a driver of its own
// (here modernc.org/sqlite; in a GORM app, the *sql.DB of gorm.DB.DB()).
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "plasma-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	pool, err := sql.Open("sqlite", sqlitedialect.DSN(filepath.Join(dir, "app.db")))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	db := orm.New(pool, sqlitedialect.Dialect)
	notes := orm.NewTable("notes", orm.ID(), orm.Text("body"))
	if err := orm.EnsureSchema(ctx, orm.MustDefineSchema("1", notes), db); err != nil {
		fmt.Println(err)
		return
	}
	type Note struct {
		ID   string `gorm:"primaryKey"`
		Body string `gorm:"column:body"`
	}
	if _, err := db.Insert(notes).Model(&Note{ID: "n1", Body: "hello"}).Exec(ctx); err != nil {
		fmt.Println(err)
		return
	}
	got, err := orm.One[Note](ctx, db.Select().From(notes))
	fmt.Println(got.Body, err)
	// Output: hello <nil>
}
