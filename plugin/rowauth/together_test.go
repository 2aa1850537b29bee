package rowauth_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// TestInsertsJudgedAlone: a write rule that reads no rows of its own
// table, directly or through the read rules of the tables it reads,
// judges a multi-row INSERT's rows as it would judge them one at a time;
// one that does, or that reads through raw SQL, does not.
func TestInsertsJudgedAlone(t *testing.T) {
	rule := func(f func(id rowauth.Identity) expr.Expr) orm.AuthFunc {
		return rowauth.AuthorizePolicy(func(_ context.Context, id rowauth.Identity) (expr.Expr, error) { return f(id), nil }).Rule()
	}
	groups := orm.NewTable("groups", orm.ID(), orm.Text("owner_id"))
	members := orm.NewTable("members", orm.ID(), orm.Text("group_id"), orm.Text("user_id"))
	mine := func(id rowauth.Identity) *orm.SelectQuery {
		m := members.As("m")
		return orm.Select(m.Col("group_id")).From(m).Where(expr.Eq(m.Col("user_id"), id.UserID))
	}
	// Groups are read through membership; members are written by the
	// group's owner: the members' check reads groups, whose read rule
	// reads members.
	groups.With(orm.TableOptions{Auth: orm.TableAuth{Read: rule(func(id rowauth.Identity) expr.Expr {
		return expr.InArray(groups.Col("id"), mine(id))
	})}})
	members.With(orm.TableOptions{Auth: orm.TableAuth{Write: rule(func(id rowauth.Identity) expr.Expr {
		g := groups.As("g")
		return expr.InArray(members.Col("group_id"), orm.Select(g.Col("id")).From(g).Where(expr.Eq(g.Col("owner_id"), id.UserID)))
	})}})
	posts := orm.NewTable("posts", orm.ID(), orm.Text("group_id"))
	posts.With(orm.TableOptions{Auth: orm.TableAuth{
		Write: rule(func(id rowauth.Identity) expr.Expr { return expr.InArray(posts.Col("group_id"), mine(id)) }),
	}})
	// A chain's link may only follow a link of the user's: the check
	// reads the table it checks.
	chain := orm.NewTable("chain", orm.ID(), orm.Text("prev_id"), orm.Text("owner_id"))
	chain.With(orm.TableOptions{Auth: orm.TableAuth{
		Write: rule(func(id rowauth.Identity) expr.Expr {
			c := chain.As("c")
			return expr.InArray(chain.Col("prev_id"), orm.Select(c.Col("id")).From(c).Where(expr.Eq(c.Col("owner_id"), id.UserID)))
		}),
	}})
	opaque := orm.NewTable("opaque", orm.ID()).With(orm.TableOptions{Auth: orm.TableAuth{
		Write: rule(func(id rowauth.Identity) expr.Expr { return expr.SQL("EXISTS (SELECT 1 FROM other)") }),
	}})
	free := orm.NewTable("free", orm.ID())
	owned := orm.NewTable("owned", orm.ID(), orm.Text("owner_id"))
	owned.With(orm.TableOptions{Auth: orm.TableAuth{Write: rowauth.Owner(owned.Col("owner_id")).Rule()}})

	ctx := rowauth.WithIdentity(context.Background(), rowauth.Identity{UserID: "u1"})
	for _, c := range []struct {
		t    *orm.Table
		want bool
	}{
		{free, true}, {owned, true}, {posts, true},
		{members, false}, {chain, false}, {opaque, false},
	} {
		if got := rowauth.InsertsJudgedAlone(ctx, c.t); got != c.want {
			t.Errorf("%s: %v, want %v", c.t.Name(), got, c.want)
		}
	}
	if rowauth.InsertsJudgedAlone(context.Background(), owned) {
		t.Error("without an identity the rule cannot be read: want false")
	}
}
