package orm

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/plasma-go/plasma/dialect"
)

// ensured remembers which (executor, schema) pairs EnsureSchema has
// brought up to date in this process, so later calls cost nothing.
var ensured sync.Map // ensureKey -> struct{}

type ensureKey struct {
	exec   dialect.Executor
	schema *Schema
}

// EnsureSchema creates the schema's tables and indexes that do not exist
// yet, in one transaction. It never alters or drops anything: changing an
// existing table is the migrate package's work.
//
// It is cheap enough to call on every request: once it has succeeded for a
// DB's executor and a schema, later calls return at once without touching
// the database. The first call on an executor (a new process, a new pool)
// lists the existing tables, and when every table is there it stops: no
// transaction, no lock, no DDL. Otherwise it creates what is missing in a
// transaction; on PostgreSQL an advisory lock makes concurrent callers in
// several processes take turns.
//
// On an executor that cannot begin a transaction (a *sql.Tx, such as a
// bun.Tx's) the statements run on the executor itself, and nothing is
// remembered, since plasma cannot know whether that transaction commits.
func EnsureSchema(ctx context.Context, s *Schema, db *DB) error {
	if s == nil || db == nil {
		return fmt.Errorf("plasma: EnsureSchema: nil schema or database")
	}
	key := ensureKey{exec: db.exec, schema: s}
	if _, done := ensured.Load(key); done {
		return nil
	}
	existing, err := ExistingTables(ctx, db)
	if err != nil {
		return fmt.Errorf("plasma: EnsureSchema %s: %w", s.version, err)
	}
	_, canBegin := db.exec.(dialect.Beginner)
	if !allExist(s, existing) {
		if canBegin && !db.InTx() {
			err = db.Tx(ctx, func(tx *Tx) error { return createMissing(ctx, s, tx.DB) })
		} else {
			err = createMissing(ctx, s, db)
		}
		if err != nil {
			return fmt.Errorf("plasma: EnsureSchema %s: %w", s.version, err)
		}
	}
	if canBegin && !db.InTx() {
		// Inside a caller's transaction nothing is known to be committed.
		ensured.Store(key, struct{}{})
	}
	return nil
}

func allExist(s *Schema, existing map[string]bool) bool {
	for _, t := range s.tables {
		if !existing[t.name] {
			return false
		}
	}
	return true
}

// ForgetEnsured drops EnsureSchema's memory of db, so the next call checks
// the database again (after a test drops tables, say).
func ForgetEnsured(db *DB) {
	ensured.Range(func(k, _ any) bool {
		if k.(ensureKey).exec == db.exec {
			ensured.Delete(k)
		}
		return true
	})
}

func createMissing(ctx context.Context, s *Schema, db *DB) error {
	if lock := db.d.LockSchema(); lock != "" {
		if _, err := db.run(ctx, &Statement{Op: OpDDL, SQL: lock}); err != nil {
			return err
		}
	}
	existing, err := ExistingTables(ctx, db)
	if err != nil {
		return err
	}
	rc, ok := db.d.(dialect.ReferenceChecker)
	checks := ok && rc.ChecksReferences()
	type later struct {
		t   *Table
		ddl string
	}
	var fks []later
	for _, t := range creationOrder(s.tables) {
		if existing[t.name] {
			continue
		}
		def := t.def
		if checks {
			// A reference to a table not created yet closes a cycle: add
			// it once every table exists.
			var deferred []dialect.ColumnDef
			def, deferred = withoutForwardRefs(t.def, existing)
			for i := range deferred {
				fks = append(fks, later{t, dialect.AddForeignKey(t.name, &deferred[i])})
			}
		}
		stmts, err := dialect.CreateTable(db.d, def, true)
		if err != nil {
			return err
		}
		for _, ddl := range stmts {
			if err := db.ExecDDL(ctx, t, ddl); err != nil {
				return err
			}
		}
		existing[t.name] = true
	}
	for _, fk := range fks {
		if err := db.ExecDDL(ctx, fk.t, fk.ddl); err != nil {
			return err
		}
	}
	return nil
}

// withoutForwardRefs returns def without the references to tables that do
// not exist yet (other than def's own table), and the columns it took them
// from.
func withoutForwardRefs(def *dialect.TableDef, exists map[string]bool) (*dialect.TableDef, []dialect.ColumnDef) {
	var deferred []dialect.ColumnDef
	var cols []dialect.ColumnDef
	for i, c := range def.Columns {
		if fk := c.References; fk != nil && fk.Table != def.Name && !exists[fk.Table] {
			if cols == nil {
				cols = slices.Clone(def.Columns)
			}
			deferred = append(deferred, c)
			cols[i].References = nil
		}
	}
	if cols == nil {
		return def, nil
	}
	d := *def
	d.Columns = cols
	return &d, deferred
}

// ExistingTables lists the tables of db's database (SQLite) or current
// schema (PostgreSQL).
func ExistingTables(ctx context.Context, db *DB) (map[string]bool, error) {
	rows, err := db.Query(ctx, db.d.TablesQuery())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := make(map[string]bool)
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names[n] = true
	}
	return names, rows.Err()
}

// creationOrder puts every table after the tables it references, so
// PostgreSQL can check each foreign key as its table is created. Tables in
// a reference cycle keep their declaration order.
func creationOrder(tables []*Table) []*Table {
	byName := make(map[string]*Table, len(tables))
	for _, t := range tables {
		byName[t.name] = t
	}
	var order []*Table
	state := make(map[string]int, len(tables)) // 1 visiting, 2 done
	var visit func(t *Table)
	visit = func(t *Table) {
		if state[t.name] != 0 {
			return
		}
		state[t.name] = 1
		for _, c := range t.def.Columns {
			if fk := c.References; fk != nil && fk.Table != t.name {
				if dep := byName[fk.Table]; dep != nil {
					visit(dep)
				}
			}
		}
		state[t.name] = 2
		order = append(order, t)
	}
	for _, t := range tables {
		visit(t)
	}
	return order
}
