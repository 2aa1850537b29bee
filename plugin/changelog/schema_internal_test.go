package changelog

import (
	"slices"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
)

// oneLine folds the whitespace of a statement written over several lines.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("( ", "(", " )", ")").Replace(s)
}

// TestLogDDLUnchanged: the log declared as a table definition renders the
// statements that were written out by hand before (GENERATED ALWAYS id,
// partial index), whitespace aside; sync/server's TestBookkeepingDDLUnchanged
// compares what the database makes of them.
func TestLogDDLUnchanged(t *testing.T) {
	pg := []string{
		`CREATE TABLE IF NOT EXISTS "_plasma_changes" ( "id" BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "version" BIGINT,
			"region" TEXT NOT NULL, "table_name" TEXT NOT NULL, "row_id" TEXT NOT NULL, "op" TEXT NOT NULL, "data" TEXT,
			"client_id" TEXT, "mutation_id" BIGINT, "scope" TEXT )`,
		`CREATE UNIQUE INDEX IF NOT EXISTS "_plasma_changes_region_version" ON "_plasma_changes" ("region", "version")`,
		`CREATE INDEX IF NOT EXISTS "_plasma_changes_pending" ON "_plasma_changes" ("region", "id") WHERE "version" IS NULL`,
		`CREATE TABLE IF NOT EXISTS "_plasma_region_versions" ("region" TEXT NOT NULL, "version" BIGINT NOT NULL, "covered" BIGINT, PRIMARY KEY ("region"))`,
		// A region table made before covered existed gets it here.
		`ALTER TABLE "_plasma_region_versions" ADD COLUMN IF NOT EXISTS "covered" BIGINT`,
		// A log made before scope existed gets it here.
		`ALTER TABLE "_plasma_changes" ADD COLUMN IF NOT EXISTS "scope" TEXT`,
		oneLine(publishTryFunction),
		oneLine(publishFunction),
		oneLine(publishFunction1),
	}
	lite := []string{
		`CREATE TABLE IF NOT EXISTS "_plasma_changes" ("version" INTEGER PRIMARY KEY AUTOINCREMENT, "region" TEXT NOT NULL,
			"table_name" TEXT NOT NULL, "row_id" TEXT NOT NULL, "op" TEXT NOT NULL, "data" TEXT, "client_id" TEXT, "mutation_id" BIGINT)`,
	}
	for name, c := range map[string]struct {
		got  func() ([]string, error)
		want []string
	}{
		"postgres": {func() ([]string, error) { return logDDL(postgres.Dialect) }, pg},
		"sqlite":   {func() ([]string, error) { return logDDL(sqlite.Dialect) }, lite},
	} {
		got, err := c.got()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range got {
			got[i] = oneLine(got[i])
		}
		want := make([]string, len(c.want))
		for i, w := range c.want {
			want[i] = oneLine(w)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: logDDL =\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
