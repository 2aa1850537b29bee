package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// Collect runs on a schedule, on a goroutine stopped with the server.
func ExampleHandler_Collect() {
	db, err := orm.Open(sqlite.Dialect, ":memory:")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	h, err := server.NewHandler(server.Options[User]{
		Schema: exSchema, DB: db, Mutators: exMutators,
		Auth: func(r *http.Request) (rowauth.Identity, User, error) {
			return rowauth.Identity{}, User{}, errors.New("not shown here")
		},
		GroupTTL: 14 * 24 * time.Hour, // forget groups idle for two weeks
	})
	if err != nil {
		panic(err)
	}
	defer h.Close(context.Background())

	ctx, stop := context.WithCancel(context.Background())
	defer stop() // at shutdown
	go func() {
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			res, err := h.Collect(ctx)
			if err != nil && ctx.Err() == nil {
				slog.Error("collecting idle client groups", "err", err)
				continue
			}
			slog.Info("collected idle client groups", "groups", res.Groups, "cvrs", res.CVRs+res.Pruned)
		}
	}()

	res, err := h.Collect(ctx) // and once at start
	fmt.Println(res.Groups, err)
	// Output: 0 <nil>
}
