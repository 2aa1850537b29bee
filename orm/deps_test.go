package orm_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The engines' drivers.
const (
	sqliteDriver = "modernc.org/sqlite"
	pqDriver     = "github.com/lib/pq"
	pgxDriver    = "github.com/jackc/pgx/v5"
)

// deps lists the packages pkg links (go list -deps).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go list needs the go command: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

// TestOrmLinksNoDriver: package orm renders and runs SQL through
// dialect.Dialect and dialect.Executor only; the drivers are linked by
// the dialect packages an application imports.
func TestOrmLinksNoDriver(t *testing.T) {
	list := deps(t, "github.com/plasma-go/plasma/orm")
	if !slices.Contains(list, "github.com/plasma-go/plasma/dialect") {
		t.Fatalf("go list -deps orm looks wrong: %v", list)
	}
	for _, drv := range []string{sqliteDriver, pqDriver, pgxDriver} {
		for _, p := range list {
			if p == drv || strings.HasPrefix(p, drv+"/") {
				t.Errorf("package orm links %s", p)
			}
		}
	}
}

// TestPostgresOnlyLinksNoSQLite: an application on PostgreSQL with the
// plugins and the sync server (testdata/pgonly) links no SQLite.
func TestPostgresOnlyLinksNoSQLite(t *testing.T) {
	list := deps(t, "github.com/plasma-go/plasma/orm/testdata/pgonly")
	if !slices.Contains(list, pqDriver) {
		t.Fatalf("pgonly does not link %s: go list -deps looks wrong: %v", pqDriver, list)
	}
	for _, p := range list {
		if p == sqliteDriver || strings.HasPrefix(p, sqliteDriver+"/") || p == "github.com/plasma-go/plasma/dialect/sqlite" {
			t.Errorf("a PostgreSQL-only application links %s", p)
		}
	}
}
