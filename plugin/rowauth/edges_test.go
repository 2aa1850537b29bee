package rowauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

var (
	// inbox: its owner reads a message; its author or its owner writes it.
	// The write rule is broader than the read rule: an author may edit or
	// delete a message it can no longer read.
	inbox = orm.NewTable("inbox", orm.ID(), orm.Text("owner_id"), orm.Text("author_id"), orm.Text("body")).
		With(orm.TableOptions{Auth: orm.TableAuth{
			Read: rowauth.Owner(expr.ColRef("inbox", "owner_id")).Rule(),
			Write: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
				return expr.Or(expr.Eq(expr.ColRef("inbox", "owner_id"), id.UserID),
					expr.Eq(expr.ColRef("inbox", "author_id"), id.UserID)), nil
			}).Rule(),
		}})

	// docs: a doc may be written by its owner, or by the editor of its
	// parent doc, which the rule reads through an alias of docs itself.
	docs = orm.NewTable("docs", orm.ID(), orm.Text("owner_id"), orm.Text("parent_id"), orm.Text("editor_id"))

	// slots: each user's rows; slot is unique and defaults to "main".
	slots = orm.NewTable("slots", orm.ID(), orm.Text("owner_id"), orm.Text("slot").Unique().Default("main"),
		orm.Text("value")).With(ownerRules("slots"))

	// wiki: its owner writes a page; whoever is the reader of its parent
	// page reads it (a read rule through an alias of wiki itself).
	wiki = orm.NewTable("wiki", orm.ID(), orm.Text("owner_id"), orm.Text("parent_id"), orm.Text("reader_id"))

	edgeSchema = orm.MustDefineSchema("1", inbox, docs, slots, wiki)
)

func init() {
	rule := rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		d2 := docs.As("d2")
		edited := orm.Select(d2.Col("id")).From(d2).Where(expr.Eq(d2.Col("editor_id"), id.UserID))
		return expr.Or(expr.Eq(docs.Col("owner_id"), id.UserID), expr.InArray(docs.Col("parent_id"), edited)), nil
	}).Rule()
	docs.With(orm.TableOptions{Auth: orm.TableAuth{Read: rule, Write: rule}})
	wiki.With(orm.TableOptions{Auth: orm.TableAuth{
		Read: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			w2 := wiki.As("w2")
			return expr.InArray(wiki.Col("parent_id"), orm.Select(w2.Col("id")).From(w2).Where(expr.Eq(w2.Col("reader_id"), id.UserID))), nil
		}).Rule(),
		Write: rowauth.Owner(expr.ColRef("wiki", "owner_id")).Rule(),
	}})
}

func openEdges(t *testing.T, tg *ormtest.Target) *orm.DB {
	t.Helper()
	db, err := serverdb.New(context.Background(), edgeSchema, tg.DB)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []*orm.InsertQuery{
		db.Insert(inbox).Values(
			orm.Row{"id": "m1", "owner_id": "u1", "author_id": "u2", "body": "hello"},
			orm.Row{"id": "m2", "owner_id": "u2", "author_id": "u2", "body": "note to self"},
			orm.Row{"id": "m3", "owner_id": "u3", "author_id": "u3", "body": "private"}),
		// D1 is u2's, and its own parent: u1 may write it as D1's editor.
		db.Insert(docs).Values(
			orm.Row{"id": "D1", "owner_id": "u2", "parent_id": "D1", "editor_id": "u1"},
			orm.Row{"id": "D2", "owner_id": "u1", "parent_id": "", "editor_id": "u1"}),
		db.Insert(slots).Values(orm.Row{"id": "S1", "owner_id": "u2", "slot": "main", "value": "u2's"}),
		db.Insert(wiki).Values(orm.Row{"id": "W1", "owner_id": "u1", "parent_id": "W1", "reader_id": "u1"}),
	} {
		if _, err := q.Exec(system); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestReturningReadRule: UPDATE and DELETE write every row the write rule
// allows, but RETURNING yields only the rows the read rule allows.
func TestReturningReadRule(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openEdges(t, tg)
		u2 := as("u2")
		ids := func(res *orm.Result, err error) []string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return strs(t, u2, done{res})
		}
		bodies := func() []string {
			return strs(t, system, db.Select(inbox.Col("id"), inbox.Col("body")).From(inbox))
		}

		// u2 wrote m1 into u1's inbox: it may edit it, not read it back.
		expect(t, ids(db.Update(inbox).Set(orm.Row{"body": "edited"}).Where(expr.Eq(inbox.Col("id"), "m1")).
			Returning().Rows(u2)))
		expect(t, ids(db.Update(inbox).Set(orm.Row{"body": "again"}).AllRows().
			Returning(inbox.Col("id"), inbox.Col("body")).Rows(u2)), "again,m2")
		expect(t, bodies(), "again,m1", "again,m2", "private,m3")
		// A RETURNING that holds only a subquery is filtered too.
		expect(t, ids(db.Update(inbox).Set(orm.Row{"body": "x"}).Where(expr.Eq(inbox.Col("id"), "m1")).
			Returning(expr.As(expr.SQL("?", inbox.Col("owner_id")), "o")).Rows(u2)))

		// Exec counts every row written, readable or not.
		n, err := db.Update(inbox).Set(orm.Row{"body": "y"}).AllRows().Exec(u2)
		if err != nil || n != 2 {
			t.Fatal(n, err)
		}

		// An upsert that updates m1 does not return it either.
		expect(t, ids(db.Insert(inbox).Values(orm.Row{"id": "m1", "owner_id": "u1", "author_id": "u2", "body": "z"}).
			OnConflictDoUpdate([]string{"id"}, "body").Returning().Rows(u2)))
		expect(t, bodies(), "private,m3", "y,m2", "z,m1")

		expect(t, ids(db.Delete(inbox).AllRows().Returning(inbox.Col("id"), inbox.Col("body")).Rows(u2)), "y,m2")
		expect(t, bodies(), "private,m3")
	})
}

