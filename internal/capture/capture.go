// Package capture keeps the triggers that log writes made outside plasma
// into the change log in step with a schema: the change log (package
// changelog) installs them, and migrations (package migrate) keep them
// current when tables or columns change. The triggers themselves are the
// dialects' (dialect.ChangeCapturer).
package capture

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

const (
	// Table marks a database whose synced tables are captured: one row
	// holding the region outside writes are logged under and, on SQLite,
	// the "skip" flag the triggers obey.
	Table = orm.ReservedPrefix + "capture"
	// Prefix starts the name of every capture trigger and function.
	Prefix = orm.ReservedPrefix + "capture_"
	// Setting is the PostgreSQL setting that tells the triggers to let a
	// statement pass: it holds the statement's statement_timestamp().
	Setting = "plasma.capture_skip"
	// logTable is the change log (changelog.LogTable).
	logTable = orm.ReservedPrefix + "changes"
)

// table is Table's definition.
var table = &tabledef.Table{
	Name: Table,
	Columns: []tabledef.Column{
		{Name: "id", Kind: tabledef.KindInt},
		{Name: "region", Kind: tabledef.KindText},
		{Name: "skip", Kind: tabledef.KindBigInt, Nullable: true, HasDefault: true, Default: int64(-1)},
	},
	PrimaryKey: []string{"id"},
}

// ErrName is returned for a table, column or region name that cannot be
// written into a trigger as a SQL string literal: one with a NUL byte or
// that is not UTF-8.
var ErrName = errors.New("a name with a NUL byte or invalid UTF-8 cannot be captured")

