package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// envPostgres names the PostgreSQL URL BenchmarkPostgres runs on, as in
// orm_test: without it the benchmark skips.
const envPostgres = "PLASMA_TEST_POSTGRES"

// pgDriver is one way of reaching PostgreSQL through database/sql.
type pgDriver struct {
	name string
	open func(dsn string) (*sql.DB, error)
}

// pgDrivers are the drivers BenchmarkPostgres compares: lib/pq as
// postgres.Open opens it (a per-connection statement cache, and
// binary_parameters for statements run unprepared), lib/pq with
// binary_parameters alone (pq_bin), lib/pq as lib/pq opens it (pq_2rt:
// two round trips per statement with arguments), and pgx.
var pgDrivers = []pgDriver{
	{"pq", func(dsn string) (*sql.DB, error) { return postgres.Open(dsn) }},
	{"pq_bin", func(dsn string) (*sql.DB, error) { return postgres.OpenWith(dsn, postgres.StatementCache(0)) }},
	{"pq_2rt", func(dsn string) (*sql.DB, error) {
		return postgres.OpenWith(withParam(dsn, "binary_parameters", "no"), postgres.StatementCache(0))
	}},
	{"pgx", pgx.Open},
}

func withParam(dsn, k, v string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// pgBench is the people table in a fresh PostgreSQL schema, seen through
// one driver.
type pgBench struct {
	sql *sql.DB
	db  *orm.DB
	dsn string // the schema's DSN, to open another pool on it
}

// pgOpen creates a schema only this benchmark uses (dropped at the end),
// opens drv on it, and creates the people table with plasma's DDL.
func pgOpen(tb testing.TB, drv pgDriver) *pgBench {
	tb.Helper()
	base := os.Getenv(envPostgres)
	if base == "" {
		tb.Skipf("set %s to run the PostgreSQL benchmarks", envPostgres)
	}
	admin, err := postgres.Open(base)
	if err != nil {
		tb.Fatal(err)
	}
	rnd := make([]byte, 6)
	_, _ = rand.Read(rnd)
	schema := "plasma_bench_" + hex.EncodeToString(rnd)
	if _, err := admin.Exec("CREATE SCHEMA " + dialect.QuoteIdent(schema)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = admin.Exec("DROP SCHEMA " + dialect.QuoteIdent(schema) + " CASCADE")
		admin.Close()
	})
	sqldb, err := drv.open(withParam(base, "search_path", schema))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sqldb.Close() })
	db := orm.New(sqldb, postgres.Dialect)
	if err := orm.EnsureSchema(context.Background(), qbSchema, db); err != nil {
		tb.Fatal(err)
	}
	return &pgBench{sql: sqldb, db: db, dsn: withParam(base, "search_path", schema)}
}

