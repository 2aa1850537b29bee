package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/sync/realtime"
	"github.com/plasma-go/plasma/sync/server"
)

var (
	ensNotes  = orm.NewTable("ens_notes", orm.ID(), orm.Text("body"))
	ensSchema = orm.MustDefineSchema("ens-1", ensNotes)
)

// ddlLog is a middleware recording every statement's SQL.
type ddlLog struct {
	mu  sync.Mutex
	sql []string
}

func (l *ddlLog) mw(next orm.Handler) orm.Handler {
	return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
		l.mu.Lock()
		l.sql = append(l.sql, st.SQL)
		l.mu.Unlock()
		return next(ctx, st)
	}
}

func (l *ddlLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sql
	l.sql = nil
	return out
}

// ensureAll ensures every set of objects plasma keeps: the app's schema,
// the change log, the sync server's tables and the realtime trigger.
func ensureAll(t *testing.T, db *orm.DB) {
	t.Helper()
	ctx := context.Background()
	if err := orm.EnsureSchema(ctx, ensSchema, db); err != nil {
		t.Fatal(err)
	}
	if err := server.Ensure(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := realtime.Ensure(ctx, db); err != nil { // the change log too
		t.Fatal(err)
	}
}

// creates counts, per object, the statements that create it.
func creates(stmts []string) map[string]int {
	re := regexp.MustCompile(`^CREATE (?:UNIQUE )?(?:TABLE|INDEX|OR REPLACE FUNCTION) (?:IF NOT EXISTS )?"([^"]+)"`)
	n := map[string]int{}
	for _, s := range stmts {
		if m := re.FindStringSubmatch(s); m != nil {
			n[m[1]]++
		}
		if strings.Contains(s, "CREATE TRIGGER") {
			n["trigger"]++
		}
	}
	return n
}

// TestEnsureOnceAndForget: ensuring twice is one round of DDL, and
// ForgetEnsured, on any DB sharing the first's Memo, makes the next round
// run again for every set of bookkeeping objects.
func TestEnsureOnceAndForget(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		log := &ddlLog{}
		db := orm.New(tg.SQL, tg.Dialect, log.mw)
		ensureAll(t, db)
		first := creates(log.take())
		want := []string{"ens_notes", changelog.LogTable, server.GroupsTable, server.GroupsTable + "_user",
			server.ClientsTable, server.CVRsTable, server.CountersTable, server.WritesTable, server.SeenTable}
		if tg.Name == "postgres" {
			want = append(want, changelog.RegionTable, "_plasma_publish", realtime.NotifyFunction, "trigger")
		}
		// _plasma_publish is made in two forms: the one-argument one is
		// older plasma's, kept for processes still running it.
		times := func(name string) int {
			if name == "_plasma_publish" {
				return 2
			}
			return 1
		}
		for _, name := range want {
			if first[name] != times(name) {
				t.Errorf("first round created %s %d times, want %d: %v", name, first[name], times(name), first)
			}
		}

		ensureAll(t, db)
		ensureAll(t, db.Use())
		if again := log.take(); len(again) != 0 {
			t.Errorf("second round sent %d statements: %q", len(again), again)
		}

		orm.ForgetEnsured(db.Use())
		ensureAll(t, db)
		redo := creates(log.take())
		for _, name := range want {
			if name != "ens_notes" && redo[name] != times(name) {
				t.Errorf("after ForgetEnsured %s was created %d times, want %d: %v", name, redo[name], times(name), redo)
			}
		}
		if redo["ens_notes"] != 0 {
			t.Error("EnsureSchema re-created an existing table")
		}
	})
}

// TestEnsureInCallerTxRemembersNothing: ensured inside a caller's
// transaction that rolls back, the bookkeeping is created by the next
// call.
func TestEnsureInCallerTxRemembersNothing(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		log := &ddlLog{}
		db := orm.New(tg.SQL, tg.Dialect, log.mw)
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := server.Ensure(ctx, tx.DB); err != nil {
			t.Fatal(err)
		}
		tx.Rollback()
		log.take()
		if err := server.Ensure(ctx, db); err != nil {
			t.Fatal(err)
		}
		if n := creates(log.take())[server.GroupsTable]; n != 1 {
			t.Errorf("after a rolled-back ensure, %d CREATE of %s", n, server.GroupsTable)
		}
	})
}

