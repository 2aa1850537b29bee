package dialect_test

import (
	"testing"

	"github.com/plasma-go/plasma/tabledef"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
)

// TestPartialIndexAndGeneratedKey: tabledef.Index.WhereNull renders a partial
// index on both engines, and tabledef.Column.AlwaysGenerated an identity that
// refuses written values where the dialect is a GeneratedKeyer (a plain
// AutoIncrement elsewhere).
func TestPartialIndexAndGeneratedKey(t *testing.T) {
	ix := tabledef.Index{Name: "p", Columns: []string{"a", "b"}, WhereNull: []string{"c", `d"`}}
	if got, want := dialect.CreateIndex("t", ix, true), `CREATE INDEX IF NOT EXISTS "p" ON "t" ("a", "b") WHERE "c" IS NULL AND "d""" IS NULL`; got != want {
		t.Errorf("CreateIndex = %s, want %s", got, want)
	}
	def := &tabledef.Table{Name: "t", Columns: []tabledef.Column{
		{Name: "id", Kind: tabledef.KindBigInt, AutoIncrement: true, AlwaysGenerated: true},
		{Name: "v", Kind: tabledef.KindText},
	}, PrimaryKey: []string{"id"}}
	for d, want := range map[dialect.Dialect]string{
		postgres.Dialect: `CREATE TABLE "t" ("id" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "v" TEXT NOT NULL)`,
		sqlite.Dialect:   `CREATE TABLE "t" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "v" TEXT NOT NULL)`,
	} {
		got, err := dialect.CreateTable(d, def, false)
		if err != nil || len(got) != 1 || got[0] != want {
			t.Errorf("%s: CreateTable = %q, %v; want %s", d.Name(), got, err, want)
		}
	}
}