// pgInsertSQL is the hand-written multi-row INSERT for n rows, with
// PostgreSQL placeholders.
func pgInsertSQL(n int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO "people" (` + qbColumns + `) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j := 1; j <= 8; j++ {
			if j > 1 {
				sb.WriteString(", ")
			}
			sb.WriteString("$" + strconv.Itoa(i*8+j))
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// pgUnnestSQL is the people insert as plasma sends it from
// orm.UnnestMinRows rows: one array parameter per column.
const pgUnnestSQL = `INSERT INTO "people" (` + qbColumns + `) SELECT unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), ` +
	`unnest($4::integer[]), unnest($5::text[]), unnest($6::bigint[]), unnest($7::boolean[]), unnest($8::text[])`

const (
	pgSelectOne   = `SELECT ` + qbColumns + ` FROM "people" WHERE "id" = $1`
	pgSelectSlice = `SELECT ` + qbColumns + ` FROM "people" LIMIT $1`
	pgUpdate      = `UPDATE "people" SET "name" = $1, "score" = $2 WHERE "id" = $3`
)

// BenchmarkPostgres compares plasma with idiomatic database/sql ("raw",
// prepared statements, as a careful engineer writes it) on each driver,
// on the 8-column people table (id, five text, two integer and a boolean
// column). Every write is committed (autocommit).
//
//   - Insert: one row per statement; plasma writes a struct.
//   - InsertMulti: 100 rows in one statement; plasma writes a slice of
//     structs. The table is emptied off the clock every 10 batches.
//   - Update: two columns of one row, by id.
//   - Read: one row by id into a struct.
//   - ReadSlice: 100 rows into a slice of structs.
func BenchmarkPostgres(b *testing.B) {
	for _, drv := range pgDrivers {
		b.Run(drv.name, func(b *testing.B) { benchPostgres(b, drv) })
	}
}

func benchPostgres(b *testing.B, drv pgDriver) {
	ctx := context.Background()
	idCol := qbPeople.Col("id")

	b.Run("Insert", func(b *testing.B) {
		people := qbMakePeople(0, 1)
		b.Run("plasma", func(b *testing.B) {
			pb := pgOpen(b, drv)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p := people[0]
				p.ID = "i" + strconv.Itoa(i)
				if _, err := pb.db.Insert(qbPeople).Model(&p).Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("raw", func(b *testing.B) {
			pb := pgOpen(b, drv)
			stmt, err := pb.sql.PrepareContext(ctx, pgInsertSQL(1))
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p := people[0]
				p.ID = "i" + strconv.Itoa(i)
				if _, err := stmt.ExecContext(ctx, p.ID, p.Name, p.Email, p.Age, p.Status, p.Score, p.Active, p.Bio); err != nil {
					b.Fatal(err)
				}
			}
		})
	})

	b.Run("InsertMulti", func(b *testing.B) {
		const batches = 10
		bs := make([][]qbPerson, batches)
		for i := range bs {
			bs[i] = qbMakePeople(i*qbRows, qbRows)
		}
		next := func(b *testing.B, pb *pgBench, i int) []qbPerson {
			if i > 0 && i%batches == 0 {
				b.StopTimer()
				if _, err := pb.sql.ExecContext(ctx, `DELETE FROM "people"`); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			return bs[i%batches]
		}
		b.Run("plasma", func(b *testing.B) {
			pb := pgOpen(b, drv)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				n, err := pb.db.Insert(qbPeople).Model(next(b, pb, i)).Exec(ctx)
				if err != nil || n != qbRows {
					b.Fatal(n, err)
				}
			}
		})
		b.Run("raw", func(b *testing.B) {
			pb := pgOpen(b, drv)
			stmt, err := pb.sql.PrepareContext(ctx, pgInsertSQL(qbRows))
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				batch := next(b, pb, i)
				res, err := stmt.ExecContext(ctx, qbArgs(batch, make([]any, 0, 8*len(batch)))...)
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := res.RowsAffected(); n != qbRows {
					b.Fatalf("inserted %d rows", n)
				}
			}
		})
	})

	seeded := func(b *testing.B) *pgBench {
		pb := pgOpen(b, drv)
		if _, err := pb.sql.Exec(pgInsertSQL(qbRows), qbArgs(qbMakePeople(0, qbRows), nil)...); err != nil {
			b.Fatal(err)
		}
		return pb
	}
	ids := make([]string, qbRows)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
	}

	b.Run("Update", func(b *testing.B) {
		b.Run("plasma", func(b *testing.B) {
			pb := seeded(b)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				n, err := pb.db.Update(qbPeople).Set(orm.Row{"name": "renamed", "score": int64(i)}).
					Where(expr.Eq(idCol, ids[i%qbRows])).Exec(ctx)
				if err != nil || n != 1 {
					b.Fatal(n, err)
				}
			}
		})
		b.Run("raw", func(b *testing.B) {
			pb := seeded(b)
			stmt, err := pb.sql.PrepareContext(ctx, pgUpdate)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				res, err := stmt.ExecContext(ctx, "renamed", int64(i), ids[i%qbRows])
				if err != nil {
					b.Fatal(err)
				}
				if n, _ := res.RowsAffected(); n != 1 {
					b.Fatalf("updated %d rows", n)
				}
			}
		})
	})

	b.Run("Read", func(b *testing.B) {
		b.Run("plasma", func(b *testing.B) {
			pb := seeded(b)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				p, err := orm.One[qbPerson](ctx, pb.db.Select().From(qbPeople).Where(expr.Eq(idCol, ids[i%qbRows])))
				if err != nil {
					b.Fatal(err)
				}
				sinkN += len(p.ID)
			}
		})
		b.Run("raw", func(b *testing.B) {
			pb := seeded(b)
			stmt, err := pb.sql.PrepareContext(ctx, pgSelectOne)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				var p qbPerson
				if err := stmt.QueryRowContext(ctx, ids[i%qbRows]).Scan(&p.ID, &p.Name, &p.Email, &p.Age, &p.Status, &p.Score, &p.Active, &p.Bio); err != nil {
					b.Fatal(err)
				}
				sinkN += len(p.ID)
			}
		})
	})

	b.Run("ReadSlice", func(b *testing.B) {
		b.Run("plasma", func(b *testing.B) {
			pb := seeded(b)
			b.ReportAllocs()
			for b.Loop() {
				out, err := orm.All[qbPerson](ctx, pb.db.Select().From(qbPeople).Limit(qbRows))
				if err != nil || len(out) != qbRows {
					b.Fatal(len(out), err)
				}
				sinkN += len(out)
			}
		})
		b.Run("raw", func(b *testing.B) {
			pb := seeded(b)
			stmt, err := pb.sql.PrepareContext(ctx, pgSelectSlice)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			b.ReportAllocs()
			for b.Loop() {
				out, err := pgReadRaw(ctx, stmt)
				if err != nil || len(out) != qbRows {
					b.Fatal(len(out), err)
				}
				sinkN += len(out)
			}
		})
	})
}

