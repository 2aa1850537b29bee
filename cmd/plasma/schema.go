package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
)

func init() {
	commands["schema"] = command{
		summary: "create the example app's tables in embedded SQLite and print the schema",
		run:     runSchema,
	}
}

func runSchema(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	data := fs.String("data", "./plasma-data", "directory for the SQLite database file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*data, "plasma.db")
	db, err := orm.OpenSQLite(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := orm.EnsureSchema(ctx, todo.Schema, db); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "-- example schema version %s, ensured in %s (%s)\n", todo.Schema.Version(), path, db.Dialect().Name())
	for _, t := range todo.Schema.Tables() {
		stmts, err := dialect.CreateTable(db.Dialect(), t.Def(), true)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			fmt.Fprintf(stdout, "%s;\n", s)
		}
	}
	return nil
}
