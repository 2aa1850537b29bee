package migratecli

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/orm/migrate/schemagen"
)

// pullFlags are the pull command's flags.
type pullFlags struct {
	target
	sqlite, pkg, out, tables, version string
	lossy                             bool
}

func (c Command) pullFlagSet(f *pullFlags) *flag.FlagSet {
	fs := flags("pull")
	c.addTarget(fs, &f.target)
	fs.StringVar(&f.sqlite, "sqlite", "", "read the SQLite database `FILE` instead of DIR/plasma.db")
	fs.StringVar(&f.pkg, "package", "schema", "the generated file's package `NAME`")
	fs.StringVar(&f.out, "o", "", "write the Go source to `FILE` (default: standard output)")
	fs.StringVar(&f.tables, "tables", "", "declare only these `TABLES`, comma-separated (default: all but plasma's own)")
	fs.StringVar(&f.version, "version", "", "the schema `VERSION` to declare (default: the one migrate recorded, or 1)")
	fs.BoolVar(&f.lossy, "lossy", false, "declare what plasma can and describe the rest in comments, instead of failing")
	return fs
}

const pullUsage = `usage: %[1]s pull [-data DIR | -sqlite FILE | -postgres URL] [-package NAME] [-o FILE] [-tables T1,T2] [-version V] [-lossy]

Reads an existing database and writes Go source declaring its tables with
plasma's schema DSL (as drizzle-kit pull does): kinds, nullability,
defaults, UNIQUE, foreign keys and their ON DELETE actions, indexes and
primary keys. The declaration diffs empty against the database, so
migrate finds nothing to do. What plasma cannot declare (a column type no
kind has, an expression default, ...) is an error listing each thing,
unless -lossy. On PostgreSQL it reads the URL's current schema (the first
on its search_path). The database is only read.

flags:
`

func (c Command) pull(ctx context.Context, args []string, stdout io.Writer) error {
	var f pullFlags
	if err := parse(c.pullFlagSet(&f), args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{f.dataSet, f.sqlite != "", f.postgres != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return usagef("give one of -data, -sqlite and -postgres")
	}
	opts := schemagen.Options{Package: f.pkg, Version: f.version, Lossy: f.lossy}
	if f.tables != "" {
		for _, t := range strings.Split(f.tables, ",") {
			opts.Tables = append(opts.Tables, strings.TrimSpace(t))
		}
	}
	db, closeDB, err := c.openExisting(ctx, &f)
	if err != nil {
		return err
	}
	defer closeDB()
	src, err := schemagen.Generate(ctx, db, opts)
	if err != nil {
		return err
	}
	if f.out == "" {
		_, err := stdout.Write(src)
		return err
	}
	if err := writeFile(f.out, src); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", f.out)
	return nil
}

// openExisting opens the database the flags name, which must exist: pull
// never creates one. It pings, so an unreachable server is reported as
// such.
func (c Command) openExisting(ctx context.Context, f *pullFlags) (*orm.DB, func(), error) {
	if f.postgres != "" {
		where := redact(f.postgres)
		pool, err := postgres.Open(f.postgres)
		if err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", where, err)
		}
		pool.SetMaxOpenConns(2)
		if err := pool.PingContext(ctx); err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("connect to %s: %w", where, err)
		}
		return orm.New(pool, postgres.Dialect), func() { pool.Close() }, nil
	}
	path := f.sqlite
	if path == "" {
		dir := f.data
		if !f.dataSet {
			dir = c.dataDir()
		}
		path = filepath.Join(dir, "plasma.db")
	}
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		if err == nil {
			err = errors.New("not a regular file")
		}
		return nil, nil, fmt.Errorf("no SQLite database at %s: %w", path, err)
	}
	// Read-only, and without plasma's usual pragmas: pulling must not
	// switch someone else's database to WAL.
	pool, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return orm.New(pool, sqlite.Dialect), func() { pool.Close() }, nil
}

// redact hides a URL's password, for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "the PostgreSQL URL"
	}
	return u.Redacted()
}

// writeFile writes p to path through a temporary file in the same
// directory, so a failure never leaves a partial file.
func writeFile(path string, p []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(p); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), fs.FileMode(0o644)); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
