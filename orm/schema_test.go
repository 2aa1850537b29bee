package orm_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// schemaErrors returns the *SchemaErrors a DefineSchema error joins.
func schemaErrors(t *testing.T, err error) []*orm.SchemaError {
	t.Helper()
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []*orm.SchemaError
	for _, e := range list {
		var se *orm.SchemaError
		if !errors.As(e, &se) {
			t.Fatalf("%v is not a *SchemaError", e)
		}
		out = append(out, se)
	}
	return out
}

func TestDefineSchemaErrors(t *testing.T) {
	long := strings.Repeat("x", 64)
	parent := func() *orm.Table {
		return orm.NewTable("parent", orm.ID(), orm.Text("name").Unique(), orm.Text("plain"))
	}
	one := func(cols ...orm.Column) []*orm.Table { return []*orm.Table{orm.NewTable("t", cols...)} }
	ext := func(cols ...orm.Column) []*orm.Table {
		return []*orm.Table{orm.NewTable("t", cols...).With(orm.TableOptions{External: true})}
	}
	def := func(c orm.Column) []*orm.Table { return one(orm.ID(), c) }
	cases := []struct {
		name    string
		version string
		tables  func() []*orm.Table
		want    error
		table   string
		column  string
	}{
		// Primary keys.
		{name: "synced table without id", tables: func() []*orm.Table { return one(orm.Text("name")) },
			want: orm.ErrSyncedTableID, table: "t"},
		{name: "synced table with an extra key column", tables: func() []*orm.Table { return one(orm.ID(), orm.Text("k").PrimaryKey()) },
			want: orm.ErrSyncedTableID, table: "t"},
		{name: "synced table keyed by auto-increment", tables: func() []*orm.Table { return one(orm.AutoIncrement("n")) },
			want: orm.ErrSyncedTableID, table: "t"},
		{name: "synced table keyed by a text column", tables: func() []*orm.Table { return one(orm.Text("k").PrimaryKey()) },
			want: orm.ErrSyncedTableID, table: "t"},
		{name: "id column not named id", tables: func() []*orm.Table { return one(orm.IDNamed("uid")) },
			want: orm.ErrIDName, table: "t", column: "uid"},
		{name: "unsynced table without a key", tables: func() []*orm.Table { return ext(orm.Text("a")) },
			want: orm.ErrNoPrimaryKey, table: "t"},
		{name: "auto-increment in a composite key", tables: func() []*orm.Table { return ext(orm.AutoIncrement("n"), orm.Text("k").PrimaryKey()) },
			want: orm.ErrInvalidColumnSpec, table: "t", column: "n"},
		{name: "nullable key column", tables: func() []*orm.Table { return ext(orm.Text("k").PrimaryKey().Nullable()) },
			want: orm.ErrInvalidColumnSpec, table: "t", column: "k"},
		{name: "encrypted key", tables: func() []*orm.Table { return ext(orm.Text("k").PrimaryKey().Encrypted()) },
			want: orm.ErrInvalidColumnSpec, table: "t", column: "k"},

		// Duplicates.
		{name: "duplicate table", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID()), orm.NewTable("t", orm.ID())}
		}, want: orm.ErrDuplicateTable, table: "t"},
		{name: "duplicate table differing in case", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("Users", orm.ID()), orm.NewTable("users", orm.ID())}
		}, want: orm.ErrDuplicateTable, table: "users"},
		{name: "duplicate column", tables: func() []*orm.Table { return one(orm.ID(), orm.Text("a"), orm.Int("a")) },
			want: orm.ErrDuplicateColumn, table: "t", column: "a"},
		{name: "duplicate column differing in case", tables: func() []*orm.Table { return one(orm.ID(), orm.Text("Name"), orm.Text("NAME")) },
			want: orm.ErrDuplicateColumn, table: "t", column: "NAME"},
		{name: "duplicate index across tables", tables: func() []*orm.Table {
			ix := orm.TableOptions{Indexes: []orm.Index{{Name: "by_a", Columns: []string{"a"}}}}
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("a")).With(ix), orm.NewTable("u", orm.ID(), orm.Text("a")).With(ix)}
		}, want: orm.ErrDuplicateIndex, table: "u"},

		{name: "index named like a table", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("a")).With(orm.TableOptions{Indexes: []orm.Index{{Name: "U", Columns: []string{"a"}}}}),
				orm.NewTable("u", orm.ID())}
		}, want: orm.ErrDuplicateIndex, table: "t"},

		// SyncScope.
		{name: "sync scope naming no column", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID()).With(orm.TableOptions{SyncScope: "nope"})}
		}, want: orm.ErrUnknownRefColumn, table: "t", column: "nope"},
		{name: "sync scope on a table that is not synced", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("a")).With(orm.TableOptions{External: true, SyncScope: "a"})}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "a"},
		{name: "sync scope of a kind that is neither text nor integer", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Boolean("a")).With(orm.TableOptions{SyncScope: "a"})}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "a"},
		{name: "encrypted sync scope", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("a").Encrypted()).With(orm.TableOptions{SyncScope: "a"})}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "a"},

		// References.
		{name: "reference to an unknown table", tables: func() []*orm.Table {
			return one(orm.ID(), orm.Text("p").References("nope", "id", tabledef.Cascade))
		}, want: orm.ErrUnknownRefTable, table: "t", column: "p"},
		{name: "reference to an unknown column", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("p").References("parent", "nope", tabledef.Cascade)), parent()}
		}, want: orm.ErrUnknownRefColumn, table: "t", column: "p"},
		{name: "reference to a column that is neither key nor unique", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("p").References("parent", "plain", tabledef.Cascade)), parent()}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "p"},
		{name: "reference between kinds", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Int("p").References("parent", "id", tabledef.Cascade)), parent()}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "p"},
		{name: "set null on a NOT NULL column", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("p").References("parent", "id", tabledef.SetNull)), parent()}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "p"},
		{name: "encrypted reference", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID(), orm.Text("p").Encrypted().References("parent", "id", tabledef.Cascade)), parent()}
		}, want: orm.ErrInvalidColumnSpec, table: "t", column: "p"},
		{name: "index on an unknown column", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID()).With(orm.TableOptions{Indexes: []orm.Index{{Name: "ix", Columns: []string{"nope"}}}})}
		}, want: orm.ErrUnknownRefColumn, table: "t", column: "nope"},
		{name: "index without columns", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID()).With(orm.TableOptions{Indexes: []orm.Index{{Name: "ix"}}})}
		}, want: orm.ErrInvalidColumnSpec, table: "t"},

		// Defaults of the wrong kind, one per kind.
		{name: "id default not a string", tables: func() []*orm.Table { return one(orm.ID().Default(5)) },
			want: orm.ErrDefaultKind, table: "t", column: "id"},
		{name: "text default not a string", tables: func() []*orm.Table { return def(orm.Text("c").Default(5)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "text default with NUL", tables: func() []*orm.Table { return def(orm.Text("c").Default("a\x00b")) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "text default not UTF-8", tables: func() []*orm.Table { return def(orm.Text("c").Default("\xff")) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "int default a string", tables: func() []*orm.Table { return def(orm.Int("c").Default("5")) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "int default past 32 bits", tables: func() []*orm.Table { return def(orm.Int("c").Default(int64(math.MaxInt32) + 1)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "bigint default a float", tables: func() []*orm.Table { return def(orm.BigInt("c").Default(1.5)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "bigint default past int64", tables: func() []*orm.Table { return def(orm.BigInt("c").Default(uint64(math.MaxUint64))) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "boolean default a string", tables: func() []*orm.Table { return def(orm.Boolean("c").Default("true")) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "blob default a string", tables: func() []*orm.Table { return def(orm.Blob("c").Default("x")) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "json default invalid JSON text", tables: func() []*orm.Table { return def(orm.JSON("c").Default(json.RawMessage("{bad"))) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "json default not encodable", tables: func() []*orm.Table { return def(orm.JSON("c").Default(func() {})) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "file default not an object", tables: func() []*orm.Table { return def(orm.File("c").Default(42)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "crdtCounter default a PN-counter state", tables: func() []*orm.Table { return def(orm.CRDTCounter("c").Default(`{"n":{},"p":{}}`)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "crdtPnCounter default a G-counter state", tables: func() []*orm.Table { return def(orm.CRDTPNCounter("c").Default(`{"c":{}}`)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "crdtLwwRegister default a number", tables: func() []*orm.Table { return def(orm.CRDTLWWRegister("c").Default(5)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "crdtOrSet default an array", tables: func() []*orm.Table { return def(orm.CRDTORSet("c").Default([]int{1})) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "NULL default on a NOT NULL column", tables: func() []*orm.Table { return def(orm.Text("c").Default(nil)) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "default on an encrypted column", tables: func() []*orm.Table { return def(orm.Text("c").Encrypted().Default("x")) },
			want: orm.ErrDefaultKind, table: "t", column: "c"},
		{name: "default on an auto-increment key", tables: func() []*orm.Table { return ext(orm.AutoIncrement("n").Default(1)) },
			want: orm.ErrInvalidColumnSpec, table: "t", column: "n"},

		// Names.
		{name: "reserved table name", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("_plasma_changes", orm.ID())} },
			want: orm.ErrReservedName, table: "_plasma_changes"},
		{name: "reserved table name in upper case", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("_PLASMA_x", orm.ID())} },
			want: orm.ErrReservedName, table: "_PLASMA_x"},
		{name: "reserved column name", tables: func() []*orm.Table { return def(orm.Text("_plasma_version")) },
			want: orm.ErrReservedName, table: "t", column: "_plasma_version"},
		{name: "SQLite's reserved table prefix", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("sqlite_stat1", orm.ID())} },
			want: orm.ErrReservedName, table: "sqlite_stat1"},
		{name: "PostgreSQL catalog table name", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("pg_class", orm.ID())} },
			want: orm.ErrReservedName, table: "pg_class"},
		{name: "reserved index name", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID()).With(orm.TableOptions{Indexes: []orm.Index{{Name: "sqlite_autoindex_t_1", Columns: []string{"id"}}}})}
		}, want: orm.ErrReservedName, table: "t"},
		{name: "empty table name", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("", orm.ID())} },
			want: orm.ErrEmptyName},
		{name: "empty column name", tables: func() []*orm.Table { return def(orm.Text("")) },
			want: orm.ErrEmptyName, table: "t"},
		{name: "empty index name", tables: func() []*orm.Table {
			return []*orm.Table{orm.NewTable("t", orm.ID()).With(orm.TableOptions{Indexes: []orm.Index{{Columns: []string{"id"}}}})}
		}, want: orm.ErrEmptyName, table: "t"},
		{name: "NUL in a table name", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("a\x00b", orm.ID())} },
			want: orm.ErrBadName, table: "a\x00b"},
		{name: "NUL in a column name", tables: func() []*orm.Table { return def(orm.Text("a\x00b")) },
			want: orm.ErrBadName, table: "t", column: "a\x00b"},
		{name: "invalid UTF-8 table name", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable("a\xffb", orm.ID())} },
			want: orm.ErrBadName, table: "a\xffb"},
		{name: "table name over 63 bytes", tables: func() []*orm.Table { return []*orm.Table{orm.NewTable(long, orm.ID())} },
			want: orm.ErrBadName, table: long},
		{name: "column name over 63 bytes", tables: func() []*orm.Table { return def(orm.Text(long)) },
			want: orm.ErrBadName, table: "t", column: long},
		{name: "column name over 63 bytes of emoji", tables: func() []*orm.Table { return def(orm.Text(strings.Repeat("😀", 16))) },
			want: orm.ErrBadName, table: "t", column: strings.Repeat("😀", 16)},

		// The schema itself.
		{name: "empty version", version: "-", tables: func() []*orm.Table { return one(orm.ID()) }, want: orm.ErrEmptyName},
		{name: "no tables", tables: func() []*orm.Table { return nil }, want: orm.ErrEmptySchema},
		{name: "nil table", tables: func() []*orm.Table { return []*orm.Table{nil} }, want: orm.ErrInvalidColumnSpec},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			version := "1"
			if tc.version == "-" {
				version = ""
			}
			tables := tc.tables()
			s, err := orm.DefineSchema(version, tables...)
			if err == nil {
				t.Fatalf("DefineSchema accepted the schema")
			}
			if s != nil {
				t.Error("DefineSchema returned a schema with its error")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v is not %v", err, tc.want)
			}
			// Exactly this problem, reported once, naming the place.
			ses := schemaErrors(t, err)
			if len(ses) != 1 {
				t.Fatalf("%d problems reported, want 1: %v", len(ses), err)
			}
			se := ses[0]
			if se.Table != tc.table || se.Column != tc.column {
				t.Errorf("error names table %q column %q, want %q %q: %v", se.Table, se.Column, tc.table, tc.column, err)
			}
			if !strings.HasPrefix(err.Error(), "plasma: schema: ") || !strings.Contains(err.Error(), tc.want.Error()) {
				t.Errorf("message %q", err)
			}
			// Nothing is half-defined.
			for _, tbl := range tables {
				if tbl != nil && tbl.Def() != nil {
					t.Errorf("table %q got a definition despite the error", tbl.Name())
				}
			}
		})
	}
}

// TestDefineSchemaSentinelsDistinct: the sentinels tell every problem
// apart, and the reference ones are also ErrUnknownReference.
func TestDefineSchemaSentinelsDistinct(t *testing.T) {
	all := []error{orm.ErrEmptyName, orm.ErrBadName, orm.ErrReservedName, orm.ErrDuplicateTable, orm.ErrDuplicateColumn,
		orm.ErrDuplicateIndex, orm.ErrSyncedTableID, orm.ErrIDName, orm.ErrNoPrimaryKey, orm.ErrUnknownRefTable,
		orm.ErrUnknownRefColumn, orm.ErrDefaultKind, orm.ErrInvalidColumnSpec, orm.ErrEmptySchema}
	for i, a := range all {
		for j, b := range all {
			if i != j && errors.Is(a, b) {
				t.Errorf("%v is also %v", a, b)
			}
		}
	}
	for _, e := range []error{orm.ErrUnknownRefTable, orm.ErrUnknownRefColumn} {
		if !errors.Is(e, orm.ErrUnknownReference) {
			t.Errorf("%v is not ErrUnknownReference", e)
		}
	}
}

// TestDefineSchemaReportsEveryProblem: all problems come back at once.
func TestDefineSchemaReportsEveryProblem(t *testing.T) {
	_, err := orm.DefineSchema("1",
		orm.NewTable("a", orm.Text("x")),
		orm.NewTable("b", orm.ID(), orm.Int("n").Default("1"), orm.Text("r").References("zz", "id", tabledef.Cascade)),
	)
	ses := schemaErrors(t, err)
	want := []error{orm.ErrSyncedTableID, orm.ErrDefaultKind, orm.ErrUnknownRefTable}
	if len(ses) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(ses), len(want), err)
	}
	for i, w := range want {
		if !errors.Is(ses[i], w) {
			t.Errorf("problem %d is %v, want %v", i, ses[i], w)
		}
	}
}

func TestDefineSchemaValid(t *testing.T) {
	// Declared before the tables they reference, with a self-reference
	// and a cycle.
	children := orm.NewTable("children", orm.ID(),
		orm.Text("parent_id").References("parents", "id", tabledef.Cascade),
		orm.Text("parent_name").Nullable().References("parents", "name", tabledef.SetNull),
		orm.BigInt("legacy").Nullable().References("legacy", "n", tabledef.Restrict),
		orm.Text("sibling").Nullable().References("children", "id", tabledef.NoAction),
	)
	parents := orm.NewTable("parents", orm.ID(), orm.Text("name").Unique(),
		orm.Text("favourite").Nullable().References("children", "id", tabledef.SetNull))
	legacy := orm.NewTable("legacy", orm.AutoIncrement("n"), orm.Text("label")).With(orm.TableOptions{External: true})
	pairs := orm.NewTable("pairs", orm.Text("a").PrimaryKey(), orm.Int("b").PrimaryKey()).With(orm.TableOptions{ChangeLogSuppressed: true})
	kinds := orm.NewTable("kinds", orm.ID(),
		orm.Text("t").Default("x"), orm.Int("i").Default(int8(-3)), orm.BigInt("bi").Default(uint32(7)),
		orm.Boolean("b").Default(true), orm.Blob("bl").Default([]byte{1}),
		orm.JSON("j").Default("s"), orm.JSON("jb").Default([]byte(`{"a":1}`)), orm.JSON("jr").Default(json.RawMessage(`[1]`)),
		orm.JSON("jm").Default(map[string]int{"k": 1}),
		orm.File("f").Default(`{"hash":"h"}`),
		orm.CRDTCounter("c").Default(`{ "c": { "x": "2" } }`),
		orm.CRDTPNCounter("pn").Default(json.RawMessage(`{"p":{},"n":{}}`)),
		orm.CRDTLWWRegister("lww").Nullable().Default(nil),
		orm.CRDTORSet("ors").Nullable(),
		orm.Text("secret").Encrypted().Nullable(),
	)
	s, err := orm.DefineSchema("7", children, parents, legacy, pairs, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != "7" || len(s.Tables()) != 5 || s.Table("parents") != parents || s.Table("nope") != nil {
		t.Fatalf("schema %+v", s)
	}
	if !parents.Synced() || legacy.Synced() || pairs.Synced() {
		t.Error("Synced")
	}
	if pk := pairs.PrimaryKey(); len(pk) != 2 || pk[0] != "a" || pk[1] != "b" {
		t.Errorf("pairs key %v", pk)
	}
	fk := children.Def().Column("parent_name").References
	if fk == nil || *fk != (tabledef.ForeignKey{Table: "parents", Column: "name", OnDelete: tabledef.SetNull}) {
		t.Errorf("parent_name reference %+v", fk)
	}
	if c := legacy.Def().Column("n"); !c.AutoIncrement || c.Kind != tabledef.KindBigInt {
		t.Errorf("legacy.n %+v", c)
	}

	// Defaults as the DDL will render them: JSON-valued kinds take their
	// default as an insert takes a value, CRDT states are canonical.
	wantDefaults := map[string]any{
		"t": "x", "i": int8(-3), "bi": uint32(7), "b": true, "bl": []byte{1},
		"j": json.RawMessage(`"s"`), "jb": json.RawMessage(`{"a":1}`), "jr": json.RawMessage(`[1]`), "jm": json.RawMessage(`{"k":1}`),
		"f":  json.RawMessage(`{"hash":"h"}`),
		"c":  json.RawMessage(`{"c":{"x":"2"}}`),
		"pn": json.RawMessage(`{"n":{},"p":{}}`),
	}
	for name, want := range wantDefaults {
		c := kinds.Def().Column(name)
		got, _ := json.Marshal(c.Default)
		w, _ := json.Marshal(want)
		if !c.HasDefault || string(got) != string(w) {
			t.Errorf("%s default %#v, want %#v", name, c.Default, want)
		}
	}
	if c := kinds.Def().Column("lww"); !c.HasDefault || c.Default != nil {
		t.Errorf("lww default %#v", c.Default)
	}
}

func TestMustDefineSchemaPanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, orm.ErrSyncedTableID) {
			t.Errorf("panic %v", r)
		}
	}()
	orm.MustDefineSchema("1", orm.NewTable("t", orm.Text("x")))
}

func TestColumnAndTableAccessors(t *testing.T) {
	c := orm.Text("email").Unique().Nullable()
	if c.Name() != "email" || c.Kind() != tabledef.KindText {
		t.Errorf("%s %v", c.Name(), c.Kind())
	}
	tbl := orm.NewTable("users", orm.ID(), c)
	if got, ok := tbl.Column("email"); !ok || got.Name() != "email" {
		t.Error("Column")
	}
	if _, ok := tbl.Column("nope"); ok {
		t.Error("Column found a missing column")
	}
	if tbl.Def() != nil {
		t.Error("Def before DefineSchema")
	}
	a := tbl.As("u")
	if a.Alias() != "u" || a.Name() != "users" || a.Col("email").Table != "u" || tbl.Col("email").Table != "users" {
		t.Error("As")
	}
	for k := tabledef.KindID; k <= tabledef.KindORSet; k++ {
		if k.String() == "invalid" {
			t.Errorf("kind %d has no name", k)
		}
	}
}
