package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plasma-go/plasma/examples/todo"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
)

func init() {
	commands["migrate"] = command{
		summary: "diff the example app's schema against its database and apply the additive changes",
		run:     runMigrate,
	}
}

const migrateUsage = `usage: plasma migrate [-data DIR | -postgres URL] [--dry-run] [--json] [--allow STEP]...

Compares the example app's schema with its database and applies what is
additive (new tables, columns, indexes, ...) in one transaction, printing a
line per step. Destructive steps (drops, kind changes, ...) are refused, and
nothing is applied, unless --allow names each one as --dry-run prints it,
for example --allow 'drop column todos.note'.

flags:
`

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runMigrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("migrate", migrateUsage, stdout)
	data := fs.String("data", "./plasma-data", "directory of the SQLite database file (plasma.db)")
	pgURL := fs.String("postgres", "", "PostgreSQL URL to migrate instead of SQLite, e.g. postgres://user@host:5432/db?sslmode=disable")
	dryRun := fs.Bool("dry-run", false, "print the diff and its SQL; apply nothing")
	asJSON := fs.Bool("json", false, "print the diff as JSON instead of text")
	var allow stringList
	fs.Var(&allow, "allow", "apply this destructive step, named as the diff prints it (repeatable)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	dataSet := false
	fs.Visit(func(f *flag.Flag) { dataSet = dataSet || f.Name == "data" })
	if dataSet && *pgURL != "" {
		return fmt.Errorf("give -data or -postgres, not both")
	}
	opts := migrate.Options{DryRun: *dryRun}
	for _, a := range allow {
		al, err := migrate.ParseAllowance(a)
		if err != nil {
			return err
		}
		opts.Allow = append(opts.Allow, al)
	}

	var (
		db    *orm.DB
		where string
		err   error
	)
	if *pgURL != "" {
		db, err = orm.OpenPostgres(*pgURL)
		where = "postgres"
	} else {
		if err := os.MkdirAll(*data, 0o755); err != nil {
			return err
		}
		path := filepath.Join(*data, "plasma.db")
		db, err = orm.OpenSQLite(path)
		where = "sqlite " + path
	}
	if err != nil {
		return err
	}
	defer db.Close()

	if !*asJSON {
		fmt.Fprintf(stdout, "-- example schema version %s, %s\n", todo.Schema.Version(), where)
		if !*dryRun {
			opts.Progress = func(s migrate.Step) { fmt.Fprintf(stdout, "applied: %s\n", s) }
		}
	}
	diff, err := migrate.Run(ctx, todo.Schema, db, opts)
	var refused *migrate.MigrationRefused
	if err != nil && !errors.As(err, &refused) {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(diff); encErr != nil {
			return encErr
		}
		return err
	}
	switch {
	case refused != nil:
		fmt.Fprint(stdout, diff)
		fmt.Fprintln(stdout, "refused: nothing applied")
		return err
	case *dryRun:
		fmt.Fprint(stdout, diff)
		if len(diff.SQL) > 0 {
			fmt.Fprintln(stdout, "sql:")
			for _, s := range diff.SQL {
				if strings.HasPrefix(s, "--") {
					fmt.Fprintf(stdout, "  %s\n", s)
				} else {
					fmt.Fprintf(stdout, "  %s;\n", s)
				}
			}
		}
		if n := len(diff.Refused()); n > 0 {
			fmt.Fprintf(stdout, "dry run: nothing applied; %d step(s) would be refused (name them with --allow)\n", n)
		} else {
			fmt.Fprintln(stdout, "dry run: nothing applied")
		}
	case diff.Empty() && !diff.Applied:
		fmt.Fprintf(stdout, "nothing to do: the database matches schema version %s\n", diff.DeclaredVersion)
	default:
		fmt.Fprintf(stdout, "done: %d step(s) applied, schema version %s recorded\n", len(diff.Steps), diff.DeclaredVersion)
	}
	if !*dryRun {
		for _, u := range diff.Untracked {
			if u.Index != "" {
				fmt.Fprintf(stdout, "left alone: index %q of table %q, which the schema does not declare\n", u.Index, u.Table)
			} else {
				fmt.Fprintf(stdout, "left alone: table %q, which the schema does not declare\n", u.Table)
			}
		}
	}
	return nil
}
