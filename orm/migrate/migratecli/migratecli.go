// Package migratecli is the migrate and schema commands for an
// application's own schema. An application's main hands it its schema and
// its arguments, the way goose and atlas providers are used:
//
//	func main() {
//		os.Exit(migratecli.Main(context.Background(), app.Schema, os.Args[1:], os.Stdout, os.Stderr))
//	}
//
// which gives the binary three commands:
//
//	app migrate [-data DIR | -postgres URL] [-dry-run] [-json] [-allow STEP]...
//	app schema  [-data DIR | -postgres URL | -dialect sqlite|postgres]
//	app pull    [-data DIR | -sqlite FILE | -postgres URL] [-package NAME] [-o FILE] [-tables T1,T2] [-version V] [-lossy]
//
// migrate diffs the schema against the database with orm/migrate and
// applies the additive steps in one transaction, printing a line per step;
// a destructive step is refused, and nothing applied, unless -allow names
// it as -dry-run prints it. schema creates the missing tables (as
// orm.EnsureSchema does) and prints the DDL that creates the schema on that
// engine; with -dialect it prints that DDL and opens no database. pull
// needs no schema: it reads an existing database (read-only) and writes Go
// source declaring its tables, with orm/migrate/schemagen, so an
// application can adopt a database another tool made.
//
// The database is a SQLite file, DIR/plasma.db, or a PostgreSQL URL. Flags
// take one or two dashes. Exit codes: 0 success (a dry run that would be
// refused included), 1 failure or a refused migration, 2 bad usage.
//
// The package opens either engine from its flags, so it links both
// drivers; an application that must not link SQLite calls orm/migrate
// itself. An application with commands of its own uses Command.Run for
// these (cmd/plasma does, for the example app).
package migratecli

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
)

// Exit codes Run returns.
const (
	ExitOK     = 0 // done, or usage asked for with -h
	ExitFailed = 1 // an error, or a refused migration (nothing applied)
	ExitUsage  = 2 // bad flags or an unknown command
)

const defaultData = "./plasma-data"

// Command is the migrate, schema and pull commands for one schema (pull
// does without it).
type Command struct {
	// Schema is the application's declared schema. Required but for
	// pull.
	Schema *orm.Schema
	// Name is the program name in usage text and messages; "" means the
	// base name of os.Args[0].
	Name string
	// DataDir is the default of -data, the directory of the SQLite file
	// plasma.db; "" means ./plasma-data.
	DataDir string
}

// Main runs Command{Schema: s}.Run: the command args[0] names, with the
// flags after it, and returns the exit code.
func Main(ctx context.Context, s *orm.Schema, args []string, stdout, stderr io.Writer) int {
	return Command{Schema: s}.Run(ctx, args, stdout, stderr)
}

// Run runs "migrate", "schema" or "pull" (args[0]) with the flags that follow,
// writing results to stdout and errors to stderr, and returns the exit
// code (ExitOK, ExitFailed, ExitUsage). "help", -h or no arguments print
// the usage.
func (c Command) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		c.usage(stderr)
		return ExitUsage
	}
	var run func(context.Context, []string, io.Writer) error
	switch args[0] {
	case "migrate":
		run = c.migrate
	case "schema":
		run = c.schema
	case "pull":
		run = c.pull
	case "help", "-h", "-help", "--help":
		c.usage(stdout)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", c.name(), args[0])
		c.usage(stderr)
		return ExitUsage
	}
	if c.Schema == nil && args[0] != "pull" {
		fmt.Fprintf(stderr, "%s %s: no schema given\n", c.name(), args[0])
		return ExitFailed
	}
	return c.exit(run(ctx, args[1:], stdout), args[0], stdout, stderr)
}

// exit reports err and maps it to an exit code.
func (c Command) exit(err error, cmd string, stdout, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, c.commandUsage(cmd))
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s %s: %v\n\n%s", c.name(), cmd, ue.err, c.commandUsage(cmd))
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "%s %s: %v\n", c.name(), cmd, err)
		return ExitFailed
	}
}

func (c Command) name() string {
	if c.Name != "" {
		return c.Name
	}
	return filepath.Base(os.Args[0])
}

func (c Command) dataDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	return defaultData
}

func (c Command) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", c.name())
	fmt.Fprintf(w, "  migrate    diff the schema against the database and apply the additive changes\n")
	fmt.Fprintf(w, "  schema     create the missing tables and print the schema's DDL\n")
	fmt.Fprintf(w, "  pull       write Go source declaring an existing database's tables\n")
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags.\n", c.name())
}

// usageError is a mistake in the command line: exit code 2, with usage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// flags returns a subcommand's flag set. It prints nothing itself: Run
// prints the usage on -h (to stdout) or after an error (to stderr).
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args into fs and refuses positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return &usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	return nil
}

// flagDefaults renders fs's flags as flag.PrintDefaults does.
func flagDefaults(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

// target is where the database flags point: a SQLite directory or a
// PostgreSQL URL.
type target struct {
	data, postgres string
	dataSet        bool
}

// addTarget declares -data and -postgres on fs.
func (c Command) addTarget(fs *flag.FlagSet, t *target) {
	fs.Func("data", "`DIR` holding the SQLite database file plasma.db (default "+c.dataDir()+")", func(v string) error {
		t.data, t.dataSet = v, true
		return nil
	})
	fs.StringVar(&t.postgres, "postgres", "", "PostgreSQL `URL` to use instead of SQLite, e.g. postgres://user@host:5432/db?sslmode=disable")
}

func (t *target) check() error {
	if t.dataSet && t.postgres != "" {
		return usagef("give -data or -postgres, not both")
	}
	if t.dataSet && t.data == "" {
		return usagef("-data needs a directory")
	}
	return nil
}

// open opens the database t names; where describes it for people. The
// caller closes the returned pool.
func (c Command) open(t *target) (db *orm.DB, pool *sql.DB, where string, err error) {
	if t.postgres != "" {
		pool, err = postgres.Open(t.postgres)
		if err != nil {
			return nil, nil, "", err
		}
		return orm.New(pool, postgres.Dialect), pool, "postgres", nil
	}
	dir := t.data
	if !t.dataSet {
		dir = c.dataDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, "", err
	}
	path := filepath.Join(dir, "plasma.db")
	if pool, err = sqlite.Open(path); err != nil {
		return nil, nil, "", err
	}
	return orm.New(pool, sqlite.Dialect), pool, "sqlite " + path, nil
}

// printSQL prints statements one a line, each ended by a semicolon
// (comments, which plans may hold, as they are).
func printSQL(w io.Writer, indent string, stmts []string) {
	for _, s := range stmts {
		if strings.HasPrefix(s, "--") {
			fmt.Fprintf(w, "%s%s\n", indent, s)
		} else {
			fmt.Fprintf(w, "%s%s;\n", indent, s)
		}
	}
}

// refusedError is migrate's refusal, matched here in one place.
func refusedError(err error) bool {
	var r *migrate.RefusedError
	return errors.As(err, &r)
}

// commandUsage is a subcommand's usage text and flags.
func (c Command) commandUsage(cmd string) string {
	switch cmd {
	case "migrate":
		return fmt.Sprintf(migrateUsage, c.name(), c.Schema.Version()) + flagDefaults(c.migrateFlagSet(new(migrateFlags)))
	case "schema":
		return fmt.Sprintf(schemaUsage, c.name(), c.Schema.Version()) + flagDefaults(c.schemaFlagSet(new(schemaFlags)))
	case "pull":
		return fmt.Sprintf(pullUsage, c.name()) + flagDefaults(c.pullFlagSet(new(pullFlags)))
	}
	return ""
}
