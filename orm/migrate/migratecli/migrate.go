package migratecli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/plasma-go/plasma/orm/migrate"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// migrateFlags are the migrate command's flags.
type migrateFlags struct {
	target
	dryRun, json bool
	allow        stringList
}

func (c Command) migrateFlagSet(f *migrateFlags) *flag.FlagSet {
	fs := flags("migrate")
	c.addTarget(fs, &f.target)
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the diff and its SQL; apply nothing")
	fs.BoolVar(&f.json, "json", false, "print the diff as JSON (migrate.SchemaDiff) instead of text")
	fs.Var(&f.allow, "allow", "apply this destructive `STEP`, named as the diff prints it (repeatable)")
	return fs
}

const migrateUsage = `usage: %[1]s migrate [-data DIR | -postgres URL] [-dry-run] [-json] [-allow STEP]...

Compares the schema (version %[2]s) with the database and applies what is
additive (new tables, columns, indexes, ...) in one transaction, printing a
line per step. Destructive steps (drops, kind changes, ...) are refused, and
nothing is applied, unless -allow names each one as -dry-run prints it,
for example -allow 'drop column todos.note'.

flags:
`

func (c Command) migrate(ctx context.Context, args []string, stdout io.Writer) error {
	var f migrateFlags
	if err := parse(c.migrateFlagSet(&f), args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	opts := migrate.Options{DryRun: f.dryRun}
	for _, a := range f.allow {
		al, err := migrate.ParseAllowance(a)
		if err != nil {
			return &usageError{fmt.Errorf("-allow: %w", err)}
		}
		opts.Allow = append(opts.Allow, al)
	}
	db, pool, where, err := c.open(&f.target)
	if err != nil {
		return err
	}
	defer pool.Close()

	if !f.json {
		fmt.Fprintf(stdout, "-- schema version %s, %s\n", c.Schema.Version(), where)
		if !f.dryRun {
			opts.Progress = func(s migrate.Step) { fmt.Fprintf(stdout, "applied: %s\n", s) }
		}
	}
	diff, err := migrate.Run(ctx, c.Schema, db, opts)
	if err != nil && !refusedError(err) {
		return err
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(diff); encErr != nil {
			return encErr
		}
		return err
	}
	if err != nil {
		fmt.Fprint(stdout, diff)
		fmt.Fprintln(stdout, "refused: nothing applied")
		return err
	}
	report(stdout, diff, f.dryRun)
	return nil
}

// report prints the outcome of a dry run or an applied (or empty)
// migration, and what was left alone.
func report(w io.Writer, diff *migrate.SchemaDiff, dryRun bool) {
	switch {
	case dryRun:
		fmt.Fprint(w, diff)
		if len(diff.SQL) > 0 {
			fmt.Fprintln(w, "sql:")
			printSQL(w, "  ", diff.SQL)
		}
		if n := len(diff.Refused()); n > 0 {
			fmt.Fprintf(w, "dry run: nothing applied; %d step(s) would be refused (name them with -allow)\n", n)
		} else {
			fmt.Fprintln(w, "dry run: nothing applied")
		}
		return
	case diff.Empty() && !diff.Applied:
		fmt.Fprintf(w, "nothing to do: the database matches schema version %s\n", diff.DeclaredVersion)
	default:
		fmt.Fprintf(w, "done: %d step(s) applied, schema version %s recorded\n", len(diff.Steps), diff.DeclaredVersion)
	}
	for _, u := range diff.Untracked {
		if u.Index != "" {
			fmt.Fprintf(w, "left alone: index %q of table %q, which the schema does not declare\n", u.Index, u.Table)
		} else {
			fmt.Fprintf(w, "left alone: table %q, which the schema does not declare\n", u.Table)
		}
	}
}
