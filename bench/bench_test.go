package bench

import (
	"context"
	"database/sql"
	"testing"

	sq "github.com/Masterminds/squirrel"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// Sinks keep the compiler from dropping the work being measured.
var (
	sinkSQL  string
	sinkArgs []any
	sinkBuf  []byte
	sinkN    int
)

// BenchmarkBuildSelect builds and renders, without a database,
//
//	SELECT id, name, email FROM users
//	WHERE age > ? AND status = ? AND name LIKE ? ORDER BY id DESC LIMIT 10
//
// with PostgreSQL placeholders. Every contender builds the statement from
// scratch on each iteration, except handwritten (a constant string and a
// fresh args slice) and plasma_prepared (a statement prepared once, bound
// to fresh arguments on each iteration).
//
// The values are constants, as in DESIGN.md's reference figures: Go boxes
// a constant into an interface without allocating, so the counts measure
// the builders and not the boxing. (With non-constant strings every
// contender pays one more allocation per string value.)
func BenchmarkBuildSelect(b *testing.B) {
	const age, status, pattern = 18, "active", "a%"

	b.Run("plasma", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			q := orm.Select(qbUsers.Col("id"), qbUsers.Col("name"), qbUsers.Col("email")).
				From(qbUsers).
				Where(
					expr.Gt(qbUsers.Col("age"), age),
					expr.Eq(qbUsers.Col("status"), status),
					expr.Like(qbUsers.Col("name"), pattern),
				).
				OrderBy(expr.Desc(qbUsers.Col("id"))).
				Limit(10)
			text, args, err := q.Render(postgres.Dialect)
			if err != nil {
				b.Fatal(err)
			}
			sinkSQL, sinkArgs = text, args
		}
	})

	b.Run("plasma_prepared", func(b *testing.B) {
		b.ReportAllocs()
		p, err := orm.PrepareUnchained(postgres.Dialect,
			orm.Select(qbUsers.Col("id"), qbUsers.Col("name"), qbUsers.Col("email")).
				From(qbUsers).
				Where(
					expr.Gt(qbUsers.Col("age"), expr.Arg(0)),
					expr.Eq(qbUsers.Col("status"), expr.Arg(1)),
					expr.Like(qbUsers.Col("name"), expr.Arg(2)),
				).
				OrderBy(expr.Desc(qbUsers.Col("id"))).
				Limit(10))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			text, args, err := p.Bind(age, status, pattern)
			if err != nil {
				b.Fatal(err)
			}
			sinkSQL, sinkArgs = text, args
		}
	})

	b.Run("squirrel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			text, args, err := sq.Select("id", "name", "email").
				From("users").
				Where(sq.Gt{"age": age}).
				Where(sq.Eq{"status": status}).
				Where(sq.Like{"name": pattern}).
				OrderBy("id DESC").
				Limit(10).
				PlaceholderFormat(sq.Dollar).
				ToSql()
			if err != nil {
				b.Fatal(err)
			}
			sinkSQL, sinkArgs = text, args
		}
	})

	b.Run("bun", func(b *testing.B) {
		b.ReportAllocs()
		// sql.Open does not connect: bun only needs the handle to build.
		sqldb, err := sql.Open("postgres", "postgres://bench@127.0.0.1:1/none?sslmode=disable")
		if err != nil {
			b.Fatal(err)
		}
		defer sqldb.Close()
		bdb := bun.NewDB(sqldb, pgdialect.New())
		buf := make([]byte, 0, 256)
		for b.Loop() {
			// bun interpolates the values into the SQL text (no
			// placeholders, no args); the buffer is reused across
			// iterations, bun's cheapest way to render.
			var err error
			buf, err = bdb.NewSelect().
				Column("id", "name", "email").
				Table("users").
				Where("age > ?", age).
				Where("status = ?", status).
				Where("name LIKE ?", pattern).
				OrderExpr("id DESC").
				Limit(10).
				AppendQuery(bdb.QueryGen(), buf[:0])
			if err != nil {
				b.Fatal(err)
			}
			sinkBuf = buf
		}
	})

	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkSQL = `SELECT id, name, email FROM users WHERE age > $1 AND status = $2 AND name LIKE $3 ORDER BY id DESC LIMIT 10`
			sinkArgs = []any{age, status, pattern}
		}
	})
}

