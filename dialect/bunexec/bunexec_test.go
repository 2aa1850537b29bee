package bunexec_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"
	bundialect "github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/feature"
	"github.com/uptrace/bun/schema"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/bunexec"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// testDialect is a minimal bun dialect. bun's sqlitedialect and pgdialect
// are separate Go modules that go.mod does not require; bun only needs a
// dialect to format its own queries, which plasma never uses.
type testDialect struct {
	schema.BaseDialect
	name   bundialect.Name
	tables *schema.Tables
}

func newTestDialect(target string) *testDialect {
	d := &testDialect{name: bundialect.SQLite}
	if target == "postgres" {
		d.name = bundialect.PG
	}
	d.tables = schema.NewTables(d)
	return d
}

func (d *testDialect) Init(*sql.DB)                                                     {}
func (d *testDialect) Name() bundialect.Name                                            { return d.name }
func (d *testDialect) Features() feature.Feature                                        { return feature.Returning }
func (d *testDialect) Tables() *schema.Tables                                           { return d.tables }
func (d *testDialect) OnTable(*schema.Table)                                            {}
func (d *testDialect) IdentQuote() byte                                                 { return '"' }
func (d *testDialect) AppendSequence(b []byte, _ *schema.Table, _ *schema.Field) []byte { return b }
func (d *testDialect) DefaultVarcharLen() int                                           { return 0 }
func (d *testDialect) DefaultSchema() string                                            { return "" }

// queryLog records the SQL bun itself runs.
type queryLog struct {
	mu      sync.Mutex
	queries []string
}

func (l *queryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (l *queryLog) AfterQuery(_ context.Context, ev *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries = append(l.queries, ev.Query)
}

func (l *queryLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.queries...)
}

var (
	bxItems  = orm.NewTable("bx_items", orm.ID(), orm.Text("name"), orm.Int("n"))
	bxSchema = orm.MustDefineSchema("bx-1", bxItems)
)

// hostile would break a query that spliced it into the SQL text.
const hostile = `x'); DROP TABLE "bx_items"; -- ? $1`

func bunDB(t *testing.T, tg *ormtest.Target) (*bun.DB, *queryLog) {
	t.Helper()
	log := &queryLog{}
	db := bun.NewDB(tg.SQL, newTestDialect(tg.Name)).WithQueryHook(log)
	return db, log
}

