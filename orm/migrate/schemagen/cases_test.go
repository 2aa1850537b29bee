package schemagen_test

import (
	"slices"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// A rtCase is a database to pull: the tables of a schema, created by
// EnsureSchema and by migrate.Run (which records kinds), or DDL another
// tool wrote, per engine. The schemas are those the repository's tests
// use: orm/migrate's, orm_test's and the example app's; the shared ones
// are declared once, in internal/testschema.
type rtCase struct {
	name   string
	tables func() []*orm.Table
	ddl    map[string][]string // by dialect name
}

var rtCases = []rtCase{
	{name: "todo", tables: func() []*orm.Table { return todo.Schema.Tables() }},
	{name: "migrate_allkinds", tables: testschema.AllKinds},
	{name: "migrate_base", tables: migrateBase},
	{name: "migrate_hostile", tables: func() []*orm.Table { return testschema.MigrateHostile(true) }},
	{name: "migrate_rebuild", tables: func() []*orm.Table { return testschema.MigrateRebuild("d") }},
	{name: "migrate_existing", ddl: map[string][]string{
		"sqlite":   {`CREATE TABLE ext (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(50) NOT NULL, flag BOOLEAN DEFAULT FALSE, n INT DEFAULT (-1), body CLOB)`},
		"postgres": {`CREATE TABLE ext (id bigserial PRIMARY KEY, name varchar(50) NOT NULL, flag bool DEFAULT FALSE, n int4 DEFAULT (-1), body text)`},
	}},
	{name: "ormtest_ddl", tables: testschema.DDL},
	{name: "ormtest_golden", tables: func() []*orm.Table { return testschema.Golden() }},
	{name: "ormtest_identifiers", tables: ormtestIdentifiers},
	{name: "ormtest_misc", tables: ormtestMisc},
	{name: "gonames", tables: goNameCollisions},
	{name: "foreign", ddl: foreignDDL},
}

// migrateBase is orm/migrate's base schema with the tables its step
// tests add.
func migrateBase() []*orm.Table {
	return []*orm.Table{
		orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Text("email").Nullable().Unique(), orm.Text("bio").Nullable()),
		orm.NewTable("notes", orm.ID(), orm.Text("body"), orm.Int("n").Default(0),
			orm.Text("user_id").References("users", "id", tabledef.Cascade)).
			With(orm.TableOptions{Indexes: []orm.Index{{Name: "notes_by_user", Columns: []string{"user_id", "n"}}}}),
		orm.NewTable("tags", orm.ID(), orm.Text("label").Default("x"), orm.Text("note_id").References("notes", "id", tabledef.Cascade)),
		orm.NewTable("a", orm.ID(), orm.Text("b_id").Nullable().References("b", "id", tabledef.SetNull)),
		orm.NewTable("b", orm.ID(), orm.Text("a_id").Nullable().References("a", "id", tabledef.Cascade)),
	}
}

// identHostileNames are orm_test's hostile identifiers
// (testschema.HostileNames) but the first.
var identHostileNames = slices.Clip(testschema.HostileNames()[1:])

// ormtestIdentifiers is orm_test's hostile identifier schema over
// identHostileNames: a table per name with a column of that name, an
// index and a reference to the previous table, and a wide table with
// every name as a column.
func ormtestIdentifiers() []*orm.Table { return testschema.HostileIdentifiers(identHostileNames) }

// ormtestMisc is the rest of orm_test's schemas, whose names do not
// clash: the query fixture, EnsureSchema's, the encrypted kinds', the
// bad-input kinds', the model test's (without its row auth) and the smoke
// test's (its names prefixed).
func ormtestMisc() []*orm.Table {
	people, orders, teams := testschema.Query()
	ensUsers, ensTodos, ensTags := testschema.Ensure()
	smokeUsers, smokeTodos := testschema.Smoke("smoke_")
	return []*orm.Table{
		people, orders, teams,
		ensUsers, ensTodos, ensTags,
		testschema.Secrets(),
		testschema.ScalarKinds(),
		testschema.ModelNotes(),
		smokeUsers, smokeTodos,
	}
}

// goNameCollisions are table names that are no Go identifiers, or that
// become the same Go name, or the generated Schema variable's.
func goNameCollisions() []*orm.Table {
	var tables []*orm.Table
	for _, n := range []string{"order items", "order_items", "order-items", "OrderItems", "schema", "123 go", "☃", "T", "日本", "é", "type", "_", "func"} {
		tables = append(tables, orm.NewTable(n, orm.ID(), orm.Text("v").Nullable()))
	}
	return tables
}

// foreignDDL is a database another tool created, in each engine's own
// spellings, using only what a plasma schema can declare.
var foreignDDL = map[string][]string{
	"sqlite": {
		`CREATE TABLE "Customers" (id INTEGER PRIMARY KEY AUTOINCREMENT, email VARCHAR(200) NOT NULL UNIQUE, name NVARCHAR(50), active BOOL NOT NULL DEFAULT 1, balance BIGINT DEFAULT '0', avatar BLOB DEFAULT x'00ff')`,
		`CREATE TABLE orders (id TEXT NOT NULL PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES "Customers" (id) ON DELETE CASCADE, note TEXT DEFAULT 'it''s', qty INT NOT NULL DEFAULT +3)`,
		`CREATE TABLE order_lines (order_id TEXT NOT NULL REFERENCES orders ON DELETE RESTRICT, line INTEGER NOT NULL, sku TEXT NOT NULL, PRIMARY KEY (order_id, line))`,
		`CREATE INDEX "lines by sku" ON order_lines (sku, line)`,
		`CREATE UNIQUE INDEX customers_name ON "Customers" (name)`,
	},
	"postgres": {
		`CREATE TABLE "Customers" (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, name character varying(50), active boolean NOT NULL DEFAULT true, balance int8 DEFAULT '0'::bigint, avatar bytea DEFAULT '\x00ff'::bytea, prefs jsonb DEFAULT '{"b": 1, "a": [true]}')`,
		`CREATE TABLE orders (id text PRIMARY KEY, customer_id int8 NOT NULL REFERENCES "Customers" ON DELETE CASCADE, note text DEFAULT E'it''s\ttab', qty int4 NOT NULL DEFAULT 3)`,
		`CREATE TABLE order_lines (order_id text NOT NULL REFERENCES orders ON DELETE RESTRICT, line integer NOT NULL, sku text NOT NULL, PRIMARY KEY (order_id, line))`,
		`CREATE INDEX "lines by sku" ON order_lines (sku, line)`,
		`CREATE UNIQUE INDEX customers_name ON "Customers" (name)`,
	},
}