// BenchmarkReadSlice reads 100 rows of 8 columns from a SQLite file
// database into a []person on each iteration.
func BenchmarkReadSlice(b *testing.B) {
	ctx := context.Background()

	b.Run("plasma", func(b *testing.B) {
		bd := qbOpen(b)
		qbSeed(b, bd, qbRows)
		b.ReportAllocs()
		for b.Loop() {
			out, err := orm.All[qbPerson](ctx, bd.db.Select().From(qbPeople).Limit(qbRows))
			if err != nil {
				b.Fatal(err)
			}
			if len(out) != qbRows {
				b.Fatalf("read %d rows", len(out))
			}
			sinkN += len(out)
		}
	})

	b.Run("raw", func(b *testing.B) {
		bd := qbOpen(b)
		qbSeed(b, bd, qbRows)
		const query = `SELECT ` + qbColumns + ` FROM "people" LIMIT 100`
		b.ReportAllocs()
		for b.Loop() {
			out, err := qbReadRaw(ctx, bd.sql, query)
			if err != nil {
				b.Fatal(err)
			}
			if len(out) != qbRows {
				b.Fatalf("read %d rows", len(out))
			}
			sinkN += len(out)
		}
	})

	b.Run("bun", func(b *testing.B) {
		bd := qbOpen(b)
		qbSeed(b, bd, qbRows)
		b.ReportAllocs()
		for b.Loop() {
			var out []qbPerson
			if err := bd.bun.NewSelect().Model(&out).Limit(qbRows).Scan(ctx); err != nil {
				b.Fatal(err)
			}
			if len(out) != qbRows {
				b.Fatalf("read %d rows", len(out))
			}
			sinkN += len(out)
		}
	})
}

// qbReadRaw is the hand-written database/sql loop, written for speed: a
// slice sized for the LIMIT, and one Scan per row straight into the
// slice's element (scanning into a local and appending it would cost an
// extra allocation per row, as the local escapes through Scan).
func qbReadRaw(ctx context.Context, db *sql.DB, query string) ([]qbPerson, error) {
	return qbScanPeople(db.QueryContext(ctx, query))
}

// qbScanPeople reads the rows of a query into people, for the raw
// contenders.
func qbScanPeople(rs *sql.Rows, err error) ([]qbPerson, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := make([]qbPerson, 0, qbRows)
	for rs.Next() {
		out = append(out, qbPerson{})
		p := &out[len(out)-1]
		if err := rs.Scan(&p.ID, &p.Name, &p.Email, &p.Age, &p.Status, &p.Score, &p.Active, &p.Bio); err != nil {
			return nil, err
		}
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, rs.Close()
}

// BenchmarkInsertMulti inserts 100 rows in one INSERT statement per
// iteration. Each contender starts from the same []person. Iterations
// cycle through insertBatches batches of distinct ids; before a batch is
// reused the table is emptied with the timer stopped, so it never holds
// more than insertBatches*100 rows.
func BenchmarkInsertMulti(b *testing.B) {
	ctx := context.Background()
	const insertBatches = 10
	batches := make([][]qbPerson, insertBatches)
	for i := range batches {
		batches[i] = qbMakePeople(i*qbRows, qbRows)
	}
	// next returns the batch for iteration i, emptying the table (off the
	// clock) when the batches wrap around.
	next := func(b *testing.B, bd *qbDB, i int) []qbPerson {
		if i > 0 && i%insertBatches == 0 {
			b.StopTimer()
			if _, err := bd.sql.ExecContext(ctx, `DELETE FROM "people"`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		return batches[i%insertBatches]
	}

	b.Run("plasma", func(b *testing.B) {
		bd := qbOpen(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			batch := next(b, bd, i)
			vals := make([]orm.Row, len(batch))
			for j := range batch {
				vals[j] = qbRow(&batch[j])
			}
			n, err := bd.db.Insert(qbPeople).Values(vals...).Exec(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n != qbRows {
				b.Fatalf("inserted %d rows", n)
			}
		}
	})

	b.Run("raw", func(b *testing.B) {
		bd := qbOpen(b)
		query := qbInsertSQL(qbRows) // written once, as a hand-written constant would be
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			batch := next(b, bd, i)
			args := qbArgs(batch, make([]any, 0, 8*len(batch)))
			res, err := bd.sql.ExecContext(ctx, query, args...)
			if err != nil {
				b.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != qbRows {
				b.Fatalf("inserted %d rows", n)
			}
		}
	})

	b.Run("bun", func(b *testing.B) {
		bd := qbOpen(b)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			batch := next(b, bd, i)
			res, err := bd.bun.NewInsert().Model(&batch).Exec(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != qbRows {
				b.Fatalf("inserted %d rows", n)
			}
		}
	})
}
