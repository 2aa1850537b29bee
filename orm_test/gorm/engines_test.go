package gormtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/plasma-go/plasma/dialect"
	pgdialect "github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlitedialect"
	"github.com/plasma-go/plasma/orm"
)

// envPostgres names the PostgreSQL server the postgres subtests use.
const envPostgres = "PLASMA_TEST_POSTGRES"

// engine is one database GORM opened, with plasma on the same pool.
type engine struct {
	name    string // "sqlite" or "postgres"
	gorm    *gorm.DB
	sql     *sql.DB // GORM's pool
	dialect dialect.Dialect
	plasma  *orm.DB // on GORM's pool
}

// engines runs body as subtests "sqlite" (glebarez) and "postgres"
// (gorm.io/driver/postgres), each on a fresh database. Without
// PLASMA_TEST_POSTGRES the postgres subtest skips, saying so.
func engines(t *testing.T, body func(t *testing.T, e *engine)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "app.db")
		body(t, open(t, "sqlite", sqlite.Open(sqlitedialect.DSN(path)), sqlitedialect.Dialect))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresSchema(t)
		body(t, open(t, "postgres", postgres.Open(dsn), pgdialect.Dialect))
	})
}

func open(t *testing.T, name string, d gorm.Dialector, pd dialect.Dialect) *engine {
	t.Helper()
	gdb, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("gorm.Open %s: %v", name, err)
	}
	sqldb, err := gdb.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqldb.SetMaxOpenConns(4) // PostgreSQL's connections are shared by every test run
	t.Cleanup(func() { sqldb.Close() })
	return &engine{name: name, gorm: gdb, sql: sqldb, dialect: pd, plasma: orm.New(sqldb, pd)}
}

// postgresSchema returns the URL of a fresh schema on the server
// PLASMA_TEST_POSTGRES names, dropped when t ends; it skips t without one.
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv(envPostgres)
	if base == "" {
		t.Skipf("PostgreSQL half skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run it", envPostgres)
	}
	admin, err := pgdialect.Open(base)
	if err != nil {
		t.Fatalf("%s is set but PostgreSQL does not answer: %v", envPostgres, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "plasma_gorm_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+dialect.QuoteIdent(schema)); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+dialect.QuoteIdent(schema)+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
