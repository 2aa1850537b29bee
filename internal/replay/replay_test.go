package replay_test

import (
	"context"
	"testing"

	"github.com/plasma-go/plasma/internal/replay"
)

// TestRows reads buffered rows back through database/sql, with its
// conversions: a column beyond a row's values is never asked for, and
// the rows are scanned as a driver's would be.
func TestRows(t *testing.T) {
	rows, err := replay.Rows(context.Background(), []string{"id", "n"},
		[][]any{{"a", int64(1), "ignored"}, {"b", nil}})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if len(cols) != 2 || cols[0] != "id" || cols[1] != "n" {
		t.Fatalf("columns %v", cols)
	}
	var got []string
	for rows.Next() {
		var id string
		var n *int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n == nil {
			got = append(got, id+"=NULL")
		} else {
			got = append(got, id+"="+string(rune('0'+*n)))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "a=1" || got[1] != "b=NULL" {
		t.Fatalf("read %v", got)
	}
}
