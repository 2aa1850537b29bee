// Command pgonly is a PostgreSQL-only application, for orm's driver-split
// test (deps_test.go): it uses orm, the plugins and the sync server on
// PostgreSQL, and must not link SQLite.
package main

import (
	"fmt"
	"os"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/crdtcol"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
)

func main() {
	db, err := orm.Open(postgres.Dialect, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err, mutator.IsTemporary(err))
		os.Exit(1)
	}
	defer db.Close()
	_ = changelog.Ensure
	_ = crdtcol.Middleware
	_ = rowauth.WithIdentity
	_ = server.NewHandler[struct{}]
}