// pgReadRaw is qbReadRaw on a prepared statement.
func pgReadRaw(ctx context.Context, stmt *sql.Stmt) ([]qbPerson, error) {
	return qbScanPeople(stmt.QueryContext(ctx, qbRows))
}

// TestPostgresContendersAgree checks, on each driver, that plasma and the
// raw loops of BenchmarkPostgres write and read the same rows.
func TestPostgresContendersAgree(t *testing.T) {
	ctx := context.Background()
	for _, drv := range pgDrivers {
		t.Run(drv.name, func(t *testing.T) {
			want := qbMakePeople(0, qbRows)
			pl, raw := pgOpen(t, drv), pgOpen(t, drv)
			if _, err := pl.db.Insert(qbPeople).Model(want[0]).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := pl.db.Insert(qbPeople).Model(want[1:]).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.sql.ExecContext(ctx, pgInsertSQL(qbRows), qbArgs(want, nil)...); err != nil {
				t.Fatal(err)
			}
			for _, pb := range []*pgBench{pl, raw} {
				got, err := orm.All[qbPerson](ctx, pb.db.Select().From(qbPeople).OrderBy(expr.Asc(qbPeople.Col("score"))).Limit(qbRows))
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("plasma read: %v (%d rows)", err, len(got))
				}
				stmt, err := pb.sql.PrepareContext(ctx, pgSelectSlice)
				if err != nil {
					t.Fatal(err)
				}
				got, err = pgReadRaw(ctx, stmt)
				stmt.Close()
				if err != nil || len(got) != qbRows {
					t.Fatalf("raw read: %v (%d rows)", err, len(got))
				}
				one, err := orm.One[qbPerson](ctx, pb.db.Select().From(qbPeople).Where(expr.Eq(qbPeople.Col("id"), "p7")))
				if err != nil || one != want[7] {
					t.Fatalf("plasma one: %+v %v", one, err)
				}
			}
		})
	}
}

