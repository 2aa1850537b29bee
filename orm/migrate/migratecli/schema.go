package migratecli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
)

// schemaFlags are the schema command's flags.
type schemaFlags struct {
	target
	dialect string
}

func (c Command) schemaFlagSet(f *schemaFlags) *flag.FlagSet {
	fs := flags("schema")
	c.addTarget(fs, &f.target)
	fs.StringVar(&f.dialect, "dialect", "", "print the DDL for this `engine` (sqlite or postgres) and open no database")
	return fs
}

const schemaUsage = `usage: %[1]s schema [-data DIR | -postgres URL | -dialect sqlite|postgres]

Creates the tables and indexes of the schema (version %[2]s) that the
database lacks, never altering or dropping anything (use migrate for
that), then prints the statements that create the schema on that engine,
in the order they run on an empty database. With -dialect it only prints
them and opens no database.

flags:
`

// dialects are the engines -dialect names.
var dialects = map[string]dialect.Dialect{"sqlite": sqlite.Dialect, "postgres": postgres.Dialect}

func (c Command) schema(ctx context.Context, args []string, stdout io.Writer) error {
	var f schemaFlags
	if err := parse(c.schemaFlagSet(&f), args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	if f.dialect != "" {
		d, ok := dialects[f.dialect]
		if !ok {
			return usagef("-dialect %q: want sqlite or postgres", f.dialect)
		}
		if f.dataSet || f.postgres != "" {
			return usagef("-dialect prints without a database: give it alone")
		}
		fmt.Fprintf(stdout, "-- schema version %s, %s\n", c.Schema.Version(), d.Name())
		return c.printDDL(stdout, d)
	}
	db, pool, where, err := c.open(&f.target)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := orm.EnsureSchema(ctx, c.Schema, db); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "-- schema version %s, ensured in %s\n", c.Schema.Version(), where)
	return c.printDDL(stdout, db.Dialect())
}

func (c Command) printDDL(w io.Writer, d dialect.Dialect) error {
	stmts, err := migrate.CreateSQL(d, c.Schema)
	if err != nil {
		return err
	}
	printSQL(w, "", stmts)
	return nil
}
