package migrate

import (
	"context"
	"database/sql"
	"strings"

	"github.com/plasma-go/plasma/dialect"
)

const pgColumns = `
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), d.adbin IS NOT NULL, a.attidentity::text, a.attgenerated <> '',
       a.attcollation <> 0 AND a.attcollation <> ty.typcollation
FROM pg_attribute a
JOIN pg_type ty ON ty.oid = a.atttypid
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum`

const pgConstraints = `
SELECT cl.relname, con.conname, con.contype::text, cardinality(con.conkey), k.i, a.attname,
       COALESCE(fcl.relname, ''), COALESCE(fa.attname, ''), con.confdeltype::text, con.confupdtype::text
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
	if err := pgReadColumns(ctx, ex, db, byName); err != nil {
		return nil, err
	}
	if err := pgReadConstraints(ctx, ex, byName); err != nil {
		return nil, err
	}
	if err := pgReadIndexes(ctx, ex, byName); err != nil {
		return nil, err
	}
	return db, nil
}

// pgReadColumns adds every column of the current schema's tables to db,
// a table to db and byName the first time one of its columns is read.
func pgReadColumns(ctx context.Context, ex dialect.Executor, db *Database, byName map[string]*TableInfo) error {
	table := func(name string) *TableInfo {
		t := byName[name]
		if t == nil {
			t = &TableInfo{Name: name}
			byName[name] = t
			db.Tables = append(db.Tables, t)
		}
		return t
	}
	return queryRows(ctx, ex, pgColumns, nil, func(r *sql.Rows) error {
		var tname string
		var c ColumnInfo
		var notNull, generated, collated bool
		var identity string
		if err := r.Scan(&tname, &c.Name, &c.Type, &notNull, &c.Default, &c.HasDefault, &identity, &generated, &collated); err != nil {
			return err
		}
		t := table(tname)
		if generated {
			// Its "default" is the generation expression, and no write
			// may set it: like SQLite's, it is not a column to declare.
			t.Unsupported = appendOnce(t.Unsupported, "generated column")
			return nil
		}
		c.Nullable = !notNull
		if identity != "" || c.HasDefault && strings.HasPrefix(c.Default, "nextval(") {
			c.AutoIncrement = true
		}
		if identity == "a" {
			t.Unsupported = appendOnce(t.Unsupported, "GENERATED ALWAYS identity")
		}
		if collated {
			t.Unsupported = appendOnce(t.Unsupported, "COLLATE")
		}
		t.Columns = append(t.Columns, c)
		return nil
	})
}

// pgReadConstraints adds the primary keys, single-column UNIQUE and
// FOREIGN KEY constraints to the tables read, and notes the rest as
// unsupported.
func pgReadConstraints(ctx context.Context, ex dialect.Executor, byName map[string]*TableInfo) error {
	type conCol struct{ col, refTable, refCol string }
	type con struct {
		table, name, typ, onDelete, onUpdate string
		n                                    int
		cols                                 []conCol
	}
	var cons []*con
	var last *con
	err := queryRows(ctx, ex, pgConstraints, nil, func(r *sql.Rows) error {
		var tname, name, typ, col, refTable, refCol, del, upd string
		var n, i int
		if err := r.Scan(&tname, &name, &typ, &n, &i, &col, &refTable, &refCol, &del, &upd); err != nil {
			return err
		}
		if last == nil || last.table != tname || last.name != name {
			last = &con{table: tname, name: name, typ: typ, onDelete: del, onUpdate: upd, n: n}
			cons = append(cons, last)
		}
		last.cols = append(last.cols, conCol{col, refTable, refCol})
		return nil
	})
	if err != nil {
		return err
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
				c.References = &ForeignKeyInfo{Name: k.name, Table: k.cols[0].refTable, Column: k.cols[0].refCol,
					OnDelete: pgAction(k.onDelete), OnUpdate: pgAction(k.onUpdate)}
				if c.References.OnUpdate != "NO ACTION" {
					t.Unsupported = appendOnce(t.Unsupported, "ON UPDATE action")
				}
			}
		case "c":
			t.Unsupported = appendOnce(t.Unsupported, "CHECK")
		case "x":
			t.Unsupported = appendOnce(t.Unsupported, "EXCLUDE")
		}
	}
	return nil
}

// pgReadIndexes adds the indexes that back no constraint to the tables
// read: one row per column of each.
func pgReadIndexes(ctx context.Context, ex dialect.Executor, byName map[string]*TableInfo) error {
	var lastIx *IndexInfo
	var lastTable string
	return queryRows(ctx, ex, pgIndexes, nil, func(r *sql.Rows) error {
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
