package bench

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	pgxv5 "github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// BenchmarkPostgresInsertForms compares, side by side, the ways a
// multi-row INSERT of n rows of the people table can reach PostgreSQL,
// on lib/pq as postgres.Open opens it and on pgx, every write committed
// (autocommit), as BenchmarkPostgresPaired's InsertMulti:
//
//   - values: the hand-written INSERT ... VALUES on its prepared
//     statement (BenchmarkPostgresPaired's raw side), the baseline;
//   - plasma: plasma's Model insert of the same structs (which sends
//     INSERT ... SELECT unnest($1::text[]), unnest($2::text[]), ... from
//     orm.UnnestMinRows rows);
//   - copy (pgx only): pgx's CopyFrom on the pool's connection, which
//     needs no transaction on pgx (lib/pq allows COPY only in one: see
//     BenchmarkPostgresCopy).
//
// Each iteration runs every form once, rotating which goes first, and
// reports each one's time against values (form/values, from the summed
// times, and form/values-p50, the median of the iterations' ratios).
// In "async" the session sets synchronous_commit off, so
// that the commit's fsync, which the forms share, does not drown the
// server's and the client's own work. The table is emptied off the clock
// every 10 iterations.
func BenchmarkPostgresInsertForms(b *testing.B) {
	ctx := context.Background()
	for _, async := range []bool{false, true} {
		for _, drv := range []pgDriver{pgDrivers[0], pgDrivers[3]} {
			for _, n := range []int{2, 5, 10, 30, 100, 1000} {
				name := fmt.Sprintf("%s/rows=%d/sync", drv.name, n)
				if async {
					name = fmt.Sprintf("%s/rows=%d/async", drv.name, n)
				}
				b.Run(name, func(b *testing.B) {
					if async {
						drv := drv
						open := drv.open
						drv.open = func(dsn string) (*sql.DB, error) { return open(withParam(dsn, "synchronous_commit", "off")) }
						benchInsertForms(ctx, b, drv, n)
						return
					}
					benchInsertForms(ctx, b, drv, n)
				})
			}
		}
	}
}

type insertForm struct {
	name string
	run  func(batch []qbPerson) error
}

func benchInsertForms(ctx context.Context, b *testing.B, drv pgDriver, n int) {
	pb := pgOpen(b, drv)
	values, err := pb.sql.PrepareContext(ctx, pgInsertSQL(n))
	if err != nil {
		b.Fatal(err)
	}
	defer values.Close()
	forms := []insertForm{
		{"values", func(batch []qbPerson) error {
			_, err := values.ExecContext(ctx, qbArgs(batch, make([]any, 0, 8*len(batch)))...)
			return err
		}},
		{"plasma", func(batch []qbPerson) error {
			k, err := pb.db.Insert(qbPeople).Model(batch).Exec(ctx)
			if err == nil && k != int64(len(batch)) {
				err = fmt.Errorf("inserted %d", k)
			}
			return err
		}},
	}
	if drv.name == "pgx" {
		cols := []string{"id", "name", "email", "age", "status", "score", "active", "bio"}
		forms = append(forms, insertForm{"copy", func(batch []qbPerson) error {
			c, err := pb.sql.Conn(ctx)
			if err != nil {
				return err
			}
			defer c.Close()
			return c.Raw(func(dc any) error {
				_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgxv5.Identifier{"people"}, cols,
					pgxv5.CopyFromSlice(len(batch), func(i int) ([]any, error) {
						p := &batch[i]
						return []any{p.ID, p.Name, p.Email, int32(p.Age), p.Status, p.Score, p.Active, p.Bio}, nil
					}))
				return err
			})
		}})
	}
	const batches = 10
	data := make([][][]qbPerson, len(forms))
	for f := range forms {
		data[f] = make([][]qbPerson, batches)
		for i := range data[f] {
			data[f][i] = qbMakePeople(1_000_000*(f+1)+i*n, n)
		}
	}
	tot := make([]time.Duration, len(forms))
	ratios := make([][]float64, len(forms))
	took := make([]time.Duration, len(forms))
	i := 0
	for b.Loop() {
		if i > 0 && i%batches == 0 {
			b.StopTimer()
			if _, err := pb.sql.ExecContext(ctx, `DELETE FROM "people"`); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		for k := range forms {
			f := (i + k) % len(forms)
			s := time.Now()
			if err := forms[f].run(data[f][i%batches]); err != nil {
				b.Fatal(forms[f].name, err)
			}
			took[f] = time.Since(s)
			tot[f] += took[f]
		}
		for f := range forms {
			ratios[f] = append(ratios[f], float64(took[f])/float64(took[0]))
		}
		i++
	}
	b.ReportMetric(float64(tot[0].Nanoseconds())/float64(i), "values-ns/op")
	for f := 1; f < len(forms); f++ {
		b.ReportMetric(float64(tot[f])/float64(tot[0]), forms[f].name+"/values")
		slices.Sort(ratios[f])
		b.ReportMetric(ratios[f][len(ratios[f])/2], forms[f].name+"/values-p50")
	}
}
