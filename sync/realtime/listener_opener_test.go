package realtime_test

import (
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/realtime"
)

// bareDialect is PostgreSQL's dialect stripped of its optional
// interfaces: it notifies (NotifyListen) but opens no listener.
type bareDialect struct{ dialect.Dialect }

// TestListenerFromTheDialect: with Options.NewListener nil the hub asks
// the database's dialect for its listener (for PostgreSQL, lib/pq's;
// TestAcrossProcesses runs it); a dialect that opens none makes New
// fail and say what to set, rather than linking a driver of its own.
func TestListenerFromTheDialect(t *testing.T) {
	tg := ormtest.Postgres(t)
	if _, ok := tg.Dialect.(dialect.ListenerOpener); !ok {
		t.Fatal("PostgreSQL's dialect opens no listener")
	}
	db := orm.New(tg.Open(t), bareDialect{tg.Dialect})
	_, err := realtime.New(realtime.Options{
		DB: db, Schema: testSchema, Auth: testAuth, SkipEnsure: true,
		Listener: listenerDSN(t, randomName("plasma_rt_")),
	})
	if err == nil || !strings.Contains(err.Error(), "Options.NewListener") {
		t.Fatalf("New with a dialect that opens no listener: %v", err)
	}
}
