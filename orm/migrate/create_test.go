package migrate_test

import (
	"slices"
	"testing"

	"github.com/plasma-go/plasma/internal/testschema"
	"github.com/plasma-go/plasma/orm/migrate"
	ormtest "github.com/plasma-go/plasma/orm_test"
)

// CreateSQL is what Run executes on an empty database, without one: the
// same statements in the same order, for every kind and modifier and a
// reference cycle (parents <-> every).
func TestCreateSQLIsRunOnEmptyDatabase(t *testing.T) {
	each(t, func(t *testing.T, tg *ormtest.Target) {
		s := schema(t, "1", testschema.AllKinds()...)
		want := mustDiff(t, s, tg.DB).SQL
		got, err := migrate.CreateSQL(tg.Dialect, s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("CreateSQL:\n%q\nDiff on an empty database:\n%q", got, want)
		}
		assertTables(t, tg, 0) // neither created anything
	})
	if _, err := migrate.CreateSQL(nil, nil); err == nil {
		t.Fatal("nil dialect and schema: no error")
	}
}

// assertTables checks how many tables the database has.
func assertTables(t *testing.T, tg *ormtest.Target, want int) {
	t.Helper()
	live, err := migrate.Introspect(ctx, tg.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Tables) != want {
		t.Fatalf("%d tables, want %d", len(live.Tables), want)
	}
}
