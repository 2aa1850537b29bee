package crdtcol_test

import (
	"context"
	"fmt"

	"github.com/plasma-go/plasma/crdt"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
)

var articles = orm.NewTable("articles",
	orm.ID(),
	orm.Text("title"),
	orm.CRDTCounter("likes").Default(`{"c":{}}`),
	orm.CRDTORSet("tags").Default(`{"e":[],"vv":{}}`),
)

// Two clients like an article, one of them twice, and one writes a stale
// full state of the counter: every increment counts and nothing is lost.
func Example() {
	ctx := context.Background()
	db, err := orm.Open(sqlite.Dialect, ":memory:", crdtcol.Middleware(crdtcol.Options{}))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, orm.MustDefineSchema("1", articles), db); err != nil {
		panic(err)
	}
	if _, err := db.Insert(articles).Values(orm.Row{"id": "a1", "title": "CRDTs"}).Exec(ctx); err != nil {
		panic(err)
	}

	// The client a write comes from is in the context (the sync server
	// sets it around each mutator).
	alice := changelog.WithOrigin(ctx, "alice", 1)
	bob := changelog.WithOrigin(ctx, "bob", 1)
	for _, c := range []context.Context{alice, bob, alice} {
		if err := crdtcol.Increment(c, db, articles, "a1", "likes", 1); err != nil {
			panic(err)
		}
	}
	// A full state written from an old copy is merged, not stored as is.
	if _, err := db.Update(articles).Set(orm.Row{"likes": `{"c":{"alice":"1"}}`}).
		Where(expr.Eq(articles.Col("id"), "a1")).Exec(ctx); err != nil {
		panic(err)
	}
	if err := crdtcol.AddToSet(alice, db, articles, "a1", "tags", "go"); err != nil {
		panic(err)
	}
	if err := crdtcol.AddToSet(bob, db, articles, "a1", "tags", "sync"); err != nil {
		panic(err)
	}

	likes, err := crdtcol.Load(ctx, db, articles, "a1", "likes")
	if err != nil {
		panic(err)
	}
	tags, err := crdtcol.Load(ctx, db, articles, "a1", "tags")
	if err != nil {
		panic(err)
	}
	fmt.Println("likes:", likes.(*crdt.GCounter).Read())
	fmt.Printf("tags: %s\n", tags.(*crdt.ORSet).Values())
	fmt.Println("state:", string(likes.Encode()))
	// Output:
	// likes: 3
	// tags: ["go" "sync"]
	// state: {"c":{"alice":"2","bob":"1"}}
}
