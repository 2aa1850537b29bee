package rowauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
)

func ownerRules(table string) orm.TableOptions {
	owner := rowauth.Owner(expr.ColRef(table, "owner_id")).Rule()
	return orm.TableOptions{Auth: orm.TableAuth{Read: owner, Write: owner}}
}

var (
	cats  = orm.NewTable("cats", orm.ID(), orm.Text("owner_id"), orm.Text("name")).With(ownerRules("cats"))
	items = orm.NewTable("items", orm.ID(), orm.Text("owner_id"), orm.Text("cat_id").Nullable(),
		orm.Int("price").Default(0)).With(ownerRules("items"))
	tags = orm.NewTable("tags", orm.ID(), orm.Text("item_id")) // no rules

	// The demo's shape: rules that consult a membership table.
	lists   = orm.NewTable("lists", orm.ID(), orm.Text("name"), orm.Text("owner_id"))
	members = orm.NewTable("members", orm.ID(), orm.Text("list_id"), orm.Text("user_id"))
	todos   = orm.NewTable("todos", orm.ID(), orm.Text("list_id"), orm.Text("title"))

	// drafts may be written by their owner while unpublished; published
	// defaults to false.
	drafts = orm.NewTable("drafts", orm.ID(), orm.Text("owner_id"), orm.Boolean("published").Default(false)).
		With(orm.TableOptions{Auth: orm.TableAuth{Write: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			return expr.And(expr.Eq(expr.ColRef("drafts", "owner_id"), id.UserID), expr.Eq(expr.ColRef("drafts", "published"), false)), nil
		}).Rule()}})

	schema = orm.MustDefineSchema("1", cats, items, tags, lists, members, todos, drafts)
)

// myLists is the ids of the lists the identity is a member of.
func myLists(id rowauth.Identity) *orm.SelectQuery {
	m := members.As("m")
	return orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), id.UserID))
}

func init() {
	member := func(col *expr.Column) orm.AuthFunc {
		return rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			return expr.InArray(col, myLists(id)), nil
		}).Rule()
	}
	lists.With(orm.TableOptions{Auth: orm.TableAuth{
		Read:  member(lists.Col("id")),
		Write: rowauth.Owner(lists.Col("owner_id")).Rule(),
	}})
	members.With(orm.TableOptions{Auth: orm.TableAuth{
		Read: member(members.Col("list_id")),
		Write: rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
			owned := orm.Select(lists.Col("id")).From(lists).Where(expr.Eq(lists.Col("owner_id"), id.UserID))
			return expr.InArray(members.Col("list_id"), owned), nil
		}).Rule(),
	}})
	todos.With(orm.TableOptions{Auth: orm.TableAuth{Read: member(todos.Col("list_id")), Write: member(todos.Col("list_id"))}})
}

func as(user string) context.Context {
	return rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: user})
}

var system = rowauth.AsSystem(context.Background())

// seed fills the tables through a system context.
func seed(t *testing.T, db *orm.DB) {
	t.Helper()
	for _, q := range []*orm.InsertQuery{
		db.Insert(cats).Values(orm.Row{"id": "c1", "owner_id": "u1", "name": "tom"}, orm.Row{"id": "c2", "owner_id": "u2", "name": "felix"}),
		db.Insert(items).Values(
			orm.Row{"id": "i1", "owner_id": "u1", "cat_id": "c1", "price": 10},
			orm.Row{"id": "i2", "owner_id": "u1", "cat_id": "c2", "price": 20},
			orm.Row{"id": "i3", "owner_id": "u2", "cat_id": "c1", "price": 30},
			orm.Row{"id": "i4", "owner_id": "u2", "cat_id": "c2", "price": 40}),
		db.Insert(tags).Values(orm.Row{"id": "t1", "item_id": "i1"}, orm.Row{"id": "t2", "item_id": "i3"}),
		db.Insert(lists).Values(orm.Row{"id": "L1", "name": "home", "owner_id": "u1"}, orm.Row{"id": "L2", "name": "work", "owner_id": "u2"}),
		db.Insert(members).Values(
			orm.Row{"id": "m1", "list_id": "L1", "user_id": "u1"},
			orm.Row{"id": "m2", "list_id": "L1", "user_id": "u3"},
			orm.Row{"id": "m3", "list_id": "L2", "user_id": "u2"}),
		db.Insert(todos).Values(
			orm.Row{"id": "d1", "list_id": "L1", "title": "milk"},
			orm.Row{"id": "d2", "list_id": "L1", "title": "eggs"},
			orm.Row{"id": "d3", "list_id": "L2", "title": "report"}),
	} {
		if _, err := q.Exec(system); err != nil {
			t.Fatal(err)
		}
	}
}

