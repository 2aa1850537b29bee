package dialect_test

import (
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/tabledef"
)

func TestAddColumn(t *testing.T) {
	c := &tabledef.Column{Name: `li"st`, Kind: tabledef.KindText, Nullable: true, HasDefault: true, Default: "it's",
		References: &tabledef.ForeignKey{Table: "lists", Column: "id", OnDelete: tabledef.SetNull}}
	for d, want := range map[dialect.Dialect]string{
		sqlite.Dialect:   `ALTER TABLE "todos" ADD COLUMN "li""st" TEXT DEFAULT 'it''s' REFERENCES "lists" ("id") ON DELETE SET NULL`,
		postgres.Dialect: `ALTER TABLE "todos" ADD COLUMN "li""st" TEXT DEFAULT 'it''s' REFERENCES "lists" ("id") ON DELETE SET NULL`,
	} {
		got, err := dialect.AddColumn(d, "todos", c)
		if err != nil || got != want {
			t.Errorf("%s: %q, %v\nwant %q", d.Name(), got, err, want)
		}
	}
	if _, err := dialect.AddColumn(sqlite.Dialect, "t", &tabledef.Column{Name: "n", Kind: tabledef.KindInt, HasDefault: true, Default: "x"}); err == nil {
		t.Error("a default of the wrong kind must be an error")
	}
}

func TestBaseType(t *testing.T) {
	auto := &tabledef.Column{Name: "n", Kind: tabledef.KindBigInt, AutoIncrement: true}
	if got := dialect.BaseType(sqlite.Dialect, auto); got != "INTEGER" {
		t.Errorf("sqlite: %q", got)
	}
	if got := dialect.BaseType(postgres.Dialect, auto); got != "BIGINT" {
		t.Errorf("postgres: %q", got)
	}
	if got := dialect.BaseType(postgres.Dialect, &tabledef.Column{Kind: tabledef.KindJSON}); got != "JSONB" {
		t.Errorf("postgres json: %q", got)
	}
}
