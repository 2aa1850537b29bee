// Package testschema holds the schemas the repository's tests share:
// orm/migrate's, orm_test's, and schemagen's round trip, which pulls every
// one of them back out of a database. Test packages cannot import each
// other's declarations, so each schema is declared here once.
//
// Every function returns new tables on each call; callers may change or
// extend them without affecting another test.
package testschema

import (
	"encoding/json"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// AllKinds is orm/migrate's schema of every column kind and every
// modifier, with defaults in the spellings that engines like to rewrite:
// "every" (all kinds, defaults, UNIQUE, encryption, each ON DELETE action,
// a self-reference, a plain and a unique index), "parents" (a reference
// cycle with every), "auto" (External, auto-increment key), "comp"
// (ChangeLogSuppressed, composite key) and "pair" (External, composite
// key with a UNIQUE part).
func AllKinds() []*orm.Table {
	parents := orm.NewTable("parents", orm.ID(), orm.Text("code").Unique(),
		orm.Text("favorite").Nullable().References("every", "id", tabledef.SetNull)) // a cycle with every
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

// DDLHostileDefault is the text default of DDL's ddl_kinds.t_def: quotes,
// a backslash, a comment marker, a statement and a placeholder.
const DDLHostileDefault = `it's "quoted" \ back -- not a comment; DROP TABLE x; ?`

// DDL is orm_test's DDL schema: every column kind and every modifier, an
// External table with an auto-increment key, a ChangeLogSuppressed table
// with a composite key, a self-reference, a reference cycle, and tables
// declared before the tables they reference. The tables come in this
// order: ddl_children, ddl_kinds, ddl_parents, ddl_legacy, ddl_pairs,
// ddl_tree, ddl_cycle_a, ddl_cycle_b.
func DDL() []*orm.Table {
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
			orm.Text("t_def").Default(DDLHostileDefault),
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
		orm.NewTable("ddl_parents",
			orm.ID(),
			orm.Text("name").Unique(),
		),
		orm.NewTable("ddl_legacy",
			orm.AutoIncrement("n"),
			orm.Text("label"),
		).With(orm.TableOptions{External: true}),
		orm.NewTable("ddl_pairs",
			orm.Text("a").PrimaryKey(),
			orm.Int("b").PrimaryKey(),
			orm.Text("v").Nullable(),
		).With(orm.TableOptions{ChangeLogSuppressed: true}),
		orm.NewTable("ddl_tree",
			orm.ID(),
			orm.Text("parent_id").Nullable().References("ddl_tree", "id", tabledef.Cascade),
		),
		orm.NewTable("ddl_cycle_a",
			orm.ID(),
			orm.Text("b_id").Nullable().References("ddl_cycle_b", "id", tabledef.SetNull),
		),
		orm.NewTable("ddl_cycle_b",
			orm.ID(),
			orm.Text("a_id").Nullable().References("ddl_cycle_a", "id", tabledef.SetNull),
		),
	}
}

// Golden is orm_test's golden DDL schema (the files in orm_test/testdata),
// a representative one: every column kind, nullable columns and defaults
// of every kind, UNIQUE, foreign keys with each ON DELETE action (one pair
// of tables referencing each other, which PostgreSQL creates in two
// steps), plain, unique and multi-column indexes, encrypted, CRDT and file
// columns, an autoincrement key and a composite key. The tables are docs,
// owners, events and pairs; extra columns are appended to docs, so
// migration plans can start from a subset.
func Golden(extra ...orm.Column) []*orm.Table {
	owners := orm.NewTable("owners", orm.ID(), orm.Text("email").Unique(),
		orm.Text("best_doc").Nullable().References("docs", "id", tabledef.SetNull)) // closes a cycle with docs
	docs := orm.NewTable("docs", append([]orm.Column{
		orm.ID(),
		orm.Text("title"),
		orm.Text("subtitle").Nullable(),
		orm.Text("lang").Default("en"),
		orm.Int("rank").Default(-1),
		orm.BigInt("size").Nullable().Default(int64(1) << 40),
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
	}, extra...)...).With(orm.TableOptions{Indexes: []orm.Index{
		{Name: "docs_owner", Columns: []string{"owner_id"}},
		{Name: "docs_owner_rank", Columns: []string{"owner_id", "rank"}, Unique: true},
	}})
	events := orm.NewTable("events", orm.AutoIncrement("seq"), orm.Text("kind").Default("note"),
		orm.Text("doc_id").Nullable().References("docs", "id", tabledef.Cascade)).With(orm.TableOptions{External: true})
	pairs := orm.NewTable("pairs", orm.Text("a").PrimaryKey(), orm.Int("b").PrimaryKey(), orm.Text("note").Nullable()).
		With(orm.TableOptions{ChangeLogSuppressed: true})
	return []*orm.Table{docs, owners, events, pairs}
}

// HostileNames returns orm_test's hostile identifiers, used as table,
// column and index names: quotes, SQL injection, whitespace, keywords,
// unicode and right-to-left text, comment markers, placeholders and
// control characters. No two differ only in ASCII case (SQLite would see
// one name). Each call returns a new slice.
func HostileNames() []string {
	return []string{
		`dq"uote`,
		`"`,
		`sq'uote`,
		`'); DROP TABLE x; --`,
		`with space`,
		` lead and trail `,
		`select`,
		`ORDER`,
		`Group`,
		`Ünïcödé ß`,
		`emoji😀🎉`,
		`עברית`,          // Hebrew, right to left
		"\u202eRLO mark", // an explicit right-to-left override
		`مرحبا`,          // Arabic
		`back\slash\`,
		`semi;colon`,
		`dash--comment`,
		`/* c */`,
		`q?mark`,
		`??`,
		`$1`,
		`%s%d`,
		`a.b`,
		`*`,
		"tab\there",
		"new\nline",
	}
}

// HostileIdentifiers is orm_test's hostile identifier schema over names
// (HostileNames, or part of it): one table per name, each with an id, a
// column of the same name defaulting to it, an index "ix <name>" on that
// column and, after the first, a column "ref <previous name>" referencing
// the previous table (ON DELETE CASCADE); then, last, a wide table
// "wide <first name>" with a nullable column per name.
func HostileIdentifiers(names []string) []*orm.Table {
	var tables []*orm.Table
	for i, n := range names {
		cols := []orm.Column{orm.ID(), orm.Text(n).Default(n)}
		if i > 0 {
			cols = append(cols, orm.Text("ref "+names[i-1]).Nullable().
				References(names[i-1], "id", tabledef.Cascade))
		}
		tables = append(tables, orm.NewTable(n, cols...).With(orm.TableOptions{
			Indexes: []orm.Index{{Name: "ix " + n, Columns: []string{n}}},
		}))
	}
	wideCols := []orm.Column{orm.ID()}
	for _, n := range names {
		wideCols = append(wideCols, orm.Text(n).Nullable())
	}
	return append(tables, orm.NewTable("wide "+names[0], wideCols...))
}

// The names of orm/migrate's hostile-name migration (MigrateHostile):
// quotes, unicode, dots, spaces and a keyword.
const (
	HostileTable     = `we"ird ☃.t`
	HostileKids      = `kid's "table"`
	HostileColumn    = `c"ol 'x' é`
	HostileKeyword   = "select"
	HostileDotted    = "a.b"
	HostileIndex     = `ix "☃" on`
	HostileNewColumn = `new "col" ✓`
)

// MigrateHostile is orm/migrate's hostile-name schema (TestHostileNames):
// HostileTable with an id, HostileColumn (a text default with quotes),
// HostileKeyword (a nullable int), HostileDotted (nullable text) and the
// index HostileIndex on the first two, and HostileKids referencing it (ON
// DELETE CASCADE). migrated gives the schema after the test's migration,
// which makes HostileKeyword UNIQUE and adds HostileNewColumn with a
// default.
func MigrateHostile(migrated bool) []*orm.Table {
	kw := orm.Int(HostileKeyword).Nullable()
	cols := []orm.Column{orm.ID(), orm.Text(HostileColumn).Default(`it's "x"`), kw, orm.Text(HostileDotted).Nullable()}
	if migrated {
		cols[2] = kw.Unique()
		cols = append(cols, orm.Text(HostileNewColumn).Default(`d"q's`))
	}
	return []*orm.Table{
		orm.NewTable(HostileTable, cols...).
			With(orm.TableOptions{Indexes: []orm.Index{{Name: HostileIndex, Columns: []string{HostileColumn, HostileKeyword}}}}),
		orm.NewTable(HostileKids, orm.ID(), orm.Text(`parent "id"`).References(HostileTable, "id", tabledef.Cascade)),
	}
}

// MigrateRebuild is orm/migrate's rebuild schema
// (TestRebuildKeepsSequenceAndReferences): External tables with
// auto-increment keys, "counters" (its text column v defaulting to def)
// and "refs" referencing it (ON DELETE CASCADE). Changing def rebuilds
// counters on SQLite.
func MigrateRebuild(def string) []*orm.Table {
	return []*orm.Table{
		orm.NewTable("counters", orm.AutoIncrement("n"), orm.Text("v").Default(def)).With(orm.TableOptions{External: true}),
		orm.NewTable("refs", orm.AutoIncrement("id"), orm.BigInt("counter").References("counters", "n", tabledef.Cascade)).
			With(orm.TableOptions{External: true}),
	}
}

// Query is orm_test's query fixture (query_test.go), on which every query
// test runs: people (nullable, defaulted and boolean columns), orders
// referencing people (ON DELETE CASCADE) and teams with a UNIQUE name and
// two references to people (ON DELETE SET NULL).
func Query() (people, orders, teams *orm.Table) {
	people = orm.NewTable("people",
		orm.ID(),
		orm.Text("name"),
		orm.Int("age").Nullable(),
		orm.Text("team").Nullable(),
		orm.BigInt("score").Default(0),
		orm.Boolean("active").Default(true),
	)
	orders = orm.NewTable("orders",
		orm.ID(),
		orm.Text("person_id").References("people", "id", tabledef.Cascade),
		orm.Int("amount"),
		orm.Text("note").Nullable(),
	)
	teams = orm.NewTable("teams",
		orm.ID(),
		orm.Text("name").Unique(),
		orm.Text("lead_id").Nullable().References("people", "id", tabledef.SetNull),
		orm.Text("deputy_id").Nullable().References("people", "id", tabledef.SetNull),
	)
	return people, orders, teams
}

// Ensure is orm_test's EnsureSchema schema (ensure_test.go): ens_users
// with a UNIQUE email, ens_todos referencing it with an index on the
// reference, and ens_tags referencing ens_todos, both ON DELETE CASCADE.
func Ensure() (users, todos, tags *orm.Table) {
	users = orm.NewTable("ens_users", orm.ID(), orm.Text("email").Unique())
	todos = orm.NewTable("ens_todos",
		orm.ID(),
		orm.Text("owner_id").References("ens_users", "id", tabledef.Cascade),
		orm.Text("title"),
	).With(orm.TableOptions{Indexes: []orm.Index{{Name: "ens_todos_owner", Columns: []string{"owner_id"}}}})
	tags = orm.NewTable("ens_tags", orm.ID(), orm.Text("todo_id").References("ens_todos", "id", tabledef.Cascade))
	return users, todos, tags
}

// Secrets is orm_test's encrypted kinds table (encrypted_kind_test.go):
// an encrypted int and an encrypted nullable boolean.
func Secrets() *orm.Table {
	return orm.NewTable("secrets", orm.ID(), orm.Int("pin").Encrypted(), orm.Boolean("flag").Encrypted().Nullable())
}

// ScalarKinds is orm_test's bad-input table (badinput_test.go), "kinds":
// a nullable column of each scalar kind.
func ScalarKinds() *orm.Table {
	return orm.NewTable("kinds",
		orm.ID(),
		orm.Boolean("flag").Nullable(),
		orm.Int("n").Nullable(),
		orm.BigInt("big").Nullable(),
		orm.Text("txt").Nullable(),
		orm.Blob("data").Nullable(),
		orm.JSON("doc").Nullable(),
	)
}

// ModelNotes is the columns of orm_test's model_notes (model_test.go): an
// owner, a title, an encrypted column and a CRDT counter. The model test
// adds row auth with With.
func ModelNotes() *orm.Table {
	return orm.NewTable("model_notes",
		orm.ID(), orm.Text("owner_id"), orm.Text("title"), orm.Text("secret").Encrypted(), orm.CRDTCounter("likes"),
	)
}

// Smoke is orm_test's smoke schema (smoke_test.go) with prefix before its
// table names: users with defaulted columns, and todos referencing users
// (ON DELETE CASCADE) with a nullable JSON column.
func Smoke(prefix string) (users, todos *orm.Table) {
	users = orm.NewTable(prefix+"users", orm.ID(), orm.Text("name"), orm.Int("age").Default(0), orm.Boolean("active").Default(true))
	todos = orm.NewTable(prefix+"todos", orm.ID(), orm.Text("title"), orm.Text("owner_id").References(prefix+"users", "id", tabledef.Cascade),
		orm.JSON("meta").Nullable())
	return users, todos
}
