package ormtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// The DDL schema (testschema.DDL): every column kind and every modifier,
// an External table with an auto-increment key, a ChangeLogSuppressed
// table with a composite key, a self-reference, a reference cycle, and
// tables declared after the tables that reference them.

const ddlHostileDefault = testschema.DDLHostileDefault

var (
	ddlTables = testschema.DDL()
	// In testschema.DDL's order.
	ddlChildren, ddlKinds, ddlParents, ddlLegacy = ddlTables[0], ddlTables[1], ddlTables[2], ddlTables[3]
	ddlPairs, ddlTree, ddlCycleA, ddlCycleB      = ddlTables[4], ddlTables[5], ddlTables[6], ddlTables[7]
	ddlSchema                                    = orm.MustDefineSchema("ddl-1", ddlTables...)
)

// ddlColWant is one column's expected introspection.
type ddlColWant struct {
	sqliteType, pgType string
	notNull            bool
	sqliteDef, pgDef   string // "" for no default
}

func TestDDLEveryKindAndModifier(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		if err := orm.EnsureSchema(ctx, ddlSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		tables := introTables(t, tg)
		for _, tbl := range ddlSchema.Tables() {
			if !slices.Contains(tables, tbl.Name()) {
				t.Errorf("table %q not created; have %v", tbl.Name(), tables)
			}
		}

		// Types, nullability and defaults.
		kinds := map[string]ddlColWant{
			"id":        {"TEXT", "text", true, "", ""},
			"t":         {"TEXT", "text", true, "", ""},
			"t_null":    {"TEXT", "text", false, "", ""},
			"t_def":     {"TEXT", "text", true, `'it''s "quoted" \ back -- not a comment; DROP TABLE x; ?'`, `'it''s "quoted" \ back -- not a comment; DROP TABLE x; ?'::text`},
			"t_nulldef": {"TEXT", "text", false, "NULL", ""},
			"email":     {"TEXT", "text", true, "", ""},
			"i":         {"INTEGER", "integer", true, "-7", "'-7'::integer"},
			"bi":        {"BIGINT", "bigint", true, "1099511627776", "'1099511627776'::bigint"},
			"b_true":    {"BOOLEAN", "boolean", true, "1", "true"},
			"b_false":   {"BOOLEAN", "boolean", true, "0", "false"},
			"bl":        {"BLOB", "bytea", false, "X'0001fe275c'", `'\x0001fe275c'::bytea`},
			"j":         {"TEXT", "jsonb", true, `'{"a":[1,2],"q":"it''s"}'`, `'{"a": [1, 2], "q": "it''s"}'::jsonb`},
			"j_str":     {"TEXT", "jsonb", true, `'"it''s"'`, `'"it''s"'::jsonb`},
			"j_bytes":   {"TEXT", "jsonb", true, `'[true,null]'`, `'[true, null]'::jsonb`},
			"f":         {"TEXT", "jsonb", false, "", ""},
			"f_def":     {"TEXT", "jsonb", true, `'{"hash":"abc","size":3}'`, `'{"hash": "abc", "size": 3}'::jsonb`},
			"c":         {"TEXT", "text", true, `'{"c":{}}'`, `'{"c":{}}'::text`},
			"pn":        {"TEXT", "text", false, "", ""},
			"lww":       {"TEXT", "text", false, "", ""},
			"ors":       {"TEXT", "text", true, `'{"e":[],"vv":{}}'`, `'{"e":[],"vv":{}}'::text`},
			"secret":    {"TEXT", "text", false, "", ""},
			"secret_n":  {"TEXT", "text", false, "", ""},
			"secret_j":  {"TEXT", "text", false, "", ""},
		}
		cols := introColumns(t, tg, "ddl_kinds")
		var names []string
		for _, c := range cols {
			names = append(names, c.name)
		}
		var declared []string
		for _, c := range ddlKinds.Columns() {
			declared = append(declared, c.Name())
		}
		if !slices.Equal(names, declared) {
			t.Fatalf("columns %v, declared %v", names, declared)
		}
		for _, c := range cols {
			w := kinds[c.name]
			typ, def := w.sqliteType, w.sqliteDef
			if tg.Name == "postgres" {
				typ, def = w.pgType, w.pgDef
			}
			if c.typ != typ || c.notNull != w.notNull || c.def != def {
				t.Errorf("column %s: got type %s, not null %v, default %s; want %s, %v, %s",
					c.name, c.typ, c.notNull, c.def, typ, w.notNull, def)
			}
		}
		if got := introPrimaryKey(t, tg, "ddl_kinds"); !slices.Equal(got, []string{"id"}) {
			t.Errorf("ddl_kinds primary key %v", got)
		}

		// Unique constraints and declared indexes.
		if got := introUnique(t, tg, "ddl_kinds"); !slices.Equal(got, []string{"email"}) {
			t.Errorf("ddl_kinds unique columns %v, want [email]", got)
		}
		if got := introUnique(t, tg, "ddl_parents"); !slices.Equal(got, []string{"name"}) {
			t.Errorf("ddl_parents unique columns %v, want [name]", got)
		}
		ix := introIndexes(t, tg, "ddl_kinds")
		if !reflect.DeepEqual(ix, map[string]introIndex{
			"ddl_kinds_by_i":     {columns: []string{"i", "bi"}},
			"ddl_kinds_t_unique": {columns: []string{"t", "i"}, unique: true},
		}) {
			t.Errorf("ddl_kinds indexes %+v", ix)
		}

		// Foreign keys and their actions.
		fks := introForeignKeys(t, tg, "ddl_children")
		wantFKs := map[string]introFK{
			"p_cascade":  {"ddl_parents", "id", "CASCADE"},
			"p_restrict": {"ddl_parents", "name", "RESTRICT"},
			"p_setnull":  {"ddl_parents", "id", "SET NULL"},
			"p_noaction": {"ddl_parents", "id", "NO ACTION"},
			"legacy_n":   {"ddl_legacy", "n", "CASCADE"},
		}
		if !reflect.DeepEqual(fks, wantFKs) {
			t.Errorf("ddl_children foreign keys\n got %v\nwant %v", fks, wantFKs)
		}
		if fks := introForeignKeys(t, tg, "ddl_tree"); !reflect.DeepEqual(fks, map[string]introFK{"parent_id": {"ddl_tree", "id", "CASCADE"}}) {
			t.Errorf("ddl_tree foreign keys %v", fks)
		}
		if fks := introForeignKeys(t, tg, "ddl_cycle_a"); !reflect.DeepEqual(fks, map[string]introFK{"b_id": {"ddl_cycle_b", "id", "SET NULL"}}) {
			t.Errorf("ddl_cycle_a foreign keys %v", fks)
		}
		if fks := introForeignKeys(t, tg, "ddl_cycle_b"); !reflect.DeepEqual(fks, map[string]introFK{"a_id": {"ddl_cycle_a", "id", "SET NULL"}}) {
			t.Errorf("ddl_cycle_b foreign keys %v", fks)
		}

		// The External table's auto-increment key and the composite key.
		legacy := introColumns(t, tg, "ddl_legacy")
		if tg.Name == "sqlite" {
			if legacy[0].typ != "INTEGER" || !introAutoincrement(t, tg, "ddl_legacy") {
				t.Errorf("ddl_legacy.n: %+v, want INTEGER PRIMARY KEY AUTOINCREMENT", legacy[0])
			}
		} else if legacy[0].typ != "bigint" || !legacy[0].identity || !legacy[0].notNull {
			t.Errorf("ddl_legacy.n: %+v, want bigint identity not null", legacy[0])
		}
		if got := introPrimaryKey(t, tg, "ddl_legacy"); !slices.Equal(got, []string{"n"}) {
			t.Errorf("ddl_legacy primary key %v", got)
		}
		if got := introPrimaryKey(t, tg, "ddl_pairs"); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("ddl_pairs primary key %v", got)
		}
	})
}