// TestSelfReferentialRuleAfterUpdate: a rule that reads its own table
// under an alias is evaluated on the table as the UPDATE leaves it.
func TestSelfReferentialRuleAfterUpdate(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openEdges(t, tg)
		u1 := as("u1")
		// Handing D1's editorship to u2 takes D1 out of u1's reach.
		_, err := db.Update(docs).Set(orm.Row{"editor_id": "u2"}).Where(expr.Eq(docs.Col("id"), "D1")).Exec(u1)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatalf("want ErrOutsideRule, got %v", err)
		}
		_, err = db.Update(docs).Set(orm.Row{"editor_id": "u2"}).AllRows().Returning().Rows(u1)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatalf("want ErrOutsideRule, got %v", err)
		}
		expect(t, strs(t, system, db.Select(docs.Col("id"), docs.Col("editor_id")).From(docs)), "u1,D1", "u1,D2")

		// Writes that keep every row inside the rule go through.
		n, err := db.Update(docs).Set(orm.Row{"editor_id": "u1", "owner_id": "u2"}).Where(expr.Eq(docs.Col("id"), "D1")).Exec(u1)
		if err != nil || n != 1 {
			t.Fatal(n, err)
		}
		res, err := db.Update(docs).Set(orm.Row{"editor_id": "u3"}).Where(expr.Eq(docs.Col("id"), "D2")).
			Returning(docs.Col("id")).Rows(u1)
		if err != nil {
			t.Fatal(err)
		}
		expect(t, strs(t, u1, done{res}), "D2")
		expect(t, strs(t, system, db.Select(docs.Col("id"), docs.Col("editor_id")).From(docs)), "u1,D1", "u3,D2")
	})
}

// TestSelfReferentialReadRuleReturning: an UPDATE's RETURNING is
// filtered by a read rule that reads its own table as the UPDATE left it.
func TestSelfReferentialReadRuleReturning(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openEdges(t, tg)
		u1 := as("u1")
		set := func(reader string) []string {
			t.Helper()
			res, err := db.Update(wiki).Set(orm.Row{"reader_id": reader}).Where(expr.Eq(wiki.Col("id"), "W1")).
				Returning(wiki.Col("id"), wiki.Col("reader_id")).Rows(u1)
			if err != nil {
				t.Fatal(err)
			}
			return strs(t, u1, done{res})
		}
		// Giving W1's readership away hides W1 from u1 at once.
		expect(t, set("u2"))
		expect(t, strs(t, u1, db.Select(wiki.Col("id")).From(wiki)))
		// u1 still owns (writes) it, and may take it back.
		expect(t, set("u1"), "W1,u1")
	})
}

// TestUpsertDefaultTarget: an upsert whose conflict target column is left
// to its default may not update another user's row.
func TestUpsertDefaultTarget(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := openEdges(t, tg)
		u1 := as("u1")
		// slot defaults to "main", which is u2's S1: the upsert would hand
		// S1 to u1.
		_, err := db.Insert(slots).Values(orm.Row{"id": "S9", "owner_id": "u1", "value": "mine now"}).
			OnConflictDoUpdate([]string{"slot"}, "owner_id", "value").Exec(u1)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatalf("want ErrOutsideRule, got %v", err)
		}
		expect(t, strs(t, system, db.Select(slots.Col("id"), slots.Col("owner_id"), slots.Col("value")).From(slots)), "S1,u2,u2's")
		// With no target at all, every unique key is checked, before the
		// ORM would refuse the statement: the refusal is row auth's, so it
		// would hold were the ORM to take the statement. Nothing is written.
		_, err = db.Insert(slots).Values(orm.Row{"id": "S9", "owner_id": "u1", "value": "mine now"}).
			OnConflictDoUpdate(nil, "owner_id", "value").Exec(u1)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatalf("an upsert without a conflict target: want ErrOutsideRule, got %v", err)
		}
		expect(t, strs(t, system, db.Select(slots.Col("id"), slots.Col("owner_id"), slots.Col("value")).From(slots)), "S1,u2,u2's")

		// u1's own default-slot row upserts as before.
		for _, v := range []string{"one", "two"} {
			if _, err := db.Insert(slots).Values(orm.Row{"id": "S8", "owner_id": "u1", "slot": "u1-main", "value": v}).
				OnConflictDoUpdate([]string{"slot"}, "value").Exec(u1); err != nil {
				t.Fatal(err)
			}
		}
		// u2 may upsert over its own default slot.
		if _, err := db.Insert(slots).Values(orm.Row{"id": "S7", "owner_id": "u2", "value": "u2 again"}).
			OnConflictDoUpdate([]string{"slot"}, "value").Exec(as("u2")); err != nil {
			t.Fatal(err)
		}
		expect(t, strs(t, system, db.Select(slots.Col("id"), slots.Col("value")).From(slots)), "S1,u2 again", "S8,two")
	})
}

// done is a result already run, as a RowSource.
type done struct{ res *orm.Result }

func (d done) Rows(context.Context) (*orm.Result, error) { return d.res, nil }
