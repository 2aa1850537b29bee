package schemagen_test

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate/schemagen"
)

// Generate declares the tables another tool created: here a synced-ready
// table with a text id, and an existing table with an integer key, which
// becomes External.
func ExampleGenerate() {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE authors (id TEXT NOT NULL PRIMARY KEY, name VARCHAR(80) NOT NULL, email TEXT UNIQUE)`,
		`CREATE TABLE posts (n INTEGER PRIMARY KEY AUTOINCREMENT, author_id TEXT NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
			title TEXT NOT NULL DEFAULT 'untitled', draft BOOLEAN NOT NULL DEFAULT TRUE)`,
		`CREATE INDEX posts_by_author ON posts (author_id, n)`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			fmt.Println(err)
			return
		}
	}
	src, err := schemagen.Generate(ctx, db, schemagen.Options{Package: "blog"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(src))
	// Output:
	// // This file declares the tables of a sqlite database with plasma's schema
	// // DSL, as plasma pull (orm/migrate/schemagen) read them. It is yours to edit.
	//
	// package blog
	//
	// import (
	// 	"github.com/plasma-go/plasma/orm"
	// 	"github.com/plasma-go/plasma/tabledef"
	// )
	//
	// // Authors is the table "authors".
	// var Authors = orm.NewTable("authors",
	// 	orm.ID(),
	// 	// The database's type is "VARCHAR(80)", which migrate takes for TEXT, the
	// 	// type plasma gives a text column, and leaves as it is.
	// 	orm.Text("name"),
	// 	orm.Text("email").Nullable().Unique(),
	// )
	//
	// // Posts is the table "posts". It is External, mapped but not synced: a
	// // synced table's key is one text column, orm.ID().
	// var Posts = orm.NewTable("posts",
	// 	orm.AutoIncrement("n"),
	// 	orm.Text("author_id").References("authors", "id", tabledef.Cascade),
	// 	orm.Text("title").Default("untitled"),
	// 	orm.Boolean("draft").Default(true),
	// ).With(orm.TableOptions{
	// 	External: true,
	// 	Indexes: []orm.Index{
	// 		{Name: "posts_by_author", Columns: []string{"author_id", "n"}},
	// 	},
	// })
	//
	// // Schema declares the tables above, version "1".
	// var Schema = orm.MustDefineSchema("1", Authors, Posts)
}