// BenchmarkPostgresCopy compares, on lib/pq as postgres.Open opens it,
// loading n rows by COPY ... FROM STDIN (postgres.Dialect's CopyFrom, what
// plasma uses for a large plain INSERT) with one prepared multi-row
// INSERT, side by side: each iteration does both, alternating which goes
// first, and reports each one's time (copy-ns/op, insert-ns/op) and
// copy/insert. In "tx" both run in a transaction (BEGIN, load, COMMIT);
// in "pool" the INSERT runs alone (autocommit) while COPY, which lib/pq
// allows only in a transaction, still needs BEGIN and COMMIT, as plasma
// adds them on the pool. It sets orm.CopyMinRowsInTx and orm.CopyMinRows.
// A third contender, unnest, is the INSERT ... SELECT unnest($1::text[]),
// ... plasma sends from orm.UnnestMinRows rows, with the arrays its
// binder makes (unnest-ns/op, unnest/insert, unnest/copy), run as the
// INSERT is. The table is emptied off the clock.
func BenchmarkPostgresCopy(b *testing.B) {
	ctx := context.Background()
	copier := postgres.Dialect.(dialect.Copier)
	cols := strings.Split(strings.ReplaceAll(qbColumns, `"`, ""), ", ")
	for _, n := range []int{50, 100, 300, 1000, 5000} {
		for _, mode := range []string{"tx", "pool"} {
			b.Run(fmt.Sprintf("rows=%d/%s", n, mode), func(b *testing.B) {
				pb := pgOpen(b, pgDrivers[0])
				cp, in := qbMakePeople(0, n), qbMakePeople(n, n)
				rows := make([][]any, n)
				for i := range cp {
					rows[i] = qbArgs(cp[i:i+1], nil)
				}
				insert, err := pb.sql.PrepareContext(ctx, pgInsertSQL(n))
				if err != nil {
					b.Fatal(err)
				}
				defer insert.Close()
				doCopy := func() error {
					tx, err := pb.sql.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					if _, err := copier.CopyFrom(ctx, tx, "people", cols, rows); err != nil {
						_ = tx.Rollback()
						return err
					}
					return tx.Commit()
				}
				doInsert := func() error {
					args := qbArgs(in, make([]any, 0, 8*n))
					if mode == "pool" {
						_, err := insert.ExecContext(ctx, args...)
						return err
					}
					tx, err := pb.sql.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, args...); err != nil {
						_ = tx.Rollback()
						return err
					}
					return tx.Commit()
				}
				un := qbMakePeople(2*n, n)
				binder := postgres.Dialect.(dialect.ArrayInserter).ArrayBinder(pb.sql.Driver())
				doUnnest := func() error {
					flat := qbArgs(un, make([]any, 0, 8*n))
					args := make([]any, 8)
					for c := range args {
						args[c], _ = binder.BindArray(&qbPeople.Def().Columns[c], flat, c, 8, n)
					}
					if mode == "pool" {
						_, err := pb.sql.ExecContext(ctx, pgUnnestSQL, args...)
						return err
					}
					tx, err := pb.sql.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, pgUnnestSQL, args...); err != nil {
						_ = tx.Rollback()
						return err
					}
					return tx.Commit()
				}
				var tc, ti, tu time.Duration
				i := 0
				for b.Loop() {
					runs := []func() error{doCopy, doInsert, doUnnest}
					took := []*time.Duration{&tc, &ti, &tu}
					for k := range runs {
						f := (i + k) % len(runs)
						s := time.Now()
						if err := runs[f](); err != nil {
							b.Fatal(err)
						}
						*took[f] += time.Since(s)
					}
					i++
					b.StopTimer()
					if _, err := pb.sql.ExecContext(ctx, `DELETE FROM "people"`); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(tc.Nanoseconds())/float64(i), "copy-ns/op")
				b.ReportMetric(float64(ti.Nanoseconds())/float64(i), "insert-ns/op")
				b.ReportMetric(float64(tc)/float64(ti), "copy/insert")
				b.ReportMetric(float64(tu.Nanoseconds())/float64(i), "unnest-ns/op")
				b.ReportMetric(float64(tu)/float64(ti), "unnest/insert")
				b.ReportMetric(float64(tu)/float64(tc), "unnest/copy")
			})
		}
	}
}

