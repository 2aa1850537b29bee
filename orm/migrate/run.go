package migrate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/internal/capture"
	"github.com/plasma-go/plasma/orm"
)

// Options tunes Run.
type Options struct {
	// Allow names the destructive steps Run may apply, and declares
	// renames. Nothing destructive is ever applied without one.
	Allow []Allowance
	// DryRun computes the diff and the SQL without applying anything or
	// returning RefusedError: the steps say which would be refused.
	DryRun bool
	// Progress, if set, is called after each step is applied, inside the
	// migration's transaction (so before it commits). It must not use the
	// database: on a single-connection pool (SQLite ":memory:") it would
	// wait for Run's own connection.
	Progress func(Step)
}

// RefusedError is Run's error when the diff holds a destructive step
// no Allowance names, or a step that cannot be applied. Nothing was
// applied. Match it with errors.As.
type RefusedError struct {
	// Diff is the whole diff; Diff.Refused() lists the steps at fault.
	Diff *SchemaDiff
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	refused := e.Diff.Refused()
	fmt.Fprintf(&b, "plasma: migration to schema version %s refused, nothing applied: %d step(s) need attention", e.Diff.DeclaredVersion, len(refused))
	hint := false
	for _, s := range refused {
		b.WriteString("\n  ")
		if s.Blocked != "" {
			fmt.Fprintf(&b, "%s: cannot be applied: %s", s.ID(), s.Blocked)
			continue
		}
		fmt.Fprintf(&b, "%s is destructive", s.ID())
		if s.From != "" || s.To != "" {
			fmt.Fprintf(&b, " (%s -> %s)", orNone(s.From), orNone(s.To))
		}
		fmt.Fprintf(&b, ": to apply it, name it in Options.Allow (with migratecli: -allow %q)", s.ID())
		hint = hint || s.Op == OpDropColumn || s.Op == OpDropTable
	}
	if hint {
		b.WriteString("\n  (renames are never guessed: a renamed column or table shows as a drop and an add; declare it with AllowRenameColumn or AllowRenameTable)")
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Diff compares the schema with db's database and returns the steps Run
// would apply, with their SQL, without applying anything. It is Run with
// DryRun set.
func Diff(ctx context.Context, s *orm.Schema, db *orm.DB, opts Options) (*SchemaDiff, error) {
	opts.DryRun = true
	return Run(ctx, s, db, opts)
}

// Run brings db's database to schema s: it introspects the database,
// computes the SchemaDiff and, unless the diff is refused, applies it in
// one transaction and records the schema's version in MetaTable.
//
// Additive steps are applied as they come. A destructive step is applied
// only if opts.Allow names it; otherwise Run returns a *RefusedError
// carrying the diff and applies nothing at all. Steps that cannot work
// (a NOT NULL column without a default added to a table with rows, say)
// are refused the same way.
//
// Run holds the schema lock for the whole transaction: on PostgreSQL the
// advisory lock EnsureSchema also takes, on SQLite the write lock of an
// immediate transaction. A second Run waits, then finds nothing to do. On
// SQLite, foreign key enforcement is turned off on Run's connection for
// the transaction, as table rebuilds require, and the affected tables'
// foreign keys are checked before committing.
//
// db must be a pool (orm.Open, or orm.New on a
// *sql.DB) or a *sql.Conn, not a transaction: Run takes a connection of
// its own. Its statements run on that connection directly, not through
// db's middleware; opts.Progress reports them. Tables whose names start
// with orm.ReservedPrefix are plasma's and are left alone, as are
// tables the schema does not declare and plasma did not create (see
// SchemaDiff.Untracked).
//
// On a database whose writes are captured into the change log
// (changelog.EnsureCapture), Run drops the capture triggers before it
// changes any table and installs them for s in the same transaction, so
// that they follow added, dropped and renamed tables and columns.
//
// The returned diff is the one found; its Applied field says whether Run
// committed it.
func Run(ctx context.Context, s *orm.Schema, db *orm.DB, opts Options) (*SchemaDiff, error) {
	if s == nil || db == nil {
		return nil, fmt.Errorf("plasma: migrate: nil schema or database")
	}
	d := db.Dialect()
	ses, err := begin(ctx, db, !opts.DryRun)
	if err != nil {
		return nil, err
	}
	defer ses.end()
	live, err := introspect(ctx, ses.ex, d)
	if err != nil {
		return nil, err
	}
	m, err := readMeta(ctx, ses.ex, d, live)
	if err != nil {
		return nil, err
	}
	applySnapshot(live, m.snapshot, d)
	diff := compare(d, s, live, m.snapshot, opts.Allow)
	diff.RecordedVersion = m.version
	if err := checkData(ctx, ses.ex, s, live, diff); err != nil {
		return nil, err
	}
	p, err := buildPlan(d, s, live, diff)
	if err != nil {
		return nil, err
	}
	p.reorder(diff)
	diff.SQL = p.sql()
	if opts.DryRun {
		return diff, nil
	}
	if len(diff.Refused()) > 0 {
		return diff, &RefusedError{Diff: diff}
	}
	snap := snapshotOf(s)
	if diff.Empty() && m.version == s.Version() && snapshotsEqual(m.snapshot, snap) {
		return diff, nil
	}
	capturing, err := dropCapture(ctx, ses, len(p.actions) > 0)
	if err != nil {
		return diff, err
	}
	for _, a := range p.actions {
		if err := ses.apply(ctx, a); err != nil {
			return diff, fmt.Errorf("plasma: migrate: %s: %w (nothing applied)", stepIDs(diff, a.steps), err)
		}
		if opts.Progress != nil {
			for _, i := range a.steps {
				opts.Progress(diff.Steps[i])
			}
		}
	}
	if err := ses.checkForeignKeys(ctx, p.fkCheck); err != nil {
		return diff, err
	}
	if capturing != nil {
		if err := capture.Sync(ctx, ses.ex, d, s.Tables(), *capturing); err != nil {
			return diff, fmt.Errorf("plasma: migrate: %w (nothing applied)", err)
		}
	}
	if err := writeMeta(ctx, ses.ex, d, s.Version(), snap); err != nil {
		return diff, err
	}
	if err := ses.commit(); err != nil {
		return diff, fmt.Errorf("plasma: migrate: commit: %w", err)
	}
	diff.Applied = true
	return diff, nil
}

func stepIDs(diff *SchemaDiff, idx []int) string {
	if len(idx) == 0 {
		return "foreign keys between new tables"
	}
	ids := make([]string, len(idx))
	for i, j := range idx {
		ids[i] = diff.Steps[j].ID()
	}
	return strings.Join(ids, ", ")
}

// checkData blocks the steps the data rules out: a NOT NULL column
// without a default added to a table that has rows, and NOT NULL set on a
// column that holds NULLs.
func checkData(ctx context.Context, ex dialect.Executor, s *orm.Schema, live *Database, diff *SchemaDiff) error {
	liveName := func(table string) string {
		for _, st := range diff.Steps {
			if st.Op == OpRenameTable && st.NewName == table {
				return st.Table
			}
		}
		return table
	}
	exists := func(query string) (bool, error) {
		var n int
		err := queryRows(ctx, ex, "SELECT CASE WHEN EXISTS ("+query+") THEN 1 ELSE 0 END", nil,
			func(r *sql.Rows) error { return r.Scan(&n) })
		return n == 1, err
	}
	for i := range diff.Steps {
		st := &diff.Steps[i]
		switch st.Op {
		case OpAddColumn:
			c := s.Table(st.Table).Def().Column(st.Name)
			if c.Nullable || c.AutoIncrement || c.HasDefault && c.Default != nil {
				continue
			}
			has, err := exists("SELECT 1 FROM " + q(liveName(st.Table)))
			if err != nil {
				return fmt.Errorf("plasma: migrate: count rows of %s: %w", st.Table, err)
			}
			if has {
				st.Blocked = fmt.Sprintf("column %s is NOT NULL without a default and table %s has rows, which would have no value for it: give the column a default or make it nullable",
					identText(st.Name), identText(st.Table))
			}
		case OpSetNotNull:
			l := live.Table(liveName(st.Table))
			col := st.Name
			for _, r := range diff.Steps {
				if r.Op == OpRenameColumn && r.Table == st.Table && r.NewName == st.Name {
					col = r.Name
				}
			}
			if l == nil || l.Column(col) == nil {
				continue
			}
			has, err := exists("SELECT 1 FROM " + q(l.Name) + " WHERE " + q(col) + " IS NULL")
			if err != nil {
				return fmt.Errorf("plasma: migrate: check NULLs in %s.%s: %w", st.Table, st.Name, err)
			}
			if has {
				st.Blocked = fmt.Sprintf("column %s holds NULLs, so it cannot be made NOT NULL: update those rows first", identText(st.Name))
			}
		}
	}
	return nil
}

// session is Run's connection and transaction.
type session struct {
	d       dialect.Dialect
	conn    *sql.Conn
	ownConn bool
	tx      *sql.Tx          // PostgreSQL
	ex      dialect.Executor // tx, or conn inside BEGIN (SQLite)
	db      *orm.DB          // the caller's DB on ex: steps go through its middleware
	open    bool             // a transaction is open
	restore []string         // SQLite pragmas to run after the transaction
}

// begin takes a connection and starts the migration's transaction, with
// the schema lock when lock is set.
func begin(ctx context.Context, db *orm.DB, lock bool) (*session, error) {
	if db.IsTx() {
		return nil, fmt.Errorf("plasma: migrate: Run needs a connection pool, not a transaction: it runs its own")
	}
	s := &session{d: db.Dialect()}
	switch e := db.Executor().(type) {
	case *sql.DB:
		c, err := e.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("plasma: migrate: connect: %w", err)
		}
		s.conn, s.ownConn = c, true
	case *sql.Conn:
		s.conn = e
	default:
		return nil, fmt.Errorf("plasma: migrate: Run needs a *sql.DB or *sql.Conn executor, not %T", e)
	}
	if err := s.start(ctx, lock); err != nil {
		s.end()
		return nil, err
	}
	s.db = db.WithExecutor(s.ex)
	return s, nil
}

func (s *session) start(ctx context.Context, lock bool) error {
	switch s.d.Name() {
	case "sqlite":
		var fk int
		if err := s.conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
			return fmt.Errorf("plasma: migrate: %w", err)
		}
		if fk != 0 && lock {
			// PRAGMA foreign_keys cannot change inside a transaction.
			if _, err := s.conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
				return fmt.Errorf("plasma: migrate: %w", err)
			}
			s.restore = append(s.restore, "PRAGMA foreign_keys = ON")
		}
		var legacy int
		if err := s.conn.QueryRowContext(ctx, "PRAGMA legacy_alter_table").Scan(&legacy); err != nil {
			return fmt.Errorf("plasma: migrate: %w", err)
		}
		if legacy != 0 {
			if _, err := s.conn.ExecContext(ctx, "PRAGMA legacy_alter_table = OFF"); err != nil {
				return fmt.Errorf("plasma: migrate: %w", err)
			}
		}
		// A rebuild turns it on inside the transaction, and a rollback
		// does not undo a pragma: always put it back.
		restore := "PRAGMA legacy_alter_table = OFF"
		if legacy != 0 {
			restore = "PRAGMA legacy_alter_table = ON"
		}
		s.restore = append(s.restore, restore)
		beginSQL := "BEGIN"
		if lock {
			beginSQL = "BEGIN IMMEDIATE" // take the write lock now: Runs take turns
		}
		if _, err := s.conn.ExecContext(ctx, beginSQL); err != nil {
			return fmt.Errorf("plasma: migrate: begin: %w", err)
		}
		s.ex, s.open = s.conn, true
	default:
		tx, err := s.conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("plasma: migrate: begin: %w", err)
		}
		s.tx, s.ex, s.open = tx, tx, true
		if l := s.d.LockSchema(); l != "" && lock {
			if _, err := tx.ExecContext(ctx, l); err != nil {
				return fmt.Errorf("plasma: migrate: schema lock: %w", err)
			}
		}
	}
	return nil
}

