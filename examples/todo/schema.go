// Package todo is plasma's example application: shared lists of todos.
// Its schema is used by the demo server (plasma demo), the migrate command
// and the tests; its mutators (mutators.go) run on the server and on the
// Go client; NewServer (server.go) wires them into a sync handler.
//
// # Tables and rules
//
//   - lists (id, name, owner_id): read if you are a member of the list,
//     write if you own it.
//   - members (id, list_id → lists, user_id): read if you are a member of
//     that list, write if you own the list.
//   - todos (id, list_id → lists, title, done, created_by): read and write
//     if you are a member of the list.
//   - attachments (id, todo_id → todos, file): a file column holding a
//     files.Ref; read and write if you are a member of the todo's list
//     (attachments.go, with the attachFile mutator and NewFiles).
//
// Deleting a list deletes its members and todos. The rules are row auth
// rules (plugin/rowauth) evaluated for the identity a request acts for, so
// permissions follow the data: when a member row is deleted, the list and
// its todos leave that user's next pull as deletes.
package todo

import (
	"context"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/tabledef"
)

// SchemaVersion is the version clients must match.
const SchemaVersion = "1"

// The tables. Rows reference each other by id; deleting a list deletes its
// members and todos. Their row auth rules are set in this package's init
// (they consult each other's tables, which Go's initialisation order does
// not allow in the declarations), before Schema is defined.
var (
	Lists = orm.NewTable("lists",
		orm.ID(),
		orm.Text("name"),
		orm.Text("owner_id"),
	)
	Members = orm.NewTable("members",
		orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade),
		orm.Text("user_id"),
	)
	Todos = orm.NewTable("todos",
		orm.ID(),
		orm.Text("list_id").References("lists", "id", tabledef.Cascade),
		orm.Text("title"),
		orm.Boolean("done").Default(false),
		orm.Text("created_by"),
	)
)

// Schema is the example application's schema, version SchemaVersion, with
// the tables' rules in place. It is set when the package initialises.
var Schema *orm.Schema

func init() {
	Lists.With(orm.TableOptions{Auth: orm.TableAuth{
		Read:  memberOf(Lists.Col("id")).Rule(),
		Write: rowauth.Owner(Lists.Col("owner_id")).Rule(),
	}})
	Members.With(orm.TableOptions{
		Auth: orm.TableAuth{
			Read:  memberOf(Members.Col("list_id")).Rule(),
			Write: ownerOf(Members.Col("list_id")).Rule(),
		},
		Indexes: []orm.Index{
			{Name: "members_list_user", Columns: []string{"list_id", "user_id"}, Unique: true},
			// the read rules look memberships up by user
			{Name: "members_user_list", Columns: []string{"user_id", "list_id"}},
		},
	})
	Todos.With(orm.TableOptions{
		Auth: orm.TableAuth{
			Read:  memberOf(Todos.Col("list_id")).Rule(),
			Write: memberOf(Todos.Col("list_id")).Rule(),
		},
		Indexes: []orm.Index{{Name: "todos_list", Columns: []string{"list_id"}}},
		// Pulls on PostgreSQL read only the todo changes of the
		// puller's lists.
		SyncScope: "list_id",
	})
	Attachments.With(attachmentOptions())
	Schema = orm.MustDefineSchema(SchemaVersion, Lists, Members, Todos, Attachments)
}

// memberOf is the policy "listID is a list the identity is a member of":
// listID IN (SELECT m.list_id FROM members m WHERE m.user_id = the user).
// The membership table is aliased so that the members table's own rule
// can consult it.
func memberOf(listID *expr.Column) rowauth.AuthorizePolicy {
	return func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		return expr.InArray(listID, MyListIDs(id.UserID)), nil
	}
}

// ownerOf is the policy "listID is a list the identity owns":
// listID IN (SELECT l.id FROM lists l WHERE l.owner_id = the user).
func ownerOf(listID *expr.Column) rowauth.AuthorizePolicy {
	return func(_ context.Context, id rowauth.Identity) (expr.Expr, error) {
		l := Lists.As("l")
		owned := orm.Select(l.Col("id")).From(l).Where(expr.Eq(l.Col("owner_id"), id.UserID))
		return expr.InArray(listID, owned), nil
	}
}

// MyListIDs is the subquery of the ids of the lists userID is a member
// of, as the read rules use it.
func MyListIDs(userID string) *orm.SelectQuery {
	m := Members.As("m")
	return orm.Select(m.Col("list_id")).From(m).Where(expr.Eq(m.Col("user_id"), userID))
}