// pgPair is one operation of BenchmarkPostgresPaired, done once by
// plasma and once by raw database/sql.
type pgPair struct {
	name        string
	plasma, raw func(i int) error
	between     func(i int) error // run off the clock before iteration i, if set
}

// pgPairs returns BenchmarkPostgres's operations on pb (seeded with
// qbRows people), the plasma and raw sides sharing the table: ids written
// by one side never collide with the other's. The raw side runs on
// rawDB, pb's pool or another driver's on the same schema.
func pgPairs(b *testing.B, pb *pgBench, rawDB *sql.DB) []pgPair {
	ctx := context.Background()
	idCol := qbPeople.Col("id")
	prep := func(q string) *sql.Stmt {
		s, err := rawDB.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	ids := make([]string, qbRows)
	for i := range ids {
		ids[i] = "p" + strconv.Itoa(i)
	}
	one := qbMakePeople(0, 1)[0]
	insOne, insMulti, upd, selOne, selSlice := prep(pgInsertSQL(1)), prep(pgInsertSQL(qbRows)), prep(pgUpdate), prep(pgSelectOne), prep(pgSelectSlice)
	const batches = 10
	pl, rw := make([][]qbPerson, batches), make([][]qbPerson, batches)
	for i := range pl {
		pl[i], rw[i] = qbMakePeople(1_000_000+i*qbRows, qbRows), qbMakePeople(2_000_000+i*qbRows, qbRows)
	}
	check := func(res sql.Result, err error) error {
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errors.New("no row affected")
		}
		return nil
	}
	return []pgPair{
		{name: "Insert",
			plasma: func(i int) error {
				p := one
				p.ID = "pi" + strconv.Itoa(i)
				_, err := pb.db.Insert(qbPeople).Model(&p).Exec(ctx)
				return err
			},
			raw: func(i int) error {
				p := one
				p.ID = "ri" + strconv.Itoa(i)
				return check(insOne.ExecContext(ctx, p.ID, p.Name, p.Email, p.Age, p.Status, p.Score, p.Active, p.Bio))
			}},
		{name: "InsertMulti",
			between: func(i int) error {
				if i > 0 && i%batches == 0 {
					_, err := pb.sql.ExecContext(ctx, `DELETE FROM "people" WHERE "id" NOT LIKE 'p_' AND "id" NOT LIKE 'p__'`)
					return err
				}
				return nil
			},
			plasma: func(i int) error {
				n, err := pb.db.Insert(qbPeople).Model(pl[i%batches]).Exec(ctx)
				if err == nil && n != qbRows {
					err = fmt.Errorf("inserted %d", n)
				}
				return err
			},
			raw: func(i int) error {
				batch := rw[i%batches]
				return check(insMulti.ExecContext(ctx, qbArgs(batch, make([]any, 0, 8*len(batch)))...))
			}},
		{name: "Update",
			plasma: func(i int) error {
				_, err := pb.db.Update(qbPeople).Set(orm.Row{"name": "renamed", "score": int64(i)}).
					Where(expr.Eq(idCol, ids[i%qbRows])).Exec(ctx)
				return err
			},
			raw: func(i int) error {
				return check(upd.ExecContext(ctx, "renamed", int64(i), ids[(i+qbRows/2)%qbRows]))
			}},
		{name: "Read",
			plasma: func(i int) error {
				_, err := orm.One[qbPerson](ctx, pb.db.Select().From(qbPeople).Where(expr.Eq(idCol, ids[i%qbRows])))
				return err
			},
			raw: func(i int) error {
				var p qbPerson
				return selOne.QueryRowContext(ctx, ids[i%qbRows]).Scan(&p.ID, &p.Name, &p.Email, &p.Age, &p.Status, &p.Score, &p.Active, &p.Bio)
			}},
		{name: "ReadSlice",
			plasma: func(int) error {
				out, err := orm.All[qbPerson](ctx, pb.db.Select().From(qbPeople).Limit(qbRows))
				if err == nil && len(out) != qbRows {
					err = fmt.Errorf("read %d", len(out))
				}
				return err
			},
			raw: func(int) error {
				out, err := pgReadRaw(ctx, selSlice)
				if err == nil && len(out) != qbRows {
					err = fmt.Errorf("read %d", len(out))
				}
				return err
			}},
	}
}

