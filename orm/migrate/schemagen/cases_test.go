package schemagen_test

import (
	"encoding/json"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// A rtCase is a database to pull: the tables of a schema, created by
// EnsureSchema and by migrate.Run (which records kinds), or DDL another
// tool wrote, per engine. The schemas are those the repository's tests
// use: orm/migrate's, orm_test's and the example app's. (Test packages
// cannot import each other's declarations, so they are repeated here.)
type rtCase struct {
	name   string
	tables func() []*orm.Table
	ddl    map[string][]string // by dialect name
}

var rtCases = []rtCase{
	{name: "todo", tables: func() []*orm.Table { return todo.Schema.Tables() }},
	{name: "migrate_allkinds", tables: migrateAllKinds},
	{name: "migrate_base", tables: migrateBase},
	{name: "migrate_hostile", tables: migrateHostile},
	{name: "migrate_rebuild", tables: migrateRebuild},
	{name: "migrate_existing", ddl: map[string][]string{
		"sqlite":   {`CREATE TABLE ext (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(50) NOT NULL, flag BOOLEAN DEFAULT FALSE, n INT DEFAULT (-1), body CLOB)`},
		"postgres": {`CREATE TABLE ext (id bigserial PRIMARY KEY, name varchar(50) NOT NULL, flag bool DEFAULT FALSE, n int4 DEFAULT (-1), body text)`},
	}},
	{name: "ormtest_ddl", tables: ormtestDDL},
	{name: "ormtest_golden", tables: ormtestGolden},
	{name: "ormtest_identifiers", tables: ormtestIdentifiers},
	{name: "ormtest_misc", tables: ormtestMisc},
	{name: "gonames", tables: goNameCollisions},
	{name: "foreign", ddl: foreignDDL},
}

// migrateAllKinds is orm/migrate's allKinds: every kind and modifier.
func migrateAllKinds() []*orm.Table {
	parents := orm.NewTable("parents", orm.ID(), orm.Text("code").Unique(),
		orm.Text("favorite").Nullable().References("every", "id", tabledef.SetNull))
	every := orm.NewTable("every",
		orm.ID(),
		orm.Text("t"),
		orm.Text("t_def").Default(`it's "quoted" \ ☃ ::text (x)`),
		orm.Text("t_null").Nullable(),
		orm.Text("t_nulldef").Nullable().Default(nil),
		orm.Text("t_empty").Default(""),
		orm.Int("i").Default(-7),
		orm.Int("i0").Default(0),
		orm.BigInt("b").Default(int64(9000000000)),
		orm.BigInt("bneg").Default(-5),
		orm.Boolean("yes").Default(true),
		orm.Boolean("no").Default(false),
		orm.Boolean("maybe").Nullable(),
		orm.Blob("bl").Default([]byte{0, 0xff, 'x'}),
		orm.Blob("bl_null").Nullable(),
		orm.JSON("j").Default(map[string]any{"b": 1, "a": []any{1, 2.5, "x", nil}, "c": map[string]any{"z": true}}),
		orm.JSON("j_raw").Default(json.RawMessage(`{"b": 1.50, "a": "it's"}`)),
		orm.JSON("j_null").Nullable(),
		orm.File("f").Nullable(),
		orm.CRDTCounter("cnt").Default(json.RawMessage(`{"c":{"a":"1"}}`)),
		orm.CRDTPNCounter("pn").Nullable(),
		orm.CRDTLWWRegister("lww").Nullable(),
		orm.CRDTORSet("set").Nullable(),
		orm.Text("secret").Encrypted().Nullable(),
		orm.BigInt("secret_n").Encrypted(),
		orm.Text("uniq").Unique(),
		orm.Int("uniq_n").Nullable().Unique(),
		orm.Text("parent_id").References("parents", "id", tabledef.Cascade),
		orm.Text("p_setnull").Nullable().References("parents", "id", tabledef.SetNull),
		orm.Text("p_code").References("parents", "code", tabledef.Restrict),
		orm.Text("p_noaction").Nullable().References("parents", "id", tabledef.NoAction),
		orm.Text("self").Nullable().References("every", "id", tabledef.NoAction),
	).With(orm.TableOptions{Indexes: []orm.Index{
		{Name: "every_t", Columns: []string{"t"}},
		{Name: "every_t_i", Columns: []string{"t", "i"}, Unique: true},
	}})
	auto := orm.NewTable("auto", orm.AutoIncrement("n"), orm.Text("v").Default("v")).With(orm.TableOptions{External: true})
	comp := orm.NewTable("comp", orm.Text("a").PrimaryKey(), orm.Int("b").PrimaryKey(), orm.Text("c").Nullable().Unique(),
		orm.BigInt("auto_ref").Nullable().References("auto", "n", tabledef.SetNull)).
		With(orm.TableOptions{ChangeLogSuppressed: true})
	pair := orm.NewTable("pair", orm.Text("k").PrimaryKey(), orm.Text("v").Unique().PrimaryKey()).
		With(orm.TableOptions{External: true})
	return []*orm.Table{every, parents, auto, comp, pair}
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

// migrateHostile is TestHostileNames's schema after its migration.
func migrateHostile() []*orm.Table {
	const (
		tbl   = `we"ird ☃.t`
		kids  = `kid's "table"`
		col   = `c"ol 'x' é`
		kw    = "select"
		dot   = "a.b"
		index = `ix "☃" on`
	)
	return []*orm.Table{
		orm.NewTable(tbl, orm.ID(), orm.Text(col).Default(`it's "x"`), orm.Int(kw).Nullable().Unique(), orm.Text(dot).Nullable(),
			orm.Text(`new "col" ✓`).Default(`d"q's`)).
			With(orm.TableOptions{Indexes: []orm.Index{{Name: index, Columns: []string{col, kw}}}}),
		orm.NewTable(kids, orm.ID(), orm.Text(`parent "id"`).References(tbl, "id", tabledef.Cascade)),
	}
}

// migrateRebuild is TestRebuildKeepsSequenceAndReferences's schema.
func migrateRebuild() []*orm.Table {
	return []*orm.Table{
		orm.NewTable("counters", orm.AutoIncrement("n"), orm.Text("v").Default("d")).With(orm.TableOptions{External: true}),
		orm.NewTable("refs", orm.AutoIncrement("id"), orm.BigInt("counter").References("counters", "n", tabledef.Cascade)).
			With(orm.TableOptions{External: true}),
	}
}

// ormtestDDL is orm_test's DDL schema (ddl_test.go).
func ormtestDDL() []*orm.Table {
	const hostileDefault = `it's "quoted" \ back -- not a comment; DROP TABLE x; ?`
	return []*orm.Table{
		orm.NewTable("ddl_children",
			orm.ID(),
			orm.Text("p_cascade").Nullable().References("ddl_parents", "id", tabledef.Cascade),
			orm.Text("p_restrict").Nullable().References("ddl_parents", "name", tabledef.Restrict),
			orm.Text("p_setnull").Nullable().References("ddl_parents", "id", tabledef.SetNull),
			orm.Text("p_noaction").Nullable().References("ddl_parents", "id", tabledef.NoAction),
			orm.Int("legacy_n").Nullable().References("ddl_legacy", "n", tabledef.Cascade),
		),
		orm.NewTable("ddl_kinds",
			orm.ID(),
			orm.Text("t"),
			orm.Text("t_null").Nullable(),
			orm.Text("t_def").Default(hostileDefault),
			orm.Text("t_nulldef").Nullable().Default(nil),
			orm.Text("email").Unique(),
			orm.Int("i").Default(-7),
			orm.BigInt("bi").Default(int64(1)<<40),
			orm.Boolean("b_true").Default(true),
			orm.Boolean("b_false").Default(false),
			orm.Blob("bl").Nullable().Default([]byte{0, 1, 0xfe, '\'', '\\'}),
			orm.JSON("j").Default(map[string]any{"a": []int{1, 2}, "q": "it's"}),
			orm.JSON("j_str").Default("it's"),
			orm.JSON("j_bytes").Default([]byte(`[true,null]`)),
			orm.File("f").Nullable(),
			orm.File("f_def").Default(`{"hash":"abc","size":3}`),
			orm.CRDTCounter("c").Default(`{"c":{}}`),
			orm.CRDTPNCounter("pn").Nullable(),
			orm.CRDTLWWRegister("lww").Nullable(),
			orm.CRDTORSet("ors").Default(json.RawMessage(`{ "vv": {}, "e": [] }`)),
			orm.Text("secret").Encrypted().Nullable(),
			orm.Int("secret_n").Encrypted().Nullable(),
			orm.JSON("secret_j").Encrypted().Nullable(),
		).With(orm.TableOptions{Indexes: []orm.Index{
			{Name: "ddl_kinds_by_i", Columns: []string{"i", "bi"}},
			{Name: "ddl_kinds_t_unique", Columns: []string{"t", "i"}, Unique: true},
		}}),
		orm.NewTable("ddl_parents", orm.ID(), orm.Text("name").Unique()),
		orm.NewTable("ddl_legacy", orm.AutoIncrement("n"), orm.Text("label")).With(orm.TableOptions{External: true}),
		orm.NewTable("ddl_pairs", orm.Text("a").PrimaryKey(), orm.Int("b").PrimaryKey(), orm.Text("v").Nullable()).
			With(orm.TableOptions{ChangeLogSuppressed: true}),
		orm.NewTable("ddl_tree", orm.ID(), orm.Text("parent_id").Nullable().References("ddl_tree", "id", tabledef.Cascade)),
		orm.NewTable("ddl_cycle_a", orm.ID(), orm.Text("b_id").Nullable().References("ddl_cycle_b", "id", tabledef.SetNull)),
		orm.NewTable("ddl_cycle_b", orm.ID(), orm.Text("a_id").Nullable().References("ddl_cycle_a", "id", tabledef.SetNull)),
	}
}

// ormtestGolden is orm_test's golden DDL schema (ddl_golden_test.go).
func ormtestGolden() []*orm.Table {
	owners := orm.NewTable("owners", orm.ID(), orm.Text("email").Unique(),
		orm.Text("best_doc").Nullable().References("docs", "id", tabledef.SetNull))
	docs := orm.NewTable("docs",
		orm.ID(),
		orm.Text("title"),
		orm.Text("subtitle").Nullable(),
		orm.Text("lang").Default("en"),
		orm.Int("rank").Default(-1),
		orm.BigInt("size").Nullable().Default(int64(1)<<40),
		orm.Boolean("published").Default(false),
		orm.Blob("thumb").Nullable(),
		orm.Blob("salt").Default([]byte{0, 0xff}),
		orm.JSON("meta").Default(map[string]any{"tags": []any{"a"}, "v": 1}),
		orm.JSON("extra").Nullable(),
		orm.File("attachment").Nullable(),
		orm.CRDTCounter("views"),
		orm.CRDTPNCounter("score").Nullable(),
		orm.CRDTLWWRegister("status").Nullable(),
		orm.CRDTORSet("labels").Nullable(),
		orm.Text("secret").Encrypted().Nullable(),
		orm.Int("secret_n").Encrypted(),
		orm.Text("slug").Unique(),
		orm.Text("owner_id").References("owners", "id", tabledef.Cascade),
		orm.Text("editor_id").Nullable().References("owners", "id", tabledef.SetNull),
		orm.Text("owner_email").References("owners", "email", tabledef.Restrict),
		orm.Text("parent_id").Nullable().References("docs", "id", tabledef.NoAction),
	).With(orm.TableOptions{Indexes: []orm.Index{
		{Name: "docs_owner", Columns: []string{"owner_id"}},
		{Name: "docs_owner_rank", Columns: []string{"owner_id", "rank"}, Unique: true},
	}})
	events := orm.NewTable("events", orm.AutoIncrement("seq"), orm.Text("kind").Default("note"),
		orm.Text("doc_id").Nullable().References("docs", "id", tabledef.Cascade)).With(orm.TableOptions{External: true})
	pairs := orm.NewTable("pairs", orm.Text("a").PrimaryKey(), orm.Int("b").PrimaryKey(), orm.Text("note").Nullable()).
		With(orm.TableOptions{ChangeLogSuppressed: true})
	return []*orm.Table{docs, owners, events, pairs}
}

// identHostileNames are orm_test's hostile identifiers
// (identifiers_test.go).
var identHostileNames = []string{
	`"`, `sq'uote`, `'); DROP TABLE x; --`, `with space`, ` lead and trail `, `select`, `ORDER`, `Group`,
	`Ünïcödé ß`, `emoji😀🎉`, `עברית`, "\u202eRLO mark", `مرحبا`, `back\slash\`, `semi;colon`, `dash--comment`,
	`/* c */`, `q?mark`, `??`, `$1`, `%s%d`, `a.b`, `*`, "tab\there", "new\nline",
}

// ormtestIdentifiers is orm_test's hostile identifier schema: a table per
// name with a column of that name, an index and a reference to the
// previous table, and a wide table with every name as a column.
func ormtestIdentifiers() []*orm.Table {
	var tables []*orm.Table
	for i, n := range identHostileNames {
		cols := []orm.Column{orm.ID(), orm.Text(n).Default(n)}
		if i > 0 {
			cols = append(cols, orm.Text("ref "+identHostileNames[i-1]).Nullable().
				References(identHostileNames[i-1], "id", tabledef.Cascade))
		}
		tables = append(tables, orm.NewTable(n, cols...).With(orm.TableOptions{
			Indexes: []orm.Index{{Name: "ix " + n, Columns: []string{n}}},
		}))
	}
	wide := []orm.Column{orm.ID()}
	for _, n := range identHostileNames {
		wide = append(wide, orm.Text(n).Nullable())
	}
	return append(tables, orm.NewTable("wide "+identHostileNames[0], wide...))
}

// ormtestMisc is the rest of orm_test's schemas, whose names do not
// clash: the query fixture, EnsureSchema's, the encrypted kinds', the
// bad-input kinds' and the model test's.
func ormtestMisc() []*orm.Table {
	return []*orm.Table{
		orm.NewTable("people", orm.ID(), orm.Text("name"), orm.Int("age").Nullable(), orm.Text("team").Nullable(),
			orm.BigInt("score").Default(0), orm.Boolean("active").Default(true)),
		orm.NewTable("orders", orm.ID(), orm.Text("person_id").References("people", "id", tabledef.Cascade),
			orm.Int("amount"), orm.Text("note").Nullable()),
		orm.NewTable("teams", orm.ID(), orm.Text("name").Unique(),
			orm.Text("lead_id").Nullable().References("people", "id", tabledef.SetNull),
			orm.Text("deputy_id").Nullable().References("people", "id", tabledef.SetNull)),
		orm.NewTable("ens_users", orm.ID(), orm.Text("email").Unique()),
		orm.NewTable("ens_todos", orm.ID(), orm.Text("owner_id").References("ens_users", "id", tabledef.Cascade), orm.Text("title")).
			With(orm.TableOptions{Indexes: []orm.Index{{Name: "ens_todos_owner", Columns: []string{"owner_id"}}}}),
		orm.NewTable("ens_tags", orm.ID(), orm.Text("todo_id").References("ens_todos", "id", tabledef.Cascade)),
		orm.NewTable("secrets", orm.ID(), orm.Int("pin").Encrypted(), orm.Boolean("flag").Encrypted().Nullable()),
		orm.NewTable("kinds", orm.ID(), orm.Boolean("flag").Nullable(), orm.Int("n").Nullable(), orm.BigInt("big").Nullable(),
			orm.Text("txt").Nullable(), orm.Blob("data").Nullable(), orm.JSON("doc").Nullable()),
		orm.NewTable("model_notes", orm.ID(), orm.Text("owner_id"), orm.Text("title"), orm.Text("secret").Encrypted(), orm.CRDTCounter("likes")),
		orm.NewTable("smoke_users", orm.ID(), orm.Text("name"), orm.Int("age").Default(0), orm.Boolean("active").Default(true)),
		orm.NewTable("smoke_todos", orm.ID(), orm.Text("title"), orm.Text("owner_id").References("smoke_users", "id", tabledef.Cascade),
			orm.JSON("meta").Nullable()),
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
