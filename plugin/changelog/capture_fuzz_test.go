package changelog_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// FuzzCaptureIdentifiers: whatever a synced table and its column are
// called, and whatever the region, the capture triggers install and log
// an outside INSERT under those names, on SQLite; a name the schema
// refuses is refused before any DDL.
func FuzzCaptureIdentifiers(f *testing.F) {
	for _, seed := range [][3]string{
		{"notes", "body", "default"},
		{`we"ird 'tab' select ✓`, `"q`, "r'1"},
		{"$plasma0$ END; --", "$plasma1$", "$$"},
		{"table", "order", "✓ \u2028"},
		{"a b", "json_object('x', 1)", `\`},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, table, column, region string) {
		if column == "id" || table == "" || len(table) > 200 || len(column) > 200 || len(region) > 200 {
			return
		}
		tb := orm.NewTable(table, orm.ID(), orm.Text(column).Nullable())
		schema, err := orm.DefineSchema("1", tb)
		if err != nil {
			return // a name the schema refuses
		}
		ctx := context.Background()
		db, err := orm.Open(sqlite.Dialect, ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := orm.EnsureSchema(ctx, schema, db); err != nil {
			return // a name the engine refuses (checked by the schema's own tests)
		}
		err = changelog.EnsureCapture(ctx, db, schema, region)
		if !literal(table) || !literal(column) || !literal(region) {
			if !errors.Is(err, changelog.ErrCaptureName) {
				t.Fatalf("EnsureCapture(%q, %q, %q): %v, want ErrCaptureName", table, column, region, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("EnsureCapture(%q, %q, %q): %v", table, column, region, err)
		}
		ins := `INSERT INTO ` + dialect.QuoteIdent(table) + ` ("id", ` + dialect.QuoteIdent(column) + `) VALUES (?, ?)`
		if _, err := db.Executor().ExecContext(ctx, ins, "r1", column); err != nil {
			t.Fatalf("%s: %v", ins, err)
		}
		if region == "" {
			region = changelog.DefaultRegion
		}
		cs, _, err := changelog.ChangesSince(ctx, db, region, 0, 0)
		if err != nil || len(cs) != 1 || cs[0].Table != table || cs[0].RowID != "r1" {
			t.Fatalf("changes %+v, %v", cs, err)
		}
		var img map[string]any
		if err := json.Unmarshal(cs[0].Row, &img); err != nil || img["id"] != "r1" || img[column] != column || len(img) != 2 {
			t.Fatalf("image %s (%v)", cs[0].Row, err)
		}
	})
}

func literal(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