// BenchmarkPostgresPaired is BenchmarkPostgres measured side by side: each
// iteration runs the operation once by plasma and once by raw
// database/sql on the same table, alternating which goes first, and
// reports each side's time per operation and their ratio (plasma/raw),
// and the median of the iterations' own ratios (plasma/raw-p50), which
// an iteration slowed by the rest of a shared machine moves less.
// On a loaded machine the two sides then share every disturbance, which
// separate benchmarks, seconds apart, do not. ns/op is the pair's;
// allocations are BenchmarkPostgres's to measure.
//
// The last set, pq_vs_pgx_raw, runs plasma on lib/pq (the default) and
// raw database/sql on pgx, on the same schema: the cost of plasma's
// default against the fastest raw path.
func BenchmarkPostgresPaired(b *testing.B) {
	type pairing struct {
		name   string
		plasma pgDriver
		raw    pgDriver
	}
	var sets []pairing
	for _, drv := range pgDrivers {
		sets = append(sets, pairing{drv.name, drv, drv})
	}
	sets = append(sets, pairing{"pq_vs_pgx_raw", pgDrivers[0], pgDrivers[len(pgDrivers)-1]})
	for _, set := range sets {
		drv := set.plasma
		b.Run(set.name, func(b *testing.B) {
			for k, name := range []string{"Insert", "InsertMulti", "Update", "Read", "ReadSlice"} {
				b.Run(name, func(b *testing.B) {
					pb := pgOpen(b, drv)
					if _, err := pb.sql.Exec(pgInsertSQL(qbRows), qbArgs(qbMakePeople(0, qbRows), nil)...); err != nil {
						b.Fatal(err)
					}
					rawDB := pb.sql
					if set.raw.name != set.plasma.name {
						var err error
						if rawDB, err = set.raw.open(pb.dsn); err != nil {
							b.Fatal(err)
						}
						defer rawDB.Close()
					}
					op := pgPairs(b, pb, rawDB)[k]
					if op.name != name {
						b.Fatalf("operation %d is %s, not %s", k, op.name, name)
					}
					var tp, tr time.Duration
					var ratios []float64
					i := 0
					for b.Loop() {
						if op.between != nil {
							b.StopTimer()
							if err := op.between(i); err != nil {
								b.Fatal(err)
							}
							b.StartTimer()
						}
						first, second := op.plasma, op.raw
						if i%2 == 1 {
							first, second = op.raw, op.plasma
						}
						s := time.Now()
						if err := first(i); err != nil {
							b.Fatal(err)
						}
						m := time.Now()
						if err := second(i); err != nil {
							b.Fatal(err)
						}
						d1, d2 := m.Sub(s), time.Since(m)
						if i%2 == 1 {
							d1, d2 = d2, d1
						}
						tp, tr = tp+d1, tr+d2
						ratios = append(ratios, float64(d1)/float64(d2))
						i++
					}
					b.ReportMetric(float64(tp.Nanoseconds())/float64(i), "plasma-ns/op")
					b.ReportMetric(float64(tr.Nanoseconds())/float64(i), "raw-ns/op")
					b.ReportMetric(float64(tp)/float64(tr), "plasma/raw")
					slices.Sort(ratios)
					b.ReportMetric(ratios[len(ratios)/2], "plasma/raw-p50")
				})
			}
		})
	}
}

