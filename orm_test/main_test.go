package ormtest_test

import (
	"os"
	"strings"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
)

// TestMain runs this suite's PostgreSQL half on every driver mode, lib/pq
// with and without its statement cache and pgx, unless
// PLASMA_TEST_PG_DRIVERS chooses otherwise: the integration suite is
// where each must show that every column kind round-trips. It runs every
// body on every executor mode too (pool, caller's *sql.Tx, *sql.Conn, bun)
// unless PLASMA_TEST_EXEC_MODES chooses otherwise: orm must behave the
// same on each executor an application can hand it.
func TestMain(m *testing.M) {
	if os.Getenv(ormtest.EnvPostgresDrivers) == "" {
		os.Setenv(ormtest.EnvPostgresDrivers, ormtest.DriverPQ+","+ormtest.DriverPQNoCache+","+ormtest.DriverPGX)
	}
	if os.Getenv(ormtest.EnvExecModes) == "" {
		os.Setenv(ormtest.EnvExecModes, strings.Join(ormtest.AllExecModes, ","))
	}
	os.Exit(m.Run())
}