// TestTwoEnginesOneProcess: a SQLite and a PostgreSQL DB in one process,
// with one change-log middleware and one table, keep their own ensured
// sets and their own rendered statements.
func TestTwoEnginesOneProcess(t *testing.T) {
	ctx := context.Background()
	lite, pg := ormtest.SQLite(t), ormtest.Postgres(t)
	ensureAll(t, lite.DB)
	log := &ddlLog{}
	pgdb := pg.DB.Use(log.mw)
	ensureAll(t, pgdb)
	if n := creates(log.take())[changelog.LogTable]; n != 1 {
		t.Fatalf("PostgreSQL skipped its log after SQLite's: %d CREATE", n)
	}
	mw := changelog.Middleware(changelog.Options{Schema: ensSchema})
	for i := range 3 {
		for _, tg := range []*ormtest.Target{lite, pg} {
			id := fmt.Sprintf("%s-%d", tg.Name, i)
			if _, err := tg.DB.Use(mw).Insert(ensNotes).Values(orm.Row{"id": id, "body": "b"}).Exec(ctx); err != nil {
				t.Fatalf("%s: %v", id, err)
			}
		}
	}
	for _, tg := range []*ormtest.Target{lite, pg} {
		cs, _, err := changelog.ChangesSince(ctx, tg.DB, changelog.DefaultRegion, 0, 0)
		if err != nil || len(cs) != 3 || !strings.HasPrefix(cs[0].RowID, tg.Name) {
			t.Errorf("%s: %d changes, %v", tg.Name, len(cs), err)
		}
	}
}

// legacyDDL is how the change log and the sync server created their
// tables before they were declared as table definitions, verbatim.
func legacyDDL(postgres bool) []string {
	blob, big := "BLOB", "BIGINT"
	if postgres {
		blob = "BYTEA"
	}
	var log []string
	if postgres {
		log = []string{`CREATE TABLE IF NOT EXISTS "_plasma_changes" (
	"id" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	"version" BIGINT,
	"region" TEXT NOT NULL,
	"table_name" TEXT NOT NULL,
	"row_id" TEXT NOT NULL,
	"op" TEXT NOT NULL,
	"data" TEXT,
	"client_id" TEXT,
	"mutation_id" BIGINT
)`,
			`CREATE UNIQUE INDEX IF NOT EXISTS "_plasma_changes_region_version" ON "_plasma_changes" ("region", "version")`,
			`CREATE INDEX IF NOT EXISTS "_plasma_changes_pending" ON "_plasma_changes" ("region", "id") WHERE "version" IS NULL`,
			`CREATE TABLE IF NOT EXISTS "_plasma_region_versions" (
	"region" TEXT PRIMARY KEY,
	"version" BIGINT NOT NULL
)`,
			// Added with publications that cover their readers; Ensure
			// adds it to a region table made before (TestRegionTableGainsCovered).
			`ALTER TABLE "_plasma_region_versions" ADD COLUMN "covered" BIGINT`,
			// Added with scoped pulls; Ensure adds it to a log made
			// before (TestLogGainsScope).
			`ALTER TABLE "_plasma_changes" ADD COLUMN "scope" TEXT`}
	} else {
		log = []string{`CREATE TABLE IF NOT EXISTS "_plasma_changes" (
	"version" INTEGER PRIMARY KEY AUTOINCREMENT,
	"region" TEXT NOT NULL,
	"table_name" TEXT NOT NULL,
	"row_id" TEXT NOT NULL,
	"op" TEXT NOT NULL,
	"data" TEXT,
	"client_id" TEXT,
	"mutation_id" BIGINT
)`}
	}
	return append(log,
		`CREATE TABLE IF NOT EXISTS "`+server.GroupsTable+`" (
	"id" TEXT PRIMARY KEY,
	"user_id" TEXT NOT NULL,
	"created_at" `+big+` NOT NULL
)`,
		`CREATE TABLE IF NOT EXISTS "`+server.ClientsTable+`" (
	"id" TEXT PRIMARY KEY,
	"group_id" TEXT NOT NULL,
	"last_mutation_id" `+big+` NOT NULL,
	"updated_at" `+big+` NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS "`+server.GroupsTable+`_user" ON "`+server.GroupsTable+`" ("user_id")`,
		`CREATE INDEX IF NOT EXISTS "`+server.ClientsTable+`_group" ON "`+server.ClientsTable+`" ("group_id")`,
		`CREATE TABLE IF NOT EXISTS "`+server.CVRsTable+`" (
	"group_id" TEXT NOT NULL,
	"ord" `+big+` NOT NULL,
	"cvr" TEXT NOT NULL,
	"user_id" TEXT NOT NULL,
	"meta" TEXT NOT NULL,
	"entries" `+blob+` NOT NULL,
	"created_at" `+big+` NOT NULL,
	PRIMARY KEY ("group_id", "ord")
)`,
		`CREATE TABLE IF NOT EXISTS "`+server.CountersTable+`" (
	"name" TEXT PRIMARY KEY,
	"value" `+big+` NOT NULL
)`,
		`CREATE TABLE IF NOT EXISTS "`+server.WritesTable+`" (
	"group_id" TEXT NOT NULL,
	"row_key" TEXT NOT NULL,
	"hash" BIGINT NOT NULL,
	PRIMARY KEY ("group_id", "row_key")
)`,
		`CREATE TABLE IF NOT EXISTS "`+server.SeenTable+`" (
	"group_id" TEXT PRIMARY KEY,
	"seen_at" BIGINT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS "`+server.SeenTable+`_seen_at" ON "`+server.SeenTable+`" ("seen_at")`)
}

