// Package todo is plasma's example application: shared lists of todos.
// Its schema is used by the demo server (plasma demo), the migrate command
// and the tests; its mutators run on the server and on the Go client.
package todo

import "github.com/plasma-go/plasma/orm"

// SchemaVersion is the version clients must match.
const SchemaVersion = "1"

// The tables. Rows reference each other by id; deleting a list deletes its
// members and todos.
var (
	Lists = orm.NewTable("lists",
		orm.ID(),
		orm.Text("name"),
		orm.Text("owner_id"),
	)
	Members = orm.NewTable("members",
		orm.ID(),
		orm.Text("list_id").References("lists", "id", orm.OnDeleteCascade),
		orm.Text("user_id"),
	).With(orm.TableOptions{Indexes: []orm.Index{{Name: "members_list_user", Columns: []string{"list_id", "user_id"}, Unique: true}}})
	Todos = orm.NewTable("todos",
		orm.ID(),
		orm.Text("list_id").References("lists", "id", orm.OnDeleteCascade),
		orm.Text("title"),
		orm.Boolean("done").Default(false),
		orm.Text("created_by"),
	).With(orm.TableOptions{Indexes: []orm.Index{{Name: "todos_list", Columns: []string{"list_id"}}}})
)

// Schema is the example application's schema.
var Schema = orm.MustDefineSchema(SchemaVersion, Lists, Members, Todos)
