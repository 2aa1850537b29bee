package orm

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/tabledef"
)

// ensuredKey keeps, in a DB's Memo, the keys of the EnsureOnce and
// EnsureSchema calls that have succeeded on it. One set per database, so
// ForgetEnsured forgets every kind of bookkeeping at once.
var ensuredKey = NewMemoKey[*sync.Map]("orm.ensured")

func (db *DB) ensured() *sync.Map {
	return MemoLoad(db.memo, ensuredKey, func() *sync.Map { return new(sync.Map) })
}

// schemaKey is EnsureSchema's key in the ensured set.
type schemaKey struct{ schema *Schema }

// EnsureOnce runs create, which makes database objects with statements
// that are no-ops where the objects exist (CREATE TABLE IF NOT EXISTS,
// CREATE OR REPLACE FUNCTION ...), unless a call with the same key has
// already succeeded on db (or a DB sharing its Memo: see Memo). The
// change log, the sync server and the realtime hub create their
// bookkeeping through it; key is any comparable value, usually of an
// unexported type, that names the set of objects.
//
// create runs in a transaction opened on db, after the dialect's schema
// lock (an advisory lock on PostgreSQL, so processes sharing a database
// take turns), and is remembered once that commits. Inside a caller's
// transaction it runs there, lock and all, and nothing is remembered,
// since plasma cannot know whether that transaction commits. An executor
// that can begin no transaction and is not one runs create as it is, and
// nothing is remembered: unlike a write (see InTx), that cannot leave
// half of something behind that a later call does not finish, since every
// statement is a no-op where its object exists.
func (db *DB) EnsureOnce(ctx context.Context, key any, create func(tx *DB) error) error {
	done := db.ensured()
	if _, ok := done.Load(key); ok {
		return nil
	}
	if err := db.ensureRun(ctx, create); err != nil {
		return err
	}
	if db.remembers() {
		done.Store(key, struct{}{})
	}
	return nil
}

// ensureRun runs create under the schema lock, as EnsureOnce describes.
func (db *DB) ensureRun(ctx context.Context, create func(tx *DB) error) error {
	locked := func(tx *DB) error {
		if lock := tx.d.LockSchema(); lock != "" {
			if _, err := tx.run(ctx, &Statement{Op: OpDDL, SQL: lock}); err != nil {
				return err
			}
		}
		return create(tx)
	}
	if !db.remembers() {
		return locked(db)
	}
	return db.Tx(ctx, func(tx *Tx) error { return locked(tx.DB) })
}

// remembers reports whether db opens (and so knows the fate of) the
// transactions EnsureOnce runs in.
func (db *DB) remembers() bool {
	_, canBegin := db.exec.(dialect.Beginner)
	return canBegin && !db.IsTx()
}

// EnsureSchema creates the schema's tables and indexes that do not exist
// yet, in one transaction. It never alters or drops anything: changing an
// existing table is the migrate package's work.
//
// It is cheap enough to call on every request: once it has succeeded for a
// DB (or one sharing its Memo) and a schema, later calls return at once
// without touching the database. The first call (a new process, a new DB)
// lists the existing tables, and when every table is there it stops: no
// transaction, no lock, no DDL. Otherwise it creates what is missing as
// EnsureOnce runs its function: in a transaction, under the schema lock.
//
// On a caller's transaction (a *sql.Tx, such as a bun.Tx's) or an
// executor that cannot begin one, the statements run on the executor
// itself, and nothing is remembered, as for EnsureOnce.
func EnsureSchema(ctx context.Context, s *Schema, db *DB) error {
	if s == nil || db == nil {
		return fmt.Errorf("plasma: EnsureSchema: nil schema or database")
	}
	key := schemaKey{s}
	done := db.ensured()
	if _, ok := done.Load(key); ok {
		return nil
	}
	existing, err := ExistingTables(ctx, db)
	if err != nil {
		return fmt.Errorf("plasma: EnsureSchema %s: %w", s.version, err)
	}
	if !allExist(s, existing) {
		if err := db.ensureRun(ctx, func(tx *DB) error { return createMissing(ctx, s, tx) }); err != nil {
			return fmt.Errorf("plasma: EnsureSchema %s: %w", s.version, err)
		}
	}
	if db.remembers() {
		done.Store(key, struct{}{})
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

// ForgetEnsured drops what EnsureSchema and EnsureOnce remember of db
// (every schema and every set of bookkeeping objects: the change log's,
// the sync server's, the realtime hub's), so the next calls check the
// database again (after a test drops tables, say). It acts on the Memo db
// shares with the DBs made from it; another DB made with New on the same
// pool remembers on its own.
func ForgetEnsured(db *DB) {
	MemoForget(db.memo, ensuredKey)
}

// createMissing creates the tables of s that db's database lacks. It runs
// under the schema lock (ensureRun), so it lists the tables again: another
// process may have created them since the first look.
func createMissing(ctx context.Context, s *Schema, db *DB) error {
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
			var deferred []tabledef.Column
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
func withoutForwardRefs(def *tabledef.Table, exists map[string]bool) (*tabledef.Table, []tabledef.Column) {
	var deferred []tabledef.Column
	var cols []tabledef.Column
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