// describe lists a table's columns (name, type, nullability, key
// position, identity), indexes (name, uniqueness, columns, predicate) and
// AUTOINCREMENT, as the database reports them.
func describe(t *testing.T, tg *ormtest.Target, table string) []string {
	t.Helper()
	var q []string
	if tg.Name == "postgres" {
		q = []string{
			`SELECT c.column_name || ' ' || c.data_type || ' null=' || c.is_nullable || ' identity=' || coalesce(c.identity_generation, '') ||
				' pk=' || coalesce((SELECT k.ordinal_position::text FROM information_schema.key_column_usage k
					JOIN information_schema.table_constraints tc ON tc.constraint_name = k.constraint_name AND tc.table_schema = k.table_schema
					WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema AND k.table_name = c.table_name AND k.column_name = c.column_name), '')
			FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position`,
			`SELECT indexname || ': ' || regexp_replace(indexdef, ' ON \S+\.', ' ON ') FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1 ORDER BY indexname`,
		}
	} else {
		// A text key declared PRIMARY KEY alone is nullable on SQLite;
		// the table definitions declare their keys NOT NULL, as
		// PostgreSQL makes them. So nullability is compared off the key.
		q = []string{
			`SELECT name || ' ' || type || ' notnull=' || CASE WHEN pk > 0 THEN '-' ELSE "notnull" END || ' pk=' || pk FROM pragma_table_info(?1) ORDER BY cid`,
			`SELECT l.name || ' unique=' || l."unique" || ' origin=' || l.origin || ' partial=' || l.partial || ' (' ||
				(SELECT group_concat(i.name, ',') FROM pragma_index_info(l.name) i) || ')' FROM pragma_index_list(?1) l ORDER BY l.name`,
			`SELECT 'autoincrement=' || (instr(upper(sql), 'AUTOINCREMENT') > 0) FROM sqlite_master WHERE type = 'table' AND name = ?1`,
		}
	}
	var out []string
	for _, query := range q {
		rows, err := tg.SQL.Query(query, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s sql.NullString
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s.String)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestBookkeepingDDLUnchanged: the tables rendered from their definitions
// have the columns, types, keys and indexes the hand-written DDL gave
// them, on both engines; and a database made by the old DDL is taken as
// it is.
func TestBookkeepingDDLUnchanged(t *testing.T) {
	tables := []string{changelog.LogTable, server.GroupsTable, server.ClientsTable, server.CVRsTable,
		server.CountersTable, server.WritesTable, server.SeenTable}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			target := ormtest.SQLite
			if engine == "postgres" {
				target = ormtest.Postgres
			}
			before, after := target(t), target(t)
			for _, stmt := range legacyDDL(engine == "postgres") {
				if _, err := before.SQL.ExecContext(ctx, stmt); err != nil {
					t.Fatal(err)
				}
			}
			if err := changelog.Ensure(ctx, after.DB); err != nil {
				t.Fatal(err)
			}
			if err := server.Ensure(ctx, after.DB); err != nil {
				t.Fatal(err)
			}
			names := tables
			if engine == "postgres" {
				names = append(slices.Clone(tables), changelog.RegionTable)
			}
			old := map[string][]string{}
			for _, name := range names {
				old[name] = describe(t, before, name)
				if got := describe(t, after, name); !slices.Equal(got, old[name]) {
					t.Errorf("%s:\nold DDL %q\nnew DDL %q", name, old[name], got)
				}
			}
			// The old database: ensuring changes nothing, and it works.
			if err := changelog.Ensure(ctx, before.DB); err != nil {
				t.Fatal(err)
			}
			if err := server.Ensure(ctx, before.DB); err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				if got := describe(t, before, name); !slices.Equal(got, old[name]) {
					t.Errorf("%s changed by ensuring: %q", name, got)
				}
			}
		})
	}
}

