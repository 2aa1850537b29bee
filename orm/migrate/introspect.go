package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
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
	live.Version = m.version
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
				c.Kind, c.Encrypted, c.KindRecorded = k, sc.Encrypted, true
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

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