func (s *session) commit() error {
	s.open = false
	if s.tx != nil {
		return s.tx.Commit()
	}
	if _, err := s.conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		_, _ = s.conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	return nil
}

// end rolls back an open transaction, restores the connection's settings
// and releases it. A connection whose settings cannot be restored is
// discarded rather than returned to the pool.
func (s *session) end() {
	ctx := context.Background()
	bad := false
	if s.open {
		s.open = false
		if s.tx != nil {
			_ = s.tx.Rollback()
		} else if _, err := s.conn.ExecContext(ctx, "ROLLBACK"); err != nil && !strings.Contains(err.Error(), "no transaction") {
			bad = true
		}
	}
	for _, p := range s.restore {
		if _, err := s.conn.ExecContext(ctx, p); err != nil {
			bad = true
		}
	}
	if bad {
		_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	if s.ownConn {
		_ = s.conn.Close()
	}
}

func (s *session) exec(ctx context.Context, st stmt) error {
	if strings.HasPrefix(st.sql, "--") {
		return nil
	}
	// Through the caller's middleware chain, as every plasma statement.
	if _, err := s.db.Run(ctx, &orm.Statement{Op: orm.OpDDL, SQL: st.sql, Args: st.args}); err != nil {
		return fmt.Errorf("%w (sql: %s)", err, st.sql)
	}
	return nil
}

func (s *session) apply(ctx context.Context, a action) error {
	for _, st := range a.stmts {
		if err := s.exec(ctx, st); err != nil {
			return err
		}
	}
	if a.rebuild != nil {
		return s.execRebuild(ctx, a.rebuild)
	}
	return nil
}

// execRebuild runs a SQLite table rebuild (see sqliteRebuild).
func (s *session) execRebuild(ctx context.Context, rb *rebuild) error {
	// Remember the indexes and triggers to recreate: all but the declared
	// indexes, which are created from the schema.
	var keep []string
	err := queryRows(ctx, s.ex, `SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name`,
		[]any{rb.table}, func(r *sql.Rows) error {
			var typ, name, text string
			if err := r.Scan(&typ, &name, &text); err != nil {
				return err
			}
			if typ == "index" && slices.ContainsFunc(rb.indexes, func(ddl string) bool { return indexNamed(ddl, name) }) {
				return nil
			}
			keep = append(keep, text)
			return nil
		})
	if err != nil {
		return err
	}
	var seq sql.NullInt64
	if rb.autoinc {
		err := queryRows(ctx, s.ex, `SELECT seq FROM sqlite_sequence WHERE name = ?`, []any{rb.table},
			func(r *sql.Rows) error { return r.Scan(&seq) })
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			return err
		}
	}
	stmts := raw("PRAGMA legacy_alter_table = ON", rb.create)
	if rb.copy != "" {
		stmts = append(stmts, stmt{sql: rb.copy})
	}
	stmts = append(stmts, raw("DROP TABLE "+q(rb.table), "ALTER TABLE "+q(rb.tmp)+" RENAME TO "+q(rb.table),
		"PRAGMA legacy_alter_table = OFF")...)
	stmts = append(stmts, raw(rb.indexes...)...)
	stmts = append(stmts, raw(keep...)...)
	if seq.Valid {
		stmts = append(stmts,
			stmt{sql: `UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq < ?`, args: []any{seq.Int64, rb.table, seq.Int64}},
			stmt{sql: `INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?)`,
				args: []any{rb.table, seq.Int64, rb.table}})
	}
	for _, st := range stmts {
		if err := s.exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// indexNamed reports whether a CREATE INDEX statement rendered by
// dialect.CreateIndex creates the named index.
func indexNamed(ddl, name string) bool {
	return strings.Contains(ddl, " INDEX "+q(name)+" ON ")
}

// checkForeignKeys runs SQLite's foreign key check on the tables a
// migration touched; any violation fails the migration.
func (s *session) checkForeignKeys(ctx context.Context, tables []string) error {
	if s.d.Features().Has(dialect.AlterColumn) { // no table was rebuilt
		return nil
	}
	var problems []string
	for _, t := range tables {
		err := queryRows(ctx, s.ex, `SELECT "table", rowid, parent FROM pragma_foreign_key_check(?)`, []any{t},
			func(r *sql.Rows) error {
				var table, parent string
				var rowid sql.NullInt64
				if err := r.Scan(&table, &rowid, &parent); err != nil {
					return err
				}
				if len(problems) < 10 {
					problems = append(problems, fmt.Sprintf("%s row %d references a missing row of %s", identText(table), rowid.Int64, identText(parent)))
				}
				return nil
			})
		if err != nil {
			return fmt.Errorf("plasma: migrate: foreign key check of %s: %w", t, err)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("plasma: migrate: %w: %s (nothing applied)", ErrForeignKeyViolation, strings.Join(problems, "; "))
	}
	return nil
}

// ErrForeignKeyViolation is returned (wrapped) by Run on SQLite when the
// migrated tables would hold rows whose foreign keys point nowhere; the
// migration is rolled back.
var ErrForeignKeyViolation = errors.New("foreign key violations after the migration")

// dropCapture prepares a migration of a database whose writes are
// captured into the change log (changelog.EnsureCapture): it drops the
// capture triggers before the tables change (SQLite refuses to drop a
// column a trigger names, and PostgreSQL's would name columns that are
// gone) and returns the region they log under, so that Run installs them
// again for the new schema, in the same transaction. It returns nil for a
// database that does not capture, or when nothing changes.
func dropCapture(ctx context.Context, ses *session, changes bool) (*string, error) {
	if !capture.Supported(ses.d) {
		return nil, nil
	}
	region, ok, err := capture.Installed(ctx, ses.ex, ses.d)
	if err != nil || !ok {
		return nil, err
	}
	if changes {
		if err := capture.Drop(ctx, ses.ex, ses.d); err != nil {
			return nil, fmt.Errorf("plasma: migrate: %w (nothing applied)", err)
		}
	}
	return &region, nil
}