// Literal reports whether s can be written as a SQL string literal: it is
// UTF-8 and has no NUL byte (which ends a statement's text in SQLite, and
// PostgreSQL's text cannot hold).
func Literal(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// Supported reports whether d's engine can capture writes.
func Supported(d dialect.Dialect) bool {
	_, ok := d.(dialect.ChangeCapturer)
	return ok
}

// Installed reports whether the database behind ex captures writes, and
// the region it logs them under.
func Installed(ctx context.Context, ex dialect.Executor, d dialect.Dialect) (region string, ok bool, err error) {
	q := `SELECT 1 FROM "sqlite_master" WHERE "type" = 'table' AND "name" = ?`
	if d.Features().Has(dialect.ConcurrentWrites) {
		q = `SELECT 1 FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname = $1`
	}
	found := false
	if err := each(ctx, ex, q, []any{Table}, func(scan func(...any) error) error {
		var one int
		found = true
		return scan(&one)
	}); err != nil || !found {
		return "", false, err
	}
	err = each(ctx, ex, `SELECT "region" FROM "`+Table+`" WHERE "id" = 1`, nil, func(scan func(...any) error) error {
		ok = true
		return scan(&region)
	})
	return region, ok, err
}

// Name returns the name of table's capture objects: Prefix and a hash of
// the table's name, so that any name, however long or odd, gives a short
// plain identifier, and a renamed table's objects are told from the new
// ones.
func Name(table string) string {
	sum := sha256.Sum256([]byte(table))
	return Prefix + hex.EncodeToString(sum[:8])
}

// Sync makes the database behind ex capture the writes of every synced
// table of tables (those with an id column) under region, and nothing
// else: it creates Table, then creates the missing capture objects,
// replaces stale ones and drops those of tables that are gone or no
// longer synced. Run it in a transaction holding the schema lock.
func Sync(ctx context.Context, ex dialect.Executor, d dialect.Dialect, tables []*orm.Table, region string) error {
	cc, ok := d.(dialect.ChangeCapturer)
	if !ok {
		return fmt.Errorf("plasma: capture: the %s dialect cannot capture writes", d.Name())
	}
	if !Literal(region) {
		return fmt.Errorf("plasma: capture: region %q: %w", region, ErrName)
	}
	if err := exec(ctx, ex, mustCreate(d)...); err != nil {
		return err
	}
	up := `INSERT INTO "` + Table + `" ("id", "region", "skip") VALUES (1, ?, -1) ON CONFLICT ("id") DO UPDATE SET "region" = excluded."region", "skip" = -1`
	if d.Features().Has(dialect.ConcurrentWrites) {
		up = `INSERT INTO "` + Table + `" ("id", "region", "skip") VALUES (1, $1, -1) ON CONFLICT ("id") DO UPDATE SET "region" = excluded."region", "skip" = -1`
	}
	if _, err := ex.ExecContext(ctx, up, region); err != nil {
		return fmt.Errorf("plasma: capture: %w", err)
	}
	want := map[key]dialect.CaptureObject{}
	var order []key
	for _, t := range tables {
		def := t.Def()
		if !t.Synced() || def == nil || !slices.ContainsFunc(def.Columns, func(c tabledef.Column) bool { return c.Name == "id" }) {
			continue
		}
		if !Literal(def.Name) || slices.ContainsFunc(def.Columns, func(c tabledef.Column) bool { return !Literal(c.Name) }) {
			return fmt.Errorf("plasma: capture: table %q: %w", def.Name, ErrName)
		}
		for _, o := range cc.CaptureObjects(Spec(d, def, region)) {
			k := key{o.Name, o.Table}
			want[k] = o
			order = append(order, k)
		}
	}
	have, err := list(ctx, ex, cc)
	if err != nil {
		return err
	}
	// Triggers go before functions: a function is dropped after the
	// triggers that run it.
	slices.SortStableFunc(have, func(a, b dialect.CaptureObject) int { return boolInt(a.Table == "") - boolInt(b.Table == "") })
	current := map[key]bool{}
	for _, o := range have {
		k := key{o.Name, o.Table}
		if w, ok := want[k]; ok && w.Def == o.Def {
			current[k] = true
			continue
		}
		if _, ok := want[k]; ok && o.Table == "" {
			continue // a stale function is replaced in place
		}
		if err := exec(ctx, ex, cc.DropCapture(o)); err != nil {
			return err
		}
	}
	for _, k := range order {
		if !current[k] {
			if err := exec(ctx, ex, want[k].Create...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Drop removes every capture trigger and function, leaving Table: a
// migration drops them before it changes tables (SQLite refuses to drop a
// column a trigger names) and syncs them again after.
func Drop(ctx context.Context, ex dialect.Executor, d dialect.Dialect) error {
	cc, ok := d.(dialect.ChangeCapturer)
	if !ok {
		return nil
	}
	have, err := list(ctx, ex, cc)
	if err != nil {
		return err
	}
	slices.SortStableFunc(have, func(a, b dialect.CaptureObject) int { return boolInt(a.Table == "") - boolInt(b.Table == "") })
	for _, o := range have {
		if err := exec(ctx, ex, cc.DropCapture(o)); err != nil {
			return err
		}
	}
	return nil
}

type key struct{ name, table string }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Spec is the capture of table's writes under region on d's engine.
func Spec(d dialect.Dialect, table *tabledef.Table, region string) dialect.Capture {
	c := dialect.Capture{Log: logTable, Region: region, Skip: skipName(d), Table: table}
	if table != nil {
		c.Name = Name(table.Name)
	}
	return c
}

// skipName is what the triggers read to let a write pass (Capture.Skip).
func skipName(d dialect.Dialect) string {
	if d.Features().Has(dialect.ConcurrentWrites) {
		return Setting
	}
	return Table
}

func mustCreate(d dialect.Dialect) []string {
	stmts, err := dialect.CreateTable(d, table, true)
	if err != nil {
		panic(err) // a fixed definition every dialect renders
	}
	return stmts
}

func list(ctx context.Context, ex dialect.Executor, cc dialect.ChangeCapturer) ([]dialect.CaptureObject, error) {
	var out []dialect.CaptureObject
	err := each(ctx, ex, cc.CaptureCatalog(), []any{Prefix}, func(scan func(...any) error) error {
		var o dialect.CaptureObject
		if err := scan(&o.Name, &o.Table, &o.Def); err != nil {
			return err
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

func exec(ctx context.Context, ex dialect.Executor, stmts ...string) error {
	for _, s := range stmts {
		if _, err := ex.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("plasma: capture: %w (sql: %s)", err, s)
		}
	}
	return nil
}

func each(ctx context.Context, ex dialect.Executor, q string, args []any, fn func(scan func(...any) error) error) error {
	rows, err := ex.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("plasma: capture: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return fmt.Errorf("plasma: capture: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("plasma: capture: %w", err)
	}
	return rows.Close()
}