func TestDDLDefaultsApply(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.AbortsOnError() {
			tg.SkipExec(t, "the body goes on after NOT NULL and UNIQUE refuse rows; a failed statement aborts the caller's PostgreSQL transaction", ormtest.ExecTx)
		}
		ctx := context.Background()
		db := tg.DB
		if err := orm.EnsureSchema(ctx, ddlSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(ddlKinds).Values(orm.Row{"id": "k1", "t": "x", "email": "a@x"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var sel []expr.Expr
		for _, c := range ddlKinds.Columns() {
			if c.Name() != "secret_n" { // see TestDDLEncryptedColumns
				sel = append(sel, ddlKinds.Col(c.Name()))
			}
		}
		rows, err := orm.Maps(ctx, db.Select(sel...).From(ddlKinds))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		got := rows[0]
		wantRow := orm.Row{
			"id": "k1", "t": "x", "t_null": nil, "t_def": ddlHostileDefault, "t_nulldef": nil, "email": "a@x",
			"i": int64(-7), "bi": int64(1) << 40, "b_true": true, "b_false": false,
			"bl": []byte{0, 1, 0xfe, '\'', '\\'},
			"j":  map[string]any{"a": []any{float64(1), float64(2)}, "q": "it's"}, "j_str": "it's", "j_bytes": []any{true, nil},
			"f": nil, "f_def": map[string]any{"hash": "abc", "size": float64(3)},
			"c": map[string]any{"c": map[string]any{}}, "pn": nil, "lww": nil,
			"ors":    map[string]any{"e": []any{}, "vv": map[string]any{}},
			"secret": nil, "secret_j": nil,
		}
		if !reflect.DeepEqual(got, wantRow) {
			for k, v := range wantRow {
				if !reflect.DeepEqual(got[k], v) {
					t.Errorf("%s: got %#v, want %#v", k, got[k], v)
				}
			}
		}
		// CRDT defaults are stored in canonical form, byte for byte.
		var ors string
		if err := tg.QueryRow(ctx, `SELECT "ors" FROM "ddl_kinds"`).Scan(&ors); err != nil || ors != `{"e":[],"vv":{}}` {
			t.Errorf("stored OR-set default %q, %v", ors, err)
		}

		// NOT NULL refuses, UNIQUE refuses a duplicate.
		if _, err := tg.Executor.ExecContext(ctx, `INSERT INTO "ddl_kinds" ("id", "email") VALUES ('k2', 'b@x')`); err == nil {
			t.Error("insert without the NOT NULL column t succeeded")
		}
		if _, err := db.Insert(ddlKinds).Values(orm.Row{"id": "k3", "t": "y", "email": "a@x"}).Exec(ctx); err == nil {
			t.Error("duplicate email accepted")
		}
		if _, err := db.Insert(ddlKinds).Values(orm.Row{"id": "k4", "t": "x", "i": -7, "email": "c@x"}).Exec(ctx); err == nil {
			t.Error("duplicate (t, i) accepted by the unique index")
		}

		// The auto-increment key numbers rows; the composite key refuses
		// a duplicate pair only.
		if _, err := db.Insert(ddlLegacy).Values(orm.Row{"label": "one"}, orm.Row{"label": "two"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		legacy, err := orm.Maps(ctx, db.Select().From(ddlLegacy).OrderBy(expr.Asc(ddlLegacy.Col("n"))))
		if err != nil || len(legacy) != 2 || legacy[0]["n"] != int64(1) || legacy[1]["n"] != int64(2) {
			t.Errorf("auto-increment rows %v, %v", legacy, err)
		}
		if _, err := db.Insert(ddlPairs).Values(orm.Row{"a": "x", "b": 1}, orm.Row{"a": "x", "b": 2}, orm.Row{"a": "y", "b": 1}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(ddlPairs).Values(orm.Row{"a": "x", "b": 2}).Exec(ctx); err == nil {
			t.Error("duplicate composite key accepted")
		}
	})
}

// TestDDLEncryptedColumns: an encrypted column stores its envelope as
// text whatever its declared kind.
func TestDDLEncryptedColumns(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		db := tg.DB
		if err := orm.EnsureSchema(ctx, ddlSchema, db); err != nil {
			t.Fatal(err)
		}
		env := `{"v":1,"alg":"A256GCM","kid":"k","ct":"AAAA"}`
		if _, err := db.Insert(ddlKinds).Values(orm.Row{"id": "e1", "t": "x", "email": "e@x",
			"secret": env, "secret_n": env, "secret_j": env}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var s, n, j string
		if err := tg.QueryRow(ctx, `SELECT "secret", "secret_n", "secret_j" FROM "ddl_kinds"`).Scan(&s, &n, &j); err != nil {
			t.Fatal(err)
		}
		if s != env || n != env || j != env {
			t.Errorf("stored envelopes %q %q %q", s, n, j)
		}
	})
}

func TestDDLForeignKeyActions(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.AbortsOnError() {
			tg.SkipExec(t, "the body goes on after a RESTRICT foreign key refuses a delete; a failed statement aborts the caller's PostgreSQL transaction", ormtest.ExecTx)
		}
		ctx := context.Background()
		db := tg.DB
		if err := orm.EnsureSchema(ctx, ddlSchema, db); err != nil {
			t.Fatal(err)
		}
		var parents []orm.Row
		for _, p := range []string{"cascade", "restrict", "setnull", "noaction"} {
			parents = append(parents, orm.Row{"id": "p_" + p, "name": "name_" + p})
		}
		if _, err := db.Insert(ddlParents).Values(parents...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(ddlLegacy).Values(orm.Row{"label": "l"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		child := func(id, col string, v any) orm.Row {
			r := orm.Row{"id": id, "p_cascade": nil, "p_restrict": nil, "p_setnull": nil, "p_noaction": nil, "legacy_n": nil}
			r[col] = v
			return r
		}
		if _, err := db.Insert(ddlChildren).Values(
			child("c_cascade", "p_cascade", "p_cascade"),
			child("c_restrict", "p_restrict", "name_restrict"),
			child("c_setnull", "p_setnull", "p_setnull"),
			child("c_noaction", "p_noaction", "p_noaction"),
			child("c_legacy", "legacy_n", 1),
		).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// A reference to a missing parent is refused.
		if _, err := db.Insert(ddlChildren).Values(child("c_bad", "p_cascade", "nope")).Exec(ctx); !ddlIsFKViolation(err) {
			t.Errorf("insert with a dangling reference: %v", err)
		}
		deleteParent := func(id string) error {
			_, err := db.Delete(ddlParents).Where(expr.Eq(ddlParents.Col("id"), id)).Exec(ctx)
			return err
		}
		childRow := func(id string) orm.Row {
			rows, err := orm.Maps(ctx, db.Select().From(ddlChildren).Where(expr.Eq(ddlChildren.Col("id"), id)))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				return nil
			}
			return rows[0]
		}
		parentExists := func(id string) bool {
			n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(ddlParents).Where(expr.Eq(ddlParents.Col("id"), id)))
			if err != nil {
				t.Fatal(err)
			}
			return n == 1
		}

		// cascade deletes the child.
		if err := deleteParent("p_cascade"); err != nil {
			t.Fatalf("cascade: %v", err)
		}
		if r := childRow("c_cascade"); r != nil {
			t.Errorf("cascade left the child: %v", r)
		}
		// restrict refuses the delete.
		if err := deleteParent("p_restrict"); !ddlIsFKViolation(err) {
			t.Errorf("restrict: delete gave %v, want a foreign key violation", err)
		}
		if !parentExists("p_restrict") || childRow("c_restrict") == nil {
			t.Error("restrict: the refused delete removed rows")
		}
		// setNull keeps the child with the column nulled.
		if err := deleteParent("p_setnull"); err != nil {
			t.Fatalf("setNull: %v", err)
		}
		if r := childRow("c_setnull"); r == nil || r["p_setnull"] != nil {
			t.Errorf("setNull: child %v", r)
		}
		// noAction refuses the delete.
		if err := deleteParent("p_noaction"); !ddlIsFKViolation(err) {
			t.Errorf("noAction: delete gave %v, want a foreign key violation", err)
		}
		if !parentExists("p_noaction") || childRow("c_noaction") == nil {
			t.Error("noAction: the refused delete removed rows")
		}
		// An integer reference to the auto-increment key cascades.
		if _, err := db.Delete(ddlLegacy).Where(expr.Eq(ddlLegacy.Col("n"), 1)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if r := childRow("c_legacy"); r != nil {
			t.Errorf("cascade on the integer key left the child: %v", r)
		}

		// The self-reference cascades down the tree; the cycle's set null
		// works both ways.
		if _, err := db.Insert(ddlTree).Values(orm.Row{"id": "root", "parent_id": nil}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(ddlTree).Values(orm.Row{"id": "leaf", "parent_id": "root"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Delete(ddlTree).Where(expr.Eq(ddlTree.Col("id"), "root")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(ddlTree)); err != nil || n != 0 {
			t.Errorf("tree rows after deleting the root: %d, %v", n, err)
		}
		if _, err := db.Insert(ddlCycleA).Values(orm.Row{"id": "a1", "b_id": nil}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(ddlCycleB).Values(orm.Row{"id": "b1", "a_id": "a1"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Update(ddlCycleA).Set(orm.Row{"b_id": "b1"}).Where(expr.Eq(ddlCycleA.Col("id"), "a1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Update(ddlCycleA).Set(orm.Row{"b_id": "nope"}).Where(expr.Eq(ddlCycleA.Col("id"), "a1")).Exec(ctx); !ddlIsFKViolation(err) {
			t.Errorf("cycle: dangling reference from a: %v", err)
		}
		if _, err := db.Delete(ddlCycleA).Where(expr.Eq(ddlCycleA.Col("id"), "a1")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if b, err := orm.Maps(ctx, db.Select().From(ddlCycleB)); err != nil || len(b) != 1 || b[0]["a_id"] != nil {
			t.Errorf("cycle: b after deleting a: %v, %v", b, err)
		}
	})
}

// isFKViolation reports whether err is the database refusing a statement
// for a foreign key.
func ddlIsFKViolation(err error) bool {
	if err == nil {
		return false
	}
	if code := postgres.SQLState(err); code != "" {
		return code == postgres.CodeForeignKeyViolation
	}
	return strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// Introspection, straight from the catalogs.

func introTables(t *testing.T, tg *ormtest.Target) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if tg.Name == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name`
	}
	return introStrings(t, tg, q)
}

func introStrings(t *testing.T, tg *ormtest.Target, q string, args ...any) []string {
	t.Helper()
	rows, err := tg.Executor.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type introColumn struct {
	name, typ, def    string
	notNull, identity bool
}

func introColumns(t *testing.T, tg *ormtest.Target, table string) []introColumn {
	t.Helper()
	q := `SELECT name, type, "notnull" <> 0, COALESCE(dflt_value, ''), 0 FROM pragma_table_info(?) ORDER BY cid`
	if tg.Name == "postgres" {
		q = `SELECT column_name, data_type, is_nullable = 'NO', COALESCE(column_default, ''), is_identity = 'YES'
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rows, err := tg.Executor.QueryContext(context.Background(), q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []introColumn
	for rows.Next() {
		var c introColumn
		if err := rows.Scan(&c.name, &c.typ, &c.notNull, &c.def, &c.identity); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("table %q has no columns (does it exist?)", table)
	}
	return out
}

func introPrimaryKey(t *testing.T, tg *ormtest.Target, table string) []string {
	t.Helper()
	if tg.Name == "sqlite" {
		return introStrings(t, tg, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	}
	return introStrings(t, tg, `SELECT k.column_name FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
		WHERE c.table_schema = current_schema() AND c.table_name = $1 AND c.constraint_type = 'PRIMARY KEY'
		ORDER BY k.ordinal_position`, table)
}

// uniqueColumns lists the columns with a single-column UNIQUE constraint.
func introUnique(t *testing.T, tg *ormtest.Target, table string) []string {
	t.Helper()
	if tg.Name == "sqlite" {
		return introStrings(t, tg, `SELECT i.name FROM pragma_index_list(?1) l, pragma_index_info(l.name) i
			WHERE l."unique" AND l.origin = 'u' AND (SELECT count(*) FROM pragma_index_info(l.name)) = 1 ORDER BY i.name`, table)
	}
	return introStrings(t, tg, `SELECT min(k.column_name::text) FROM information_schema.table_constraints c
		JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name
		WHERE c.table_schema = current_schema() AND c.table_name = $1 AND c.constraint_type = 'UNIQUE'
		GROUP BY c.constraint_name HAVING count(*) = 1 ORDER BY 1`, table)
}

type introIndex struct {
	columns []string
	unique  bool
}

// declaredIndexes lists the indexes made by CREATE INDEX (not those of
// constraints).
func introIndexes(t *testing.T, tg *ormtest.Target, table string) map[string]introIndex {
	t.Helper()
	out := make(map[string]introIndex)
	if tg.Name == "sqlite" {
		for _, name := range introStrings(t, tg, `SELECT name FROM pragma_index_list(?) WHERE origin = 'c'`, table) {
			cols := introStrings(t, tg, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, name)
			uniq := introStrings(t, tg, `SELECT "unique" FROM pragma_index_list(?) WHERE name = ?`, table, name)
			out[name] = introIndex{columns: cols, unique: len(uniq) == 1 && uniq[0] == "1"}
		}
		return out
	}
	rows, err := tg.Executor.QueryContext(context.Background(), `SELECT i.indexname, ix.indisunique, array(
			SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
			JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.n)
		FROM pg_indexes i
		JOIN pg_class c ON c.relname = i.indexname AND c.relnamespace = to_regnamespace(i.schemaname)
		JOIN pg_index ix ON ix.indexrelid = c.oid
		LEFT JOIN pg_constraint k ON k.conindid = ix.indexrelid
		WHERE i.schemaname = current_schema() AND i.tablename = $1 AND k.oid IS NULL`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var cols []string
		var uniq bool
		if err := rows.Scan(&name, &uniq, pq.Array(&cols)); err != nil {
			t.Fatal(err)
		}
		out[name] = introIndex{columns: cols, unique: uniq}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type introFK struct{ table, column, onDelete string }

// foreignKeys maps each referencing column to its reference.
func introForeignKeys(t *testing.T, tg *ormtest.Target, table string) map[string]introFK {
	t.Helper()
	q := `SELECT "from", "table", "to", on_delete FROM pragma_foreign_key_list(?)`
	if tg.Name == "postgres" {
		q = `SELECT k.column_name, u.table_name, u.column_name, r.delete_rule
			FROM information_schema.referential_constraints r
			JOIN information_schema.key_column_usage k ON k.constraint_schema = r.constraint_schema AND k.constraint_name = r.constraint_name
			JOIN information_schema.constraint_column_usage u ON u.constraint_schema = r.constraint_schema AND u.constraint_name = r.constraint_name
			WHERE r.constraint_schema = current_schema() AND k.table_name = $1`
	}
	rows, err := tg.Executor.QueryContext(context.Background(), q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make(map[string]introFK)
	for rows.Next() {
		var col string
		var fk introFK
		if err := rows.Scan(&col, &fk.table, &fk.column, &fk.onDelete); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[col]; dup {
			t.Errorf("%s.%s has two foreign keys", table, col)
		}
		out[col] = fk
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func introAutoincrement(t *testing.T, tg *ormtest.Target, table string) bool {
	t.Helper()
	sqlText := introStrings(t, tg, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table)
	return len(sqlText) == 1 && strings.Contains(sqlText[0], "PRIMARY KEY AUTOINCREMENT")
}

// TestBuildWithoutCgo: the module builds with CGO_ENABLED=0, and no
// package outside the standard library needs cgo (a cgo driver would
// still build without cgo, and fail at run time) or registers a second
// "sqlite" driver beside modernc.org/sqlite.
func TestBuildWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole module: skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	gomod, err := exec.Command(gobin, "env", "GOMOD").Output()
	if err != nil || len(strings.TrimSpace(string(gomod))) == 0 {
		t.Fatalf("go env GOMOD: %q %v", gomod, err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	run := func(cgo string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gobin, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("CGO_ENABLED=%s go %s: %v\n%s", cgo, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("0", "build", "./...")
	deps := run("1", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}} {{len .CgoFiles}}{{end}}`, "./...")
	for _, line := range strings.Split(strings.TrimSpace(deps), "\n") {
		pkg, n, _ := strings.Cut(line, " ")
		if n != "0" {
			t.Errorf("package %s uses cgo", pkg)
		}
		switch pkg {
		case "github.com/glebarez/go-sqlite", "github.com/uptrace/bun/driver/sqliteshim", "github.com/mattn/go-sqlite3":
			t.Errorf("%s is linked: it registers a second sqlite driver", pkg)
		}
	}
}
