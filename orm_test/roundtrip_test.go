package ormtest_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// TestTimestampsRoundTrip binds time.Time values through raw SQL into
// PostgreSQL's TIMESTAMPTZ and TIMESTAMP columns and reads them back, on
// each driver: the instant (TIMESTAMPTZ) or the wall clock (TIMESTAMP) to
// the microsecond, NULL as NULL. Plasma's schema has no timestamp kind;
// applications that store times in a BigInt (Unix microseconds) or Text
// (RFC 3339) column round-trip through the integer and text kinds that
// TestScanKinds and TestModelWritesKinds check.
func TestTimestampsRoundTrip(t *testing.T) {
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	times := []time.Time{
		time.Date(2026, 12, 7, 6, 40, 31, 123456000, time.UTC),
		time.Date(1969, 7, 20, 20, 17, 40, 1000, zone),
		time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, zone),
	}
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		if tg.Name != "postgres" {
			t.Skip("TIMESTAMPTZ is PostgreSQL's; SQLite has no timestamp type")
		}
		ctx := context.Background()
		db := tg.DB
		if _, err := db.Exec(ctx, `CREATE TABLE "stamps" ("id" INTEGER PRIMARY KEY, "tz" TIMESTAMPTZ, "wall" TIMESTAMP)`); err != nil {
			t.Fatal(err)
		}
		for i, ts := range times {
			if _, err := db.Exec(ctx, `INSERT INTO "stamps" VALUES (?, ?, ?)`, i, ts, ts); err != nil {
				t.Fatalf("insert %v: %v", ts, err)
			}
		}
		if _, err := db.Exec(ctx, `INSERT INTO "stamps" VALUES (?, ?, ?)`, len(times), nil, (*time.Time)(nil)); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(ctx, `SELECT "tz", "wall" FROM "stamps" ORDER BY "id"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for ; rows.Next(); i++ {
			var tz, wall sql.NullTime
			if err := rows.Scan(&tz, &wall); err != nil {
				t.Fatal(err)
			}
			if i == len(times) {
				if tz.Valid || wall.Valid {
					t.Errorf("NULLs read as %v, %v", tz, wall)
				}
				continue
			}
			want := times[i]
			if !tz.Valid || !tz.Time.Equal(want) {
				t.Errorf("TIMESTAMPTZ %v read as %v", want, tz.Time)
			}
			y, mo, d := want.Date()
			h, mi, s := want.Clock()
			gy, gmo, gd := wall.Time.Date()
			gh, gmi, gs := wall.Time.Clock()
			if !wall.Valid || y != gy || mo != gmo || d != gd || h != gh || mi != gmi || s != gs || want.Nanosecond() != wall.Time.Nanosecond() {
				t.Errorf("TIMESTAMP %v read as %v", want, wall.Time)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if i != len(times)+1 {
			t.Errorf("read %d rows", i)
		}
		// Through plasma's scanner too: a NULL into a pointer, a time into
		// a time.Time field.
		type stamp struct {
			TZ   *time.Time `db:"tz"`
			Wall *time.Time `db:"wall"`
		}
		res, err := db.Query(ctx, `SELECT "tz", "wall" FROM "stamps" ORDER BY "id"`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := orm.Collect[stamp](&orm.Result{Rows: res})
		if err != nil || len(got) != len(times)+1 || got[len(times)].TZ != nil || !got[0].TZ.Equal(times[0]) {
			t.Errorf("scanned %v %v", got, err)
		}
	})
}
