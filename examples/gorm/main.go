// Command gorm is a small GORM app moving to plasma one table at a time:
// GORM keeps its users and activity tables, plasma has taken over notes
// and syncs them to clients (the Replicache protocol at /sync/), on the
// same database and in the same transactions. Its old REST endpoint,
// POST /api/notes, now writes through plasma, so synced clients see those
// notes too.
//
//	go run . -data notes.db                  # SQLite through github.com/glebarez/sqlite
//	go run . -postgres postgres://…          # PostgreSQL through gorm.io/driver/postgres
//
// It lives in a Go module of its own: GORM's SQLite driver registers the
// database/sql name "sqlite", as modernc.org/sqlite (which plasma's
// dialect/sqlite links) does, so plasma's SQLite dialect comes from
// dialect/sqlitedialect, which links no driver.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/plasma-go/plasma/dialect/sqlitedialect"
	"github.com/plasma-go/plasma/sync/server"
)

func main() {
	data := flag.String("data", "notes.db", "SQLite database file")
	pg := flag.String("postgres", "", "PostgreSQL URL (instead of -data)")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dialector := sqlite.Open(sqlitedialect.DSN(*data))
	if *pg != "" {
		dialector = postgres.Open(*pg)
	}
	gdb, err := gorm.Open(dialector, &gorm.Config{})
	if err != nil {
		log.Fatal(err)
	}
	pool, err := gdb.DB()
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	app, err := New(ctx, gdb)
	if err != nil {
		log.Fatal(err)
	}
	defer app.Close(context.Background())

	srv := server.HTTPServer(app.Routes())
	srv.Addr = *addr
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	log.Printf("notes on http://%s (sync at /sync/, pokes at /sync/ws, REST at /api/)", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
