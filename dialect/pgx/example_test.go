package pgx_test

import (
	"context"
	"fmt"
	"os"

	"github.com/plasma-go/plasma/dialect/pgx"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/orm"
)

// Open a plasma DB on pgx rather than lib/pq: the same dialect, another
// pool. The DB leaves the pool to its owner, who closes it.
func ExampleOpen() {
	sqldb, err := pgx.Open(os.Getenv("PLASMA_TEST_POSTGRES"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sqldb.Close()
	db := orm.New(sqldb, pgx.Dialect)
	_ = db // db.Select(...), db.Insert(t).Model(&row), ...
}

// Listen for notifications on a dedicated pgx connection. A nil
// notification means the connection was re-established and
// notifications may have been missed.
func ExampleNewListener() {
	ctx := context.Background()
	l, err := pgx.NewListener(os.Getenv("PLASMA_TEST_POSTGRES"), postgres.ListenerOptions{
		OnEvent: func(ev postgres.ListenerEvent, err error) { fmt.Println("listener:", ev, err) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	if err := l.Listen(ctx, "plasma_changes"); err != nil {
		fmt.Println(err)
		return
	}
	for n := range l.Notify() {
		if n == nil {
			continue // reconnected: catch up from the change log
		}
		fmt.Println(n.Channel, n.Payload)
	}
}