// BenchmarkInsertMultiCPU is the client's share of InsertMulti: plasma's
// Exec of 100 structs against raw's prepared Exec of the same arguments,
// both through database/sql to a driver that does nothing with them
// (nullConnector), so that the time is the building, checking and
// converting of the 800 arguments alone, without the server and the
// network that dominate BenchmarkPostgresPaired. "plasma" and "raw"
// measure each alone, with their allocations and the process's CPU time
// per op (cpu-ns/op: the collector's work on other threads included,
// which on a machine that also runs the database competes with it);
// "paired" runs both in
// each iteration, alternating which goes first, and reports the median
// time of each and their ratio (plasma/raw).
func BenchmarkInsertMultiCPU(b *testing.B) {
	ctx := context.Background()
	batch := qbMakePeople(0, qbRows)
	sqldb := sql.OpenDB(nullConnector{})
	defer sqldb.Close()
	db := orm.New(sqldb, postgres.Dialect)
	stmt, err := sqldb.PrepareContext(ctx, pgInsertSQL(qbRows))
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	plasma := func() {
		if n, err := db.Insert(qbPeople).Model(batch).Exec(ctx); err != nil || n != qbRows {
			b.Fatal(n, err)
		}
	}
	raw := func() {
		res, err := stmt.ExecContext(ctx, qbArgs(batch, make([]any, 0, 8*len(batch)))...)
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != qbRows {
			b.Fatal(n)
		}
	}
	for _, side := range []struct {
		name string
		run  func()
	}{{"plasma", plasma}, {"raw", raw}} {
		b.Run(side.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu, n := processCPU(), 0
			for b.Loop() {
				side.run()
				n++
			}
			if cpu != 0 {
				b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(n), "cpu-ns/op")
			}
		})
	}
	b.Run("paired", func(b *testing.B) {
		// Medians of each side's times: on a shared machine a
		// preempted iteration is an outlier, which a sum would keep.
		var tp, tr []time.Duration
		i := 0
		for b.Loop() {
			first, second, t1, t2 := plasma, raw, &tp, &tr
			if i%2 == 1 {
				first, second, t1, t2 = raw, plasma, &tr, &tp
			}
			s := time.Now()
			first()
			m := time.Now()
			second()
			*t1 = append(*t1, m.Sub(s))
			*t2 = append(*t2, time.Since(m))
			i++
		}
		mp, mr := median(tp), median(tr)
		b.ReportMetric(float64(mp.Nanoseconds()), "plasma-ns/op")
		b.ReportMetric(float64(mr.Nanoseconds()), "raw-ns/op")
		b.ReportMetric(float64(mp)/float64(mr), "plasma/raw")
	})
}

// median returns the middle of ds (which it sorts).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// nullConnector opens connections that accept any statement and report
// one affected row per 8 arguments (a row of the people table), keeping
// nothing: BenchmarkInsertMultiCPU's stand-in for a server.
type nullConnector struct{}

func (nullConnector) Connect(context.Context) (driver.Conn, error) { return nullConn{}, nil }
func (nullConnector) Driver() driver.Driver                        { return nullDriver{} }

type nullDriver struct{}

func (nullDriver) Open(string) (driver.Conn, error) { return nullConn{}, nil }

type nullConn struct{}

func (nullConn) Prepare(string) (driver.Stmt, error) { return nullStmt{}, nil }
func (nullConn) Close() error                        { return nil }
func (nullConn) Begin() (driver.Tx, error)           { return nil, errors.New("null driver: no transactions") }
func (nullConn) ExecContext(_ context.Context, _ string, args []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(len(args) / 8), nil
}

type nullStmt struct{}

func (nullStmt) Close() error  { return nil }
func (nullStmt) NumInput() int { return -1 }
func (nullStmt) Exec(args []driver.Value) (driver.Result, error) {
	return driver.RowsAffected(len(args) / 8), nil
}
func (nullStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("null driver: no queries")
}
func (nullStmt) ExecContext(_ context.Context, args []driver.NamedValue) (driver.Result, error) {
	return driver.RowsAffected(len(args) / 8), nil
}