func TestFromDB(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		bdb, log := bunDB(t, tg)
		exec, err := bunexec.From(bdb)
		if err != nil {
			t.Fatal(err)
		}
		if exec != dialect.Executor(tg.SQL) {
			t.Fatalf("From(*bun.DB) = %T %p, want the wrapped *sql.DB %p", exec, exec, tg.SQL)
		}
		if _, ok := exec.(dialect.Beginner); !ok {
			t.Error("From(*bun.DB) cannot begin transactions")
		}
		db := orm.New(exec, tg.Dialect)
		if err := orm.EnsureSchema(ctx, bxSchema, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(bxItems).Values(orm.Row{"id": "a", "name": hostile, "n": 1}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := orm.Maps(ctx, db.Select().From(bxItems).Where(expr.Eq(bxItems.Col("name"), hostile)))
		if err != nil || len(rows) != 1 || rows[0]["name"] != hostile || rows[0]["n"] != int64(1) {
			t.Fatalf("select: %v, %v", rows, err)
		}
		if _, err := db.Update(bxItems).Set(orm.Row{"n": 2}).Where(expr.Eq(bxItems.Col("id"), "a")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		var v string
		rs, err := db.Query(ctx, `SELECT ? || '?'`, hostile)
		if err != nil {
			t.Fatal(err)
		}
		if !rs.Next() || rs.Scan(&v) != nil || v != hostile+"?" {
			t.Errorf("raw query read %q", v)
		}
		rs.Close()

		// None of that went through bun, which would have interpolated
		// the values into the SQL text.
		if q := log.all(); len(q) != 0 {
			t.Errorf("plasma statements went through bun: %q", q)
		}
		// bun's own query methods do interpolate: the reason to bypass them.
		if err := bdb.NewRaw(`SELECT ?`, hostile).Scan(ctx, &v); err != nil || v != hostile {
			t.Fatalf("bun raw: %q %v", v, err)
		}
		if q := log.all(); len(q) != 1 || !strings.Contains(q[0], `DROP TABLE`) {
			t.Errorf("bun's query text %q", q)
		}
	})
}

func TestFromTx(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		bdb, _ := bunDB(t, tg)
		for _, commit := range []bool{false, true} {
			tx, err := bdb.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			exec, err := bunexec.From(tx)
			if err != nil {
				t.Fatal(err)
			}
			if exec != dialect.Executor(tx.Tx) {
				t.Fatalf("From(bun.Tx) = %T, want the wrapped *sql.Tx", exec)
			}
			if p, err := bunexec.From(&tx); err != nil || p != exec {
				t.Errorf("From(*bun.Tx) = %v, %v", p, err)
			}
			db := orm.New(exec, tg.Dialect)
			if err := orm.EnsureSchema(ctx, bxSchema, db); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Insert(bxItems).Values(orm.Row{"id": "t", "name": hostile, "n": 7}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			// bun sees plasma's write inside the transaction.
			var n int
			if err := tx.NewRaw(`SELECT count(*) FROM ? WHERE "name" = ?`, bun.Ident("bx_items"), hostile).Scan(ctx, &n); err != nil || n != 1 {
				t.Fatalf("bun in the same tx counts %d, %v", n, err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			var tables int
			q := `SELECT count(*) FROM sqlite_master WHERE name = 'bx_items'`
			if tg.Name == "postgres" {
				q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'bx_items'`
			}
			if err := tg.SQL.QueryRowContext(ctx, q).Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if !commit && tables != 0 {
				t.Error("rolled-back bun.Tx left the table plasma created in it")
			}
			if commit {
				got, err := orm.Maps(ctx, orm.New(tg.SQL, tg.Dialect).Select().From(bxItems))
				if err != nil || len(got) != 1 || got[0]["name"] != hostile {
					t.Errorf("after commit: %v, %v", got, err)
				}
			}
		}
	})
}

func TestFromConn(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		ctx := context.Background()
		bdb, _ := bunDB(t, tg)
		conn, err := bdb.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		exec, err := bunexec.From(conn)
		if err != nil {
			t.Fatal(err)
		}
		if exec != dialect.Executor(conn.Conn) {
			t.Fatalf("From(bun.Conn) = %T, want the wrapped *sql.Conn", exec)
		}
		if p, err := bunexec.From(&conn); err != nil || p != exec {
			t.Errorf("From(*bun.Conn) = %v, %v", p, err)
		}
		db := orm.New(exec, tg.Dialect)
		if err := orm.EnsureSchema(ctx, bxSchema, db); err != nil {
			t.Fatal(err)
		}
		err = db.Tx(ctx, func(tx *orm.Tx) error {
			_, err := tx.Insert(bxItems).Values(orm.Row{"id": "c", "name": hostile, "n": 3}).Exec(ctx)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := orm.Scalar[int64](ctx, db.Select(expr.CountAll()).From(bxItems).Where(expr.Eq(bxItems.Col("name"), hostile)))
		if err != nil || n != 1 {
			t.Errorf("count %d, %v", n, err)
		}
	})
}

// otherIDB is a bun.IDB From does not know.
type otherIDB struct{ bun.IDB }

func TestFromErrors(t *testing.T) {
	var nilDB *bun.DB
	var nilTx *bun.Tx
	var nilConn *bun.Conn
	for name, idb := range map[string]bun.IDB{
		"nil":           nil,
		"nil *bun.DB":   nilDB,
		"nil *bun.Tx":   nilTx,
		"nil *bun.Conn": nilConn,
		"empty bun.Tx":  bun.Tx{},
		"unknown IDB":   otherIDB{},
	} {
		if exec, err := bunexec.From(idb); err == nil || exec != nil {
			t.Errorf("%s: From = %v, %v; want an error", name, exec, err)
		}
	}
}