// TestRegionTableGainsCovered: ensuring the change log on a PostgreSQL
// database whose region table predates the covered column adds it, and
// publishing works on it.
func TestRegionTableGainsCovered(t *testing.T) {
	ctx := context.Background()
	tg := ormtest.Postgres(t)
	if _, err := tg.SQL.ExecContext(ctx, `CREATE TABLE "_plasma_region_versions" ("region" TEXT PRIMARY KEY, "version" BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.SQL.ExecContext(ctx, `INSERT INTO "_plasma_region_versions" VALUES ('default', 7)`); err != nil {
		t.Fatal(err)
	}
	if err := changelog.Ensure(ctx, tg.DB); err != nil {
		t.Fatal(err)
	}
	if got := describe(t, tg, changelog.RegionTable); !slices.Contains(got, "covered bigint null=YES identity= pk=") {
		t.Fatalf("region table after Ensure: %q", got)
	}
	if v, err := changelog.Head(ctx, tg.DB, ""); err != nil || v != 7 {
		t.Fatalf("head %d, %v; want 7", v, err)
	}
}

// TestLogGainsScope: on PostgreSQL, Ensure adds the scope column to a
// change log made before it existed; the rows already there have none,
// so every pull reads them.
func TestLogGainsScope(t *testing.T) {
	ctx := context.Background()
	tg := ormtest.Postgres(t)
	for _, stmt := range legacyDDL(true)[:3] {
		if _, err := tg.SQL.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tg.SQL.ExecContext(ctx, `INSERT INTO "_plasma_changes" ("version", "region", "table_name", "row_id", "op") VALUES (1, 'default', 'todos', 't1', 'del')`); err != nil {
		t.Fatal(err)
	}
	if err := changelog.Ensure(ctx, tg.DB); err != nil {
		t.Fatal(err)
	}
	if got := describe(t, tg, changelog.LogTable); !slices.Contains(got, "scope text null=YES identity= pk=") {
		t.Fatalf("log after Ensure: %q", got)
	}
	var n int
	if err := tg.SQL.QueryRowContext(ctx, `SELECT count(*) FROM "_plasma_changes" WHERE "scope" IS NULL`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows without a scope, %v; want 1", n, err)
	}
}

// TestOrderSequenceStartsAboveCounter: on a PostgreSQL database whose
// cookie orders came from the counter row (older plasma), the order
// sequence Ensure creates starts above the counter, and ensuring again
// leaves it where it is.
func TestOrderSequenceStartsAboveCounter(t *testing.T) {
	ctx := context.Background()
	tg := ormtest.Postgres(t)
	if _, err := tg.SQL.ExecContext(ctx, `CREATE TABLE "`+server.CountersTable+`" ("name" TEXT PRIMARY KEY, "value" BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tg.SQL.ExecContext(ctx, `INSERT INTO "`+server.CountersTable+`" VALUES ('cookie_order', 500)`); err != nil {
		t.Fatal(err)
	}
	if err := server.Ensure(ctx, tg.DB); err != nil {
		t.Fatal(err)
	}
	next := func() int64 {
		var n int64
		if err := tg.SQL.QueryRowContext(ctx, `SELECT nextval('"`+server.OrderSequence+`"')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := next(); n != 501 {
		t.Fatalf("first order %d, want 501", n)
	}
	orm.ForgetEnsured(tg.DB)
	if err := server.Ensure(ctx, tg.DB); err != nil {
		t.Fatal(err)
	}
	if n := next(); n != 502 {
		t.Fatalf("order after ensuring again %d, want 502", n)
	}
}
