package rowauth_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

func Example() {
	ctx := context.Background()
	base, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer base.Close()

	// Each user reads and writes only their own notes.
	ownerOnly := rowauth.Owner(expr.ColRef("notes", "owner_id")).Rule()
	notes := orm.NewTable("notes", orm.ID(), orm.Text("owner_id"), orm.Text("body")).
		With(orm.TableOptions{Auth: orm.TableAuth{Read: ownerOnly, Write: ownerOnly}})
	if err := orm.EnsureSchema(ctx, orm.MustDefineSchema("1", notes), base); err != nil {
		panic(err)
	}
	db := base.Use(rowauth.Middleware())

	// Trusted code seeds the table.
	if _, err := db.Insert(notes).Values(
		orm.Row{"id": "n1", "owner_id": "ann", "body": "ann's"},
		orm.Row{"id": "n2", "owner_id": "bob", "body": "bob's"},
	).Exec(rowauth.AsSystem(ctx)); err != nil {
		panic(err)
	}

	ann := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "ann"})
	bodies, err := orm.All[string](ann, db.Select(notes.Col("body")).From(notes))
	fmt.Println(bodies, err)
	n, err := orm.Scalar[int64](ann, db.Select(expr.CountAll()).From(notes))
	fmt.Println(n, err)

	// Ann may not write a note for Bob.
	_, err = db.Insert(notes).Values(orm.Row{"id": "n3", "owner_id": "bob", "body": "forged"}).Exec(ann)
	var denied *rowauth.AuthorizationError
	fmt.Println(errors.As(err, &denied), errors.Is(err, rowauth.ErrOutsideRule))

	// Without an identity, a table with rules is off limits.
	_, err = orm.All[string](ctx, db.Select(notes.Col("body")).From(notes))
	fmt.Println(errors.Is(err, rowauth.ErrNoIdentity))
	// Output:
	// [ann's] <nil>
	// 1 <nil>
	// true true
	// true
}
