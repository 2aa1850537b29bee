package changelog

import (
	"testing"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
)

func TestOneChangeSQL(t *testing.T) {
	for d, want := range map[string]string{
		oneChangeSQL(nil, sqlite.Dialect, false):   `INSERT INTO "_plasma_changes" ("region", "table_name", "row_id", "op", "data", "client_id", "mutation_id") VALUES (?, ?, ?, ?, ?, ?, ?)`,
		oneChangeSQL(nil, postgres.Dialect, false): `INSERT INTO "_plasma_changes" ("region", "table_name", "row_id", "op", "data", "client_id", "mutation_id") VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		oneChangeSQL(nil, postgres.Dialect, true):  `INSERT INTO "_plasma_changes" ("region", "table_name", "row_id", "op", "data", "client_id", "mutation_id", "scope") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
	} {
		if d != want {
			t.Errorf("got  %s\nwant %s", d, want)
		}
	}
}