func open(t *testing.T, tg *ormtest.Target) *orm.DB {
	t.Helper()
	db, err := serverdb.New(context.Background(), schema, tg.DB)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, db)
	return db
}

// strs runs q and returns its rows' columns joined, sorted.
func strs(t *testing.T, ctx context.Context, q orm.RowSource) []string {
	t.Helper()
	rows, err := orm.Maps(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s := ""
		for i, k := range keys {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprint(r[k])
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func scalar(t *testing.T, ctx context.Context, q orm.RowSource) int64 {
	t.Helper()
	n, err := orm.Scalar[int64](ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadAuth runs every read rule against one seeded database. It is
// one long function on purpose: the cases share the seeded rows and read
// them in turn.
func TestReadAuth(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := open(t, tg)
		u1 := as("u1")

		// Plain select.
		expect(t, strs(t, u1, db.Select(items.Col("id")).From(items)), "i1", "i2")
		expect(t, strs(t, as("u2"), db.Select(items.Col("id")).From(items)), "i3", "i4")

		// Joins, both sides: i2's cat is u2's, i3 is u2's item on u1's cat.
		expect(t, strs(t, u1, db.Select(items.Col("id"), expr.As(cats.Col("name"), "cat")).From(items).
			InnerJoin(cats, expr.Eq(items.Col("cat_id"), cats.Col("id")))), "tom,i1")
		expect(t, strs(t, u1, db.Select(cats.Col("name"), expr.As(items.Col("id"), "item")).From(cats).
			InnerJoin(items, expr.Eq(items.Col("cat_id"), cats.Col("id")))), "i1,tom")
		// A left join keeps the left row and hides the right one.
		expect(t, strs(t, u1, db.Select(items.Col("id"), expr.As(cats.Col("name"), "cat")).From(items).
			LeftJoin(cats, expr.Eq(items.Col("cat_id"), cats.Col("id")))), "<nil>,i2", "tom,i1")
		// A self-join under aliases: each instance is filtered.
		a, b := items.As("a"), items.As("b")
		expect(t, strs(t, u1, db.Select(expr.As(a.Col("id"), "x"), expr.As(b.Col("id"), "y")).From(a).
			InnerJoin(b, expr.Eq(a.Col("cat_id"), b.Col("cat_id")))), "i1,i1", "i2,i2")

		// Aggregates only see visible rows.
		if n := scalar(t, u1, db.Select(expr.CountAll()).From(items)); n != 2 {
			t.Fatalf("count %d", n)
		}
		if n := scalar(t, u1, db.Select(expr.Sum(items.Col("price"))).From(items)); n != 30 {
			t.Fatalf("sum %d", n)
		}
		expect(t, strs(t, u1, db.Select(items.Col("cat_id"), expr.As(expr.CountAll(), "n")).From(items).GroupBy(items.Col("cat_id"))), "c1,1", "c2,1")

		// Subqueries: IN, scalar, FROM, and a correlated one.
		expect(t, strs(t, u1, db.Select(tags.Col("id")).From(tags).Where(expr.InArray(tags.Col("item_id"), orm.Select(items.Col("id")).From(items)))), "t1")
		expect(t, strs(t, u1, db.Select(tags.Col("id"), expr.As(expr.Sub(orm.Select(expr.CountAll()).From(items)), "n")).From(tags)), "t1,2", "t2,2")
		if n := scalar(t, u1, db.Select(expr.CountAll()).FromSubquery(orm.Select(items.Col("id")).From(items), "s")); n != 2 {
			t.Fatalf("count over FROM subquery %d", n)
		}
		perCat := orm.Select(expr.CountAll()).From(items).Where(expr.Eq(items.Col("cat_id"), cats.Col("id")))
		expect(t, strs(t, system, db.Select(cats.Col("id"), expr.As(expr.Sub(perCat), "n")).From(cats)), "c1,2", "c2,2")
		expect(t, strs(t, u1, db.Select(cats.Col("id"), expr.As(expr.Sub(perCat), "n")).From(cats)), "c1,1")

		// Rules that consult a membership table: u3 is a member of L1 only.
		u3 := as("u3")
		expect(t, strs(t, u3, db.Select(todos.Col("title")).From(todos)), "eggs", "milk")
		expect(t, strs(t, u3, db.Select(lists.Col("name"), expr.As(expr.Sub(
			orm.Select(expr.CountAll()).From(todos).Where(expr.Eq(todos.Col("list_id"), lists.Col("id")))), "n")).From(lists)), "2,home")
		expect(t, strs(t, u3, db.Select(members.Col("user_id")).From(members)), "u1", "u3")
		mx := members.As("x")
		expect(t, strs(t, u3, db.Select(mx.Col("user_id")).From(mx).Where(expr.Ne(mx.Col("user_id"), "u3"))), "u1")
		expect(t, strs(t, as("u9"), db.Select(todos.Col("title")).From(todos)))

		// Tables without rules need no identity.
		expect(t, strs(t, context.Background(), db.Select(tags.Col("id")).From(tags)), "t1", "t2")

		// No identity: denied, in every position.
		for _, q := range []orm.RowSource{
			db.Select(items.Col("id")).From(items),
			db.Select(tags.Col("id")).From(tags).InnerJoin(items, expr.Eq(items.Col("id"), tags.Col("item_id"))),
			db.Select(tags.Col("id")).From(tags).Where(expr.InArray(tags.Col("item_id"), orm.Select(items.Col("id")).From(items))),
		} {
			_, err := orm.Maps(context.Background(), q)
			var ae *rowauth.AuthorizationError
			if !errors.As(err, &ae) || !errors.Is(err, rowauth.ErrNoIdentity) || ae.Table != "items" || ae.Op != orm.OpSelect {
				t.Fatalf("no identity: %v", err)
			}
		}
		// The system marker sees everything, and only where it is set.
		expect(t, strs(t, system, db.Select(items.Col("id")).From(items)), "i1", "i2", "i3", "i4")
		type key struct{}
		derived := context.WithValue(system, key{}, 1)
		if n := scalar(t, derived, db.Select(expr.CountAll()).From(items)); n != 4 {
			t.Fatal(n)
		}
		if rowauth.IsSystem(context.Background()) || rowauth.IsSystem(u1) {
			t.Fatal("unmarked context is system")
		}

		// A subquery plasma cannot see into is refused.
		_, err := orm.Maps(u1, db.Select(tags.Col("id")).From(tags).Where(expr.InArray(tags.Col("item_id"), opaque{})))
		if !errors.Is(err, rowauth.ErrUncheckable) {
			t.Fatalf("opaque subquery: %v", err)
		}
	})
}

// opaque is a subquery that is not a plasma statement, as a squirrel
// builder would be.
type opaque struct{}

func (opaque) ToSql() (string, []any, error) { return `SELECT "id" FROM "items"`, nil, nil }

// TestWriteAuth runs every write rule against one seeded database. It is
// one long function on purpose: each case reads the rows the earlier
// ones left, so the steps must run in this order.
func TestWriteAuth(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		db := open(t, tg)
		u1 := as("u1")
		head, err := changelog.Head(system, db, "")
		if err != nil {
			t.Fatal(err)
		}
		changes := func() []string {
			t.Helper()
			cs, cur, err := changelog.ChangesSince(system, db, "", head, 0)
			if err != nil {
				t.Fatal(err)
			}
			head = cur
			var out []string
			for _, c := range cs {
				out = append(out, string(c.Op)+" "+c.Table+"/"+c.RowID)
			}
			return out
		}
		changes()
		ids := func() []string { return strs(t, system, db.Select(items.Col("id")).From(items)) }
		outside := func(err error) {
			t.Helper()
			var ae *rowauth.AuthorizationError
			if !errors.As(err, &ae) || !errors.Is(err, rowauth.ErrOutsideRule) || ae.Table != "items" {
				t.Fatalf("want an authorization error, got %v", err)
			}
		}

		// Insert: own rows only.
		if _, err := db.Insert(items).Values(orm.Row{"id": "i5", "owner_id": "u1"}).Exec(u1); err != nil {
			t.Fatal(err)
		}
		_, err = db.Insert(items).Values(orm.Row{"id": "i6", "owner_id": "u2"}).Exec(u1)
		outside(err)
		_, err = db.Insert(items).Values(orm.Row{"id": "i7", "owner_id": "u1"}, orm.Row{"id": "i8", "owner_id": "u2"}).Exec(u1)
		outside(err)
		expect(t, ids(), "i1", "i2", "i3", "i4", "i5")
		expect(t, changes(), "put items/i5")

		// In db.Tx the error rolls back the whole transaction.
		err = db.Tx(u1, func(tx *orm.Tx) error {
			if _, err := tx.Insert(items).Values(orm.Row{"id": "i9", "owner_id": "u1"}).Exec(u1); err != nil {
				return err
			}
			_, err := tx.Insert(items).Values(orm.Row{"id": "i10", "owner_id": "u2"}).Exec(u1)
			return err
		})
		outside(err)
		expect(t, ids(), "i1", "i2", "i3", "i4", "i5")
		expect(t, changes())

		// A caller that ignores the error cannot commit the refused row.
		tx, err := db.Begin(u1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Insert(items).Values(orm.Row{"id": "i11", "owner_id": "u1"}).Exec(u1); err != nil {
			t.Fatal(err)
		}
		_, err = tx.Insert(items).Values(orm.Row{"id": "i12", "owner_id": "u2"}).Exec(u1)
		outside(err)
		_, err = tx.Update(items).Set(orm.Row{"owner_id": "u2"}).Where(expr.Eq(items.Col("id"), "i11")).Exec(u1)
		outside(err)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		expect(t, strs(t, system, db.Select(items.Col("id"), items.Col("owner_id")).From(items).Where(expr.InArray(items.Col("id"), []string{"i11", "i12"}))), "i11,u1")
		expect(t, changes(), "put items/i11")

		// Update: others' rows are left alone; your own may not leave you.
		n, err := db.Update(items).Set(orm.Row{"price": 99}).Where(expr.Eq(items.Col("id"), "i3")).Exec(u1)
		if err != nil || n != 0 {
			t.Fatal(n, err)
		}
		n, err = db.Update(items).Set(orm.Row{"price": 99}).AllRows().Exec(u1)
		if err != nil || n != 4 {
			t.Fatal(n, err)
		}
		expect(t, strs(t, system, db.Select(items.Col("id"), items.Col("price")).From(items)),
			"i1,99", "i11,99", "i2,99", "i3,30", "i4,40", "i5,99")
		changes()
		_, err = db.Update(items).Set(orm.Row{"owner_id": "u2", "price": 1}).Where(expr.Eq(items.Col("id"), "i1")).Exec(u1)
		outside(err)
		// Moving another's row into your reach is not possible either: it
		// is not yours before the update.
		n, err = db.Update(items).Set(orm.Row{"owner_id": "u1"}).Where(expr.Eq(items.Col("id"), "i4")).Exec(u1)
		if err != nil || n != 0 {
			t.Fatal(n, err)
		}
		// Assigning the rule's column to a value inside it is fine.
		res, err := db.Update(items).Set(orm.Row{"owner_id": "u1"}).Where(expr.Eq(items.Col("id"), "i1")).Returning().Rows(u1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := orm.Collect[struct {
			ID      string
			OwnerID string
			Price   int64
		}](res)
		if err != nil || len(got) != 1 || got[0].ID != "i1" || got[0].Price != 99 {
			t.Fatalf("%+v %v", got, err)
		}
		expect(t, strs(t, system, db.Select(items.Col("owner_id")).From(items).Where(expr.Eq(items.Col("id"), "i1"))), "u1")
		expect(t, changes(), "put items/i1")

		// Delete: only your own rows.
		n, err = db.Delete(items).Where(expr.InArray(items.Col("id"), []string{"i3", "i5"})).Exec(u1)
		if err != nil || n != 1 {
			t.Fatal(n, err)
		}
		expect(t, ids(), "i1", "i11", "i2", "i3", "i4")
		expect(t, changes(), "del items/i5")

		// Upsert: it may not update another's row, nor create one.
		_, err = db.Insert(items).Values(orm.Row{"id": "i3", "owner_id": "u1", "price": 0}).OnConflictDoUpdate([]string{"id"}, "price").Exec(u1)
		outside(err)
		n, err = db.Insert(items).Values(orm.Row{"id": "i3", "owner_id": "u1"}).OnConflictDoNothing("id").Exec(u1)
		if err != nil || n != 0 {
			t.Fatal(n, err)
		}
		if _, err := db.Insert(items).Values(orm.Row{"id": "i2", "owner_id": "u1", "price": 7}).OnConflictDoUpdate([]string{"id"}, "price").Exec(u1); err != nil {
			t.Fatal(err)
		}
		expect(t, strs(t, system, db.Select(items.Col("id"), items.Col("price")).From(items).Where(expr.InArray(items.Col("id"), []string{"i2", "i3"}))), "i2,7", "i3,30")
		expect(t, changes(), "put items/i2")

		// Rules through a membership table: u3 may write todos of L1 only,
		// and may not move one to L2.
		u3 := as("u3")
		if _, err := db.Insert(todos).Values(orm.Row{"id": "d4", "list_id": "L1", "title": "bread"}).Exec(u3); err != nil {
			t.Fatal(err)
		}
		_, err = db.Insert(todos).Values(orm.Row{"id": "d5", "list_id": "L2", "title": "x"}).Exec(u3)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatal(err)
		}
		_, err = db.Update(todos).Set(orm.Row{"list_id": "L2"}).Where(expr.Eq(todos.Col("id"), "d1")).Exec(u3)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatal(err)
		}
		if n, err := db.Delete(todos).Where(expr.Eq(todos.Col("id"), "d3")).Exec(u3); err != nil || n != 0 {
			t.Fatal(n, err)
		}
		// Only the owner of L1 (u1) may add members to it.
		_, err = db.Insert(members).Values(orm.Row{"id": "m4", "list_id": "L1", "user_id": "u9"}).Exec(u3)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatal(err)
		}
		if _, err := db.Insert(members).Values(orm.Row{"id": "m4", "list_id": "L1", "user_id": "u9"}).Exec(u1); err != nil {
			t.Fatal(err)
		}
		expect(t, changes(), "put todos/d4", "put members/m4")

		// The rule sees the defaults of columns an insert leaves out.
		if _, err := db.Insert(drafts).Values(orm.Row{"id": "r1", "owner_id": "u1"}).Exec(u1); err != nil {
			t.Fatal(err)
		}
		_, err = db.Insert(drafts).Values(orm.Row{"id": "r2", "owner_id": "u1", "published": true}).Exec(u1)
		if !errors.Is(err, rowauth.ErrOutsideRule) {
			t.Fatal(err)
		}
		// A table with only a write rule reads freely.
		expect(t, strs(t, context.Background(), db.Select(drafts.Col("id")).From(drafts)), "r1")
		expect(t, changes(), "put drafts/r1")

		// No identity: every write to a table with rules is denied.
		bg := context.Background()
		for _, err := range []error{
			func() error {
				_, err := db.Insert(items).Values(orm.Row{"id": "x", "owner_id": "u1"}).Exec(bg)
				return err
			}(),
			func() error { _, err := db.Update(items).Set(orm.Row{"price": 1}).AllRows().Exec(bg); return err }(),
			func() error { _, err := db.Delete(items).AllRows().Exec(bg); return err }(),
		} {
			if !errors.Is(err, rowauth.ErrNoIdentity) {
				t.Fatalf("no identity: %v", err)
			}
		}
		// Writes to tables without rules need none.
		if _, err := db.Insert(tags).Values(orm.Row{"id": "t3", "item_id": "i4"}).Exec(bg); err != nil {
			t.Fatal(err)
		}
		// The system marker writes anything.
		if _, err := db.Update(items).Set(orm.Row{"owner_id": "u2"}).Where(expr.Eq(items.Col("id"), "i1")).Exec(system); err != nil {
			t.Fatal(err)
		}
		expect(t, changes(), "put tags/t3", "put items/i1")
	})
}
