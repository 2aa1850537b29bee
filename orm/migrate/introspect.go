package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/plasma-go/plasma/tabledef"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
)

// Introspect reads the schema of db's database: on SQLite the whole
// database, on PostgreSQL the connection's current schema (the first
// schema on its search_path). Column kinds are normalised with what the
// last Run recorded in the meta table, if anything.
func Introspect(ctx context.Context, db *orm.DB) (*Database, error) {
	if db == nil {
		return nil, fmt.Errorf("plasma: migrate.Introspect: nil database")
	}
	live, err := introspect(ctx, db.Executor(), db.Dialect())
	if err != nil {
		return nil, err
	}
	m, err := readMeta(ctx, db.Executor(), db.Dialect(), live)
	if err != nil {
		return nil, err
	}
	applySnapshot(live, m.snapshot, db.Dialect())
	return live, nil
}

func introspect(ctx context.Context, ex dialect.Executor, d dialect.Dialect) (*Database, error) {
	var (
		db  *Database
		err error
	)
	switch d.Name() {
	case "sqlite":
		db, err = introspectSQLite(ctx, ex)
	case "postgres":
		db, err = introspectPostgres(ctx, ex)
	default:
		return nil, fmt.Errorf("plasma: migrate: unsupported dialect %q", d.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("plasma: migrate: introspect %s: %w", d.Name(), err)
	}
	sort.Slice(db.Tables, func(i, j int) bool { return db.Tables[i].Name < db.Tables[j].Name })
	for _, t := range db.Tables {
		for i := range t.Columns {
			c := &t.Columns[i]
			c.Kind = kindOfClass(typeClass(db.Dialect, c.Type))
			if c.AutoIncrement && (c.Kind == tabledef.KindInt || c.Kind == tabledef.KindBigInt) {
				c.Kind = tabledef.KindBigInt // plasma's auto-increment columns are bigint
			}
		}
		sort.Slice(t.Indexes, func(i, j int) bool { return t.Indexes[i].Name < t.Indexes[j].Name })
	}
	return db, nil
}

// applySnapshot refines column kinds with the kinds recorded by the last
// Run, where the recorded kind's type still matches the live type.
func applySnapshot(db *Database, snap *snapshot, d dialect.Dialect) {
	if snap == nil {
		return
	}
	for _, t := range db.Tables {
		st, ok := snap.Tables[t.Name]
		if !ok {
			continue
		}
		for i := range t.Columns {
			c := &t.Columns[i]
			sc, ok := st.Columns[c.Name]
			if !ok {
				continue
			}
			k, ok := kindByName(sc.Kind)
			if !ok {
				continue
			}
			if recordedClass(d, k, sc.Encrypted, c.AutoIncrement) == typeClass(db.Dialect, c.Type) {
				c.Kind, c.Encrypted = k, sc.Encrypted
			}
		}
	}
}

// queryRows runs q and calls fn for each row.
func queryRows(ctx context.Context, ex dialect.Executor, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := ex.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func introspectSQLite(ctx context.Context, ex dialect.Executor) (*Database, error) {
	db := &Database{Dialect: "sqlite"}
	err := queryRows(ctx, ex,
		`SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`,
		nil, func(r *sql.Rows) error {
			t := &TableInfo{}
			if err := r.Scan(&t.Name, &t.sql); err != nil {
				return err
			}
			db.Tables = append(db.Tables, t)
			return nil
		})
	if err != nil {
		return nil, err
	}
	for _, t := range db.Tables {
		if err := sqliteTable(ctx, ex, t); err != nil {
			return nil, fmt.Errorf("table %q: %w", t.Name, err)
		}
	}
	return db, nil
}

func sqliteTable(ctx context.Context, ex dialect.Executor, t *TableInfo) error {
	type pkCol struct {
		name string
		pos  int
	}
	var pks []pkCol
	err := queryRows(ctx, ex, `SELECT name, type, "notnull", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`,
		[]any{t.Name}, func(r *sql.Rows) error {
			var c ColumnInfo
			var notNull, pk, hidden int
			var def sql.NullString
			if err := r.Scan(&c.Name, &c.Type, &notNull, &def, &pk, &hidden); err != nil {
				return err
			}
			if hidden != 0 {
				t.Unsupported = appendOnce(t.Unsupported, "generated column")
				return nil
			}
			c.Nullable = notNull == 0
			c.Default, c.HasDefault = def.String, def.Valid
			if pk > 0 {
				pks = append(pks, pkCol{c.Name, pk})
			}
			t.Columns = append(t.Columns, c)
			return nil
		})
	if err != nil {
		return err
	}
	sort.Slice(pks, func(i, j int) bool { return pks[i].pos < pks[j].pos })
	for _, p := range pks {
		t.PrimaryKey = append(t.PrimaryKey, p.name)
	}
	words := sqliteKeywords(t.sql)
	if len(t.PrimaryKey) == 1 && !words["WITHOUT"] {
		if c := t.Column(t.PrimaryKey[0]); c != nil && strings.EqualFold(c.Type, "INTEGER") {
			// An INTEGER PRIMARY KEY is the rowid: never NULL, whatever
			// table_info says.
			c.Nullable = false
			c.AutoIncrement = words["AUTOINCREMENT"]
		}
	}
	for _, w := range []string{"CHECK", "COLLATE", "WITHOUT", "STRICT"} {
		if words[w] {
			t.Unsupported = append(t.Unsupported, w)
		}
	}

	// Foreign keys: one row per column of each constraint.
	type fkRow struct {
		id                  int
		table, from, to, on string
		toNull              bool
	}
	var fks []fkRow
	err = queryRows(ctx, ex, `SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`,
		[]any{t.Name}, func(r *sql.Rows) error {
			var f fkRow
			var to sql.NullString
			if err := r.Scan(&f.id, &f.table, &f.from, &to, &f.on); err != nil {
				return err
			}
			f.to, f.toNull = to.String, !to.Valid
			fks = append(fks, f)
			return nil
		})
	if err != nil {
		return err
	}
	perID := map[int]int{}
	for _, f := range fks {
		perID[f.id]++
	}
	for _, f := range fks {
		if perID[f.id] > 1 {
			t.Unsupported = appendOnce(t.Unsupported, "multi-column FOREIGN KEY")
			continue
		}
		c := t.Column(f.from)
		if c == nil {
			continue
		}
		to := f.to
		if f.toNull {
			to, err = sqliteSinglePK(ctx, ex, f.table)
			if err != nil {
				return err
			}
		}
		c.References = &ForeignKeyInfo{Table: f.table, Column: to, OnDelete: strings.ToUpper(f.on)}
	}

	// Indexes and UNIQUE constraints.
	type ixRow struct {
		name    string
		unique  bool
		origin  string
		partial bool
	}
	var ixs []ixRow
	err = queryRows(ctx, ex, `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`,
		[]any{t.Name}, func(r *sql.Rows) error {
			var x ixRow
			var unique, partial int
			if err := r.Scan(&x.name, &unique, &x.origin, &partial); err != nil {
				return err
			}
			x.unique, x.partial = unique != 0, partial != 0
			ixs = append(ixs, x)
			return nil
		})
	if err != nil {
		return err
	}
	for _, x := range ixs {
		if x.origin == "pk" {
			continue
		}
		var cols []string
		expression := false
		err := queryRows(ctx, ex, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, []any{x.name},
			func(r *sql.Rows) error {
				var n sql.NullString
				if err := r.Scan(&n); err != nil {
					return err
				}
				if !n.Valid {
					expression = true
				}
				cols = append(cols, n.String)
				return nil
			})
		if err != nil {
			return err
		}
		if x.origin == "u" {
			if len(cols) == 1 && !expression {
				if c := t.Column(cols[0]); c != nil {
					c.Unique = true
				}
			} else {
				t.Unsupported = appendOnce(t.Unsupported, "multi-column UNIQUE constraint")
			}
			continue
		}
		ix := IndexInfo{Name: x.name, Columns: cols, Unique: x.unique, Partial: x.partial, Expression: expression}
		err = queryRows(ctx, ex, `SELECT COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' AND name = ?`,
			[]any{x.name}, func(r *sql.Rows) error { return r.Scan(&ix.sql) })
		if err != nil {
			return err
		}
		t.Indexes = append(t.Indexes, ix)
	}
	return nil
}

// sqliteSinglePK returns the primary key column of table, for a foreign
// key declared without a column list.
func sqliteSinglePK(ctx context.Context, ex dialect.Executor, table string) (string, error) {
	var name string
	err := queryRows(ctx, ex, `SELECT name FROM pragma_table_info(?) WHERE pk = 1`, []any{table},
		func(r *sql.Rows) error { return r.Scan(&name) })
	return name, err
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

const pgColumns = `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), d.adbin IS NOT NULL, a.attidentity <> ''
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`

const pgConstraints = `
SELECT cl.relname, con.conname, con.contype::text, cardinality(con.conkey), k.i, a.attname,
       COALESCE(fcl.relname, ''), COALESCE(fa.attname, ''), con.confdeltype::text
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace n ON n.oid = cl.relnamespace
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, i)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
LEFT JOIN pg_attribute fa ON fa.attrelid = con.confrelid AND fa.attnum = con.confkey[k.i]
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'f', 'c', 'x')
ORDER BY cl.relname, con.conname, k.i`

const pgIndexes = `
SELECT t.relname, i.relname, ix.indisunique, ix.indpred IS NOT NULL, ix.indexprs IS NOT NULL, k.i, COALESCE(a.attname, '')
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, i)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
WHERE n.nspname = current_schema() AND t.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.conrelid = t.oid AND c.contype IN ('p', 'u', 'x'))
ORDER BY t.relname, i.relname, k.i`

func introspectPostgres(ctx context.Context, ex dialect.Executor) (*Database, error) {
	db := &Database{Dialect: "postgres"}
	byName := map[string]*TableInfo{}
	table := func(name string) *TableInfo {
		t := byName[name]
		if t == nil {
			t = &TableInfo{Name: name}
			byName[name] = t
			db.Tables = append(db.Tables, t)
		}
		return t
	}
	err := queryRows(ctx, ex, pgColumns, nil, func(r *sql.Rows) error {
		var tname string
		var c ColumnInfo
		var notNull, identity bool
		if err := r.Scan(&tname, &c.Name, &c.Type, &notNull, &c.Default, &c.HasDefault, &identity); err != nil {
			return err
		}
		c.Nullable = !notNull
		if identity || c.HasDefault && strings.HasPrefix(c.Default, "nextval(") {
			c.AutoIncrement = true
		}
		t := table(tname)
		t.Columns = append(t.Columns, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	type conCol struct{ col, refTable, refCol string }
	type con struct {
		table, name, typ, onDelete string
		n                          int
		cols                       []conCol
	}
	var cons []*con
	var last *con
	err = queryRows(ctx, ex, pgConstraints, nil, func(r *sql.Rows) error {
		var tname, name, typ, col, refTable, refCol, del string
		var n, i int
		if err := r.Scan(&tname, &name, &typ, &n, &i, &col, &refTable, &refCol, &del); err != nil {
			return err
		}
		if last == nil || last.table != tname || last.name != name {
			last = &con{table: tname, name: name, typ: typ, onDelete: del, n: n}
			cons = append(cons, last)
		}
		last.cols = append(last.cols, conCol{col, refTable, refCol})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range cons {
		t := byName[k.table]
		if t == nil {
			continue
		}
		switch k.typ {
		case "p":
			t.PrimaryKeyName = k.name
			for _, c := range k.cols {
				t.PrimaryKey = append(t.PrimaryKey, c.col)
			}
		case "u":
			if len(k.cols) != 1 {
				t.Unsupported = appendOnce(t.Unsupported, "multi-column UNIQUE constraint")
				continue
			}
			if c := t.Column(k.cols[0].col); c != nil && !c.Unique {
				c.Unique, c.UniqueName = true, k.name
			}
		case "f":
			if len(k.cols) != 1 {
				t.Unsupported = appendOnce(t.Unsupported, "multi-column FOREIGN KEY")
				continue
			}
			if c := t.Column(k.cols[0].col); c != nil {
				c.References = &ForeignKeyInfo{Name: k.name, Table: k.cols[0].refTable, Column: k.cols[0].refCol, OnDelete: pgAction(k.onDelete)}
			}
		case "c":
			t.Unsupported = appendOnce(t.Unsupported, "CHECK")
		case "x":
			t.Unsupported = appendOnce(t.Unsupported, "EXCLUDE")
		}
	}
	var lastIx *IndexInfo
	var lastTable string
	err = queryRows(ctx, ex, pgIndexes, nil, func(r *sql.Rows) error {
		var tname, iname, col string
		var unique, partial, exprs bool
		var i int
		if err := r.Scan(&tname, &iname, &unique, &partial, &exprs, &i, &col); err != nil {
			return err
		}
		t := byName[tname]
		if t == nil {
			return nil
		}
		if lastIx == nil || lastTable != tname || lastIx.Name != iname {
			t.Indexes = append(t.Indexes, IndexInfo{Name: iname, Unique: unique, Partial: partial})
			lastIx, lastTable = &t.Indexes[len(t.Indexes)-1], tname
		}
		if col == "" {
			lastIx.Expression = true
		}
		lastIx.Columns = append(lastIx.Columns, col)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return db, nil
}

func pgAction(c string) string {
	switch c {
	case "c":
		return "CASCADE"
	case "r":
		return "RESTRICT"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "NO ACTION"
}
