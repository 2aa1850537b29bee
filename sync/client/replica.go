package client

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

// The replica's bookkeeping tables. User tables keep their own names and
// hold the optimistic view; _plasma_srv_<table> holds the server's state.
const (
	metaTable    = "_plasma_client"
	outboxTable  = "_plasma_outbox"
	dirtyTable   = "_plasma_dirty"
	shadowPrefix = "_plasma_srv_"
)

var memSeq atomic.Uint64

// openSQLite opens the replica's pool. Foreign keys are not enforced: the
// replica holds the part of the server's data the user may read, applied
// in the patch's order, and the server judges every write anyway.
// With secure set (at-rest encryption), SQLite overwrites deleted content,
// so that a cell's clear text, written by a mutator and sealed in the same
// transaction, leaves no trace in the file's free space.
func openSQLite(path string, secure bool) (*sql.DB, error) {
	extra := ""
	if secure {
		extra = "&_pragma=secure_delete(1)"
	}
	if path == "" {
		db, err := sql.Open("sqlite", "file:plasma-client-"+strconv.FormatUint(memSeq.Add(1), 10)+
			"?mode=memory&_pragma=foreign_keys(0)&_txlock=immediate"+extra)
		if err != nil {
			return nil, err
		}
		// SQLite gives each connection its own memory database.
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		return db, nil
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(0)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate" + extra
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("plasma: client: open replica %q: %w", path, err)
	}
	return db, nil
}

// state is the client's sync bookkeeping, mirrored in the meta row.
type state struct {
	schemaVersion string
	group         string
	clientID      string
	cookie        json.RawMessage // nil before the first pull
	lmid          int64           // the server's lastMutationID for clientID
	next          int64           // the id the next local mutation gets
	sentThrough   int64           // the highest id ever handed to the transport
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func freshState(version string) state {
	return state{schemaVersion: version, group: newID("g"), clientID: newID("c"), next: 1}
}

// tableInfo is a synced table's replica plan.
type tableInfo struct {
	t      *orm.Table
	name   string
	quoted string // the user table, quoted
	shadow string // the server-state table, quoted
	cols   []columnInfo
	colSQL string // the quoted column list
	idCol  int
}

type columnInfo struct {
	name      string
	kind      tabledef.Kind
	encrypted bool
}

func planTables(s *orm.Schema) (map[string]*tableInfo, []*tableInfo, error) {
	byName := map[string]*tableInfo{}
	var list []*tableInfo
	for _, t := range s.Tables() {
		if !t.Synced() {
			continue
		}
		ti := &tableInfo{t: t, name: t.Name(), quoted: dialect.QuoteIdent(t.Name()),
			shadow: dialect.QuoteIdent(shadowPrefix + t.Name()), idCol: -1}
		enc := map[string]bool{}
		if def := t.Def(); def != nil {
			for _, c := range def.Columns {
				enc[c.Name] = c.Encrypted
			}
		}
		var q []string
		for i, c := range t.Columns() {
			ti.cols = append(ti.cols, columnInfo{name: c.Name(), kind: c.Kind(), encrypted: enc[c.Name()]})
			q = append(q, dialect.QuoteIdent(c.Name()))
			if c.Name() == "id" {
				ti.idCol = i
			}
		}
		if ti.idCol < 0 {
			return nil, nil, fmt.Errorf("plasma: client: synced table %q has no id column", t.Name())
		}
		ti.colSQL = strings.Join(q, ", ")
		byName[ti.name] = ti
		list = append(list, ti)
	}
	return byName, list, nil
}

// ensureBookkeeping creates the internal tables if they are missing.
func ensureBookkeeping(ctx context.Context, ex dialect.Executor) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + metaTable + ` (k INTEGER PRIMARY KEY CHECK (k = 1),
			schema_version TEXT NOT NULL, group_id TEXT NOT NULL, client_id TEXT NOT NULL, cookie TEXT,
			last_mutation_id INTEGER NOT NULL, next_mutation_id INTEGER NOT NULL, sent_through INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + outboxTable + ` (id INTEGER PRIMARY KEY, name TEXT NOT NULL, args TEXT NOT NULL, ts REAL NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + dirtyTable + ` (tbl TEXT NOT NULL, id NOT NULL, PRIMARY KEY (tbl, id)) WITHOUT ROWID`,
		`CREATE TABLE IF NOT EXISTS ` + quietTable + ` (k INTEGER PRIMARY KEY)`,
	} {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("plasma: client: create bookkeeping: %w", err)
		}
	}
	return nil
}

