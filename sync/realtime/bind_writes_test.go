package realtime_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
)

// TestReconnectBindsOnce: the first connection to a client group binds
// it with one write; connecting again to a group already bound to the
// same user reads the binding and writes nothing (the default BindGroup
// spares the write, which on SQLite would queue behind every other
// writer).
func TestReconnectBindsOnce(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		var binds atomic.Int32
		base := tg.DB.Use(func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				if strings.HasPrefix(st.SQL, `INSERT INTO "`+server.GroupsTable+`"`) {
					binds.Add(1)
				}
				return next(ctx, st)
			}
		})
		e := newEnv(t, tg, base, nil)
		for i := range 3 {
			c := e.connect(params{user: "alice", group: "ga", client: "a1"})
			c.close()
			if n := binds.Load(); n != 1 {
				t.Fatalf("after connection %d: %d writes binding the group, want 1", i+1, n)
			}
		}
	})
}
