package schemagen

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"slices"
	"strings"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate"
)

// Options says what Generate writes.
type Options struct {
	// Package is the generated file's package name; "" means "schema".
	Package string
	// Tables names the tables to declare; nil means every table but
	// plasma's own (named with orm.ReservedPrefix). A table that one of
	// them references must be among them.
	Tables []string
	// Version is the schema version the generated MustDefineSchema
	// declares; "" means the version the last migrate.Run recorded in the
	// database, or "1".
	Version string
	// Lossy declares what the DSL can and describes the rest in comments,
	// instead of failing with an *UnsupportedError.
	Lossy bool
}

// ErrNoTables is returned for a database with no table to declare.
var ErrNoTables = errors.New("plasma: schemagen: the database has no tables to declare")

// ErrUnknownTable is returned when Options.Tables names a table the
// database does not have, or one of plasma's own.
var ErrUnknownTable = errors.New("plasma: schemagen: no such table")

// Problem is one thing a database has that the generated declaration
// cannot say, so that the declaration would differ from the database.
type Problem struct {
	Table  string // the table
	Column string // the column, if the problem is in one
	What   string // what the database has and what the declaration does instead
}

func (p Problem) String() string {
	if p.Column == "" {
		return fmt.Sprintf("table %q: %s", p.Table, p.What)
	}
	return fmt.Sprintf("table %q, column %q: %s", p.Table, p.Column, p.What)
}

// UnsupportedError lists what a database has that a plasma schema cannot
// declare. Options.Lossy generates the declaration anyway.
type UnsupportedError struct {
	Dialect  string
	Problems []Problem
}

func (e *UnsupportedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plasma: schemagen: the %s database has %d thing(s) a plasma schema cannot declare (Options.Lossy, or pull -lossy, declares the rest):", e.Dialect, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Generate reads db's database and returns gofmt-ed Go source declaring
// its tables (see the package documentation). db must be a pool or a
// *sql.Conn, as for migrate.Diff, which checks the result.
func Generate(ctx context.Context, db *orm.DB, opts Options) ([]byte, error) {
	if db == nil {
		return nil, errors.New("plasma: schemagen: nil database")
	}
	if opts.Package == "" {
		opts.Package = "schema"
	}
	if !token.IsIdentifier(opts.Package) || opts.Package == "_" {
		return nil, fmt.Errorf("plasma: schemagen: package name %q is not a Go identifier", opts.Package)
	}
	live, err := migrate.Introspect(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("plasma: schemagen: read the database: %w", err)
	}
	if opts.Version == "" {
		opts.Version = live.Version
	}
	if opts.Version == "" {
		opts.Version = "1"
	}
	tables, err := selectTables(live, opts.Tables)
	if err != nil {
		return nil, err
	}
	g := &gen{d: db.Dialect(), live: live, opts: opts}
	for _, t := range tables {
		g.tables = append(g.tables, g.table(t))
	}
	g.checkIndexNames()
	s, err := g.define()
	if err != nil {
		return nil, err
	}
	g.noteLostIndexes()
	if err := g.check(ctx, s, db); err != nil {
		return nil, err
	}
	if len(g.problems) > 0 && !opts.Lossy {
		return nil, &UnsupportedError{Dialect: live.Dialect, Problems: g.problems}
	}
	return g.render()
}

// selectTables returns the tables to declare, in name order.
func selectTables(live *migrate.Database, names []string) ([]*migrate.TableInfo, error) {
	own := func(name string) bool { return strings.HasPrefix(strings.ToLower(name), orm.ReservedPrefix) }
	var out []*migrate.TableInfo
	for _, t := range live.Tables {
		if own(t.Name) || names != nil && !slices.Contains(names, t.Name) {
			continue
		}
		out = append(out, t)
	}
	for _, n := range names {
		if live.Table(n) == nil || own(n) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownTable, n)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoTables
	}
	return out, nil
}

// check diffs the schema against the database: any step on a declared
// table is a difference the declaration could not avoid.
func (g *gen) check(ctx context.Context, s *orm.Schema, db *orm.DB) error {
	diff, err := migrate.Diff(ctx, s, db, migrate.Options{})
	if err != nil {
		return fmt.Errorf("plasma: schemagen: diff the declaration against the database: %w", err)
	}
	for _, st := range diff.Steps {
		td := g.find(st.Table)
		if td == nil || td.skip {
			continue // a table left out, or not selected
		}
		if g.known(st.Table, st.Name) {
			continue // said already, in the problem's own words
		}
		g.problem(td, nil, st.Name, "migrate.Diff finds a difference: "+st.String())
	}
	return nil
}

// known reports whether a problem was noted for the table's column (or
// the table itself, for column "").
func (g *gen) known(table, column string) bool {
	for _, p := range g.problems {
		if p.Table == table && p.Column == column {
			return true
		}
	}
	return false
}

// indexPrefixes are index name prefixes DefineSchema refuses.
var indexPrefixes = []string{"sqlite_", "pg_", orm.ReservedPrefix}

// checkIndexNames leaves out indexes DefineSchema would refuse by name:
// a reserved prefix, or a name another index has up to ASCII case (which
// PostgreSQL allows and SQLite does not).
func (g *gen) checkIndexNames() {
	seen := map[string]bool{}
	for _, td := range g.tables {
		kept := td.indexes[:0]
		for _, ix := range td.indexes {
			f := foldASCII(ix.Name)
			reason := ""
			for _, p := range indexPrefixes {
				if strings.HasPrefix(f, p) {
					reason = fmt.Sprintf("its name starts with %q, which plasma refuses", p)
				}
			}
			if reason == "" && seen[f] {
				reason = "another index has its name, but for case, which plasma refuses (SQLite would take them for one)"
			}
			seen[f] = true
			if reason != "" {
				g.problem(td, nil, "", fmt.Sprintf("index %q is not declared: %s", ix.Name, reason))
				continue
			}
			kept = append(kept, ix)
		}
		td.indexes = kept
	}
}

// noteLostIndexes notes the indexes left out with a column of theirs.
func (g *gen) noteLostIndexes() {
	for _, td := range g.tables {
		if td.skip {
			continue
		}
		for _, ix := range td.indexes {
			if !td.hasColumns(ix.Columns) {
				g.problem(td, nil, "", fmt.Sprintf("index %q is not declared: a column of it is not", ix.Name))
			}
		}
	}
}

// foldASCII folds ASCII case, as SQLite compares names.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