// ensureShadows creates each synced table's server-state twin (same
// columns, no constraints but a unique id) and the triggers that record
// which rows of the user table a local write touched.
func ensureShadows(ctx context.Context, ex dialect.Executor, tables []*tableInfo) error {
	for _, ti := range tables {
		lit := "'" + strings.ReplaceAll(ti.name, "'", "''") + "'"
		trig := func(suffix string) string {
			return dialect.QuoteIdent("_plasma_dirty_"+ti.name+"_"+suffix) + ` AFTER ` + suffix + ` ON ` + ti.quoted +
				` WHEN NOT EXISTS (SELECT 1 FROM ` + quietTable + `)`
		}
		for _, q := range []string{
			`CREATE TABLE IF NOT EXISTS ` + ti.shadow + ` AS SELECT ` + ti.colSQL + ` FROM ` + ti.quoted + ` WHERE 0`,
			`CREATE UNIQUE INDEX IF NOT EXISTS ` + dialect.QuoteIdent(shadowPrefix+ti.name+"_id") + ` ON ` + ti.shadow + ` ("id")`,
			`CREATE TRIGGER IF NOT EXISTS ` + trig("INSERT") + ` BEGIN INSERT OR IGNORE INTO ` + dirtyTable + ` (tbl, id) VALUES (` + lit + `, NEW."id"); END`,
			`CREATE TRIGGER IF NOT EXISTS ` + trig("UPDATE") + ` BEGIN INSERT OR IGNORE INTO ` + dirtyTable + ` (tbl, id) VALUES (` + lit + `, OLD."id"), (` + lit + `, NEW."id"); END`,
			`CREATE TRIGGER IF NOT EXISTS ` + trig("DELETE") + ` BEGIN INSERT OR IGNORE INTO ` + dirtyTable + ` (tbl, id) VALUES (` + lit + `, OLD."id"); END`,
		} {
			if _, err := ex.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("plasma: client: prepare table %q: %w", ti.name, err)
			}
		}
	}
	return nil
}

// loadState reads the meta row; ok is false when there is none.
func loadState(ctx context.Context, ex dialect.Executor) (st state, ok bool, err error) {
	rows, err := ex.QueryContext(ctx, `SELECT schema_version, group_id, client_id, cookie, last_mutation_id,
		next_mutation_id, sent_through FROM `+metaTable+` WHERE k = 1`)
	if err != nil {
		return st, false, fmt.Errorf("%w: %v", ErrReplica, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return st, false, rows.Err()
	}
	var cookie sql.NullString
	if err := rows.Scan(&st.schemaVersion, &st.group, &st.clientID, &cookie, &st.lmid, &st.next, &st.sentThrough); err != nil {
		return st, false, fmt.Errorf("%w: %v", ErrReplica, err)
	}
	if cookie.Valid {
		st.cookie = json.RawMessage(cookie.String)
	}
	return st, true, rows.Err()
}

// saveState writes the meta row.
func saveState(ctx context.Context, ex dialect.Executor, st state) error {
	var cookie any
	if st.cookie != nil {
		cookie = string(st.cookie)
	}
	_, err := ex.ExecContext(ctx, `INSERT OR REPLACE INTO `+metaTable+` (k, schema_version, group_id, client_id, cookie,
		last_mutation_id, next_mutation_id, sent_through) VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
		st.schemaVersion, st.group, st.clientID, cookie, st.lmid, st.next, st.sentThrough)
	return err
}

// wipe empties the replicated tables, their shadows and the outbox.
func wipe(ctx context.Context, ex dialect.Executor, tables []*tableInfo) error {
	for _, ti := range tables {
		for _, q := range []string{`DELETE FROM ` + ti.quoted, `DELETE FROM ` + ti.shadow} {
			if _, err := ex.ExecContext(ctx, q); err != nil {
				return err
			}
		}
	}
	for _, q := range []string{`DELETE FROM ` + outboxTable, `DELETE FROM ` + dirtyTable, `DELETE FROM ` + unsealedTable} {
		if _, err := ex.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// dropSchemaTables drops the app tables (and their shadows) of a replica
// written under another schema version, so they are made anew.
func dropSchemaTables(ctx context.Context, ex dialect.Executor, s *orm.Schema) error {
	for _, t := range s.Tables() {
		for _, name := range []string{shadowPrefix + t.Name(), t.Name()} {
			if _, err := ex.ExecContext(ctx, `DROP TABLE IF EXISTS `+dialect.QuoteIdent(name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// prepareReplica makes the replica ready: bookkeeping, the app's tables,
// shadows, and the state (a fresh one for a new replica, a reset one for
// a replica of another schema version under SchemaReset). mismatch is
// true when the replica keeps data of another version (SchemaStay).
func prepareReplica(ctx context.Context, db *orm.DB, s *orm.Schema, tables []*tableInfo, policy SchemaPolicy) (st state, mismatch bool, err error) {
	ex := db.Executor()
	if err := ensureBookkeeping(ctx, ex); err != nil {
		return st, false, err
	}
	st, ok, err := loadState(ctx, ex)
	if err != nil {
		return st, false, err
	}
	switch {
	case !ok:
		st = freshState(s.Version())
	case st.schemaVersion != s.Version() && policy == SchemaReset:
		if err := dropSchemaTables(ctx, ex, s); err != nil {
			return st, false, fmt.Errorf("plasma: client: reset replica of schema %q: %w", st.schemaVersion, err)
		}
		if _, err := ex.ExecContext(ctx, `DELETE FROM `+outboxTable); err != nil {
			return st, false, err
		}
		st = freshState(s.Version())
	case st.schemaVersion != s.Version():
		mismatch = true
	}
	if err := orm.EnsureSchema(ctx, s, db); err != nil {
		return st, false, err
	}
	if err := ensureShadows(ctx, ex, tables); err != nil {
		return st, false, err
	}
	if err := saveState(ctx, ex, st); err != nil {
		return st, false, err
	}
	return st, mismatch, nil
}
