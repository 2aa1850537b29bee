package ormtest_test

import (
	"os"
	"testing"

	ormtest "github.com/plasma-go/plasma/orm_test"
)

// TestMain runs this suite's PostgreSQL half on every driver mode, lib/pq
// with and without its statement cache and pgx, unless
// PLASMA_TEST_PG_DRIVERS chooses otherwise: the integration suite is
// where each must show that every column kind round-trips.
func TestMain(m *testing.M) {
	if os.Getenv(ormtest.EnvPostgresDrivers) == "" {
		os.Setenv(ormtest.EnvPostgresDrivers, ormtest.DriverPQ+","+ormtest.DriverPQNoCache+","+ormtest.DriverPGX)
	}
	os.Exit(m.Run())
}
