package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/plasma-go/plasma/dialect"
)

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

// sqliteTable reads t's columns, keys and indexes from SQLite's pragmas.
func sqliteTable(ctx context.Context, ex dialect.Executor, t *TableInfo) error {
	if err := sqliteColumns(ctx, ex, t); err != nil {
		return err
	}
	if err := sqliteForeignKeys(ctx, ex, t); err != nil {
		return err
	}
	return sqliteIndexes(ctx, ex, t)
}

// sqliteColumns reads t's columns and primary key from pragma_table_xinfo
// and the table's SQL text, noting what plasma does not model.
func sqliteColumns(ctx context.Context, ex dialect.Executor, t *TableInfo) error {
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
	return nil
}

// sqliteForeignKeys reads t's foreign keys from pragma_foreign_key_list:
// one row per column of each constraint.
func sqliteForeignKeys(ctx context.Context, ex dialect.Executor, t *TableInfo) error {
	type fkRow struct {
		id                        int
		table, from, to, on, onUp string
		toNull                    bool
	}
	var fks []fkRow
	err := queryRows(ctx, ex, `SELECT id, "table", "from", "to", on_delete, on_update FROM pragma_foreign_key_list(?) ORDER BY id, seq`,
		[]any{t.Name}, func(r *sql.Rows) error {
			var f fkRow
			var to sql.NullString
			if err := r.Scan(&f.id, &f.table, &f.from, &to, &f.on, &f.onUp); err != nil {
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
		c.References = &ForeignKeyInfo{Table: f.table, Column: to, OnDelete: strings.ToUpper(f.on), OnUpdate: strings.ToUpper(f.onUp)}
		if c.References.OnUpdate != "NO ACTION" {
			t.Unsupported = appendOnce(t.Unsupported, "ON UPDATE action")
		}
	}
	return nil
}

// sqliteIndexes reads t's indexes and UNIQUE constraints from
// pragma_index_list and pragma_index_info.
func sqliteIndexes(ctx context.Context, ex dialect.Executor, t *TableInfo) error {
	type ixRow struct {
		name    string
		unique  bool
		origin  string
		partial bool
	}
	var ixs []ixRow
	err := queryRows(ctx, ex, `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`,
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
