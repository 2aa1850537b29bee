package rowbuf_test

import (
	"database/sql"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

func TestReplayScansLikeSQLRows(t *testing.T) {
	db, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT 42 AS n, 'text' AS s, X'00ff' AS b, NULL AS z, 1 AS flag, 'hidden' AS extra UNION ALL SELECT 7, 'more', X'', 'set', 0, 'hidden'`)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := rowbuf.Read(rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(buf.Values) != 2 || len(buf.Columns) != 6 {
		t.Fatalf("%+v", buf)
	}
	r := buf.Replay(5)
	cols, _ := r.Columns()
	if len(cols) != 5 || cols[4] != "flag" {
		t.Fatal(cols)
	}
	if err := r.Scan(new(any)); err == nil {
		t.Fatal("Scan before Next")
	}
	type row struct {
		n    string // an integer into a string, as database/sql converts
		s    []byte
		b    []byte
		z    sql.NullString
		flag bool
	}
	var got []row
	for r.Next() {
		var x row
		if err := r.Scan(&x.n, &x.s, &x.b, &x.z, &x.flag); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].n != "42" || string(got[0].s) != "text" || len(got[0].b) != 2 || got[0].b[1] != 0xff ||
		got[0].z.Valid || !got[0].flag || got[1].z.String != "set" || got[1].flag {
		t.Fatalf("%+v", got)
	}
	// Scanning into the wrong number of destinations fails as on *sql.Rows.
	r = buf.Replay(5)
	r.Next()
	if err := r.Scan(new(any)); err == nil {
		t.Fatal("short Scan accepted")
	}
	r.Close()

	// Unread replays are taken over without copying, hidden columns and all.
	again, err := rowbuf.Read(buf.Replay(2))
	if err != nil || len(again.Columns) != 2 || len(again.Values[0]) != 6 {
		t.Fatalf("%+v %v", again, err)
	}
	res := buf.Result(1, nil)
	var n int64
	if !res.Rows.Next() || res.Rows.Scan(&n) != nil || n != 42 {
		t.Fatal(n)
	}
	res.Rows.Close()
}
