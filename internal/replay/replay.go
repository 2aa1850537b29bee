// Package replay turns rows already in memory back into *sql.Rows, so
// that code which reads results through database/sql (orm's scanning into
// structs, with its conversions) can read rows a plugin buffered or a
// live query keeps, exactly as it reads rows from a database.
package replay

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
)

// Rows returns rows as *sql.Rows with the given column names. The values
// must be driver values (nil, int64, float64, bool, []byte, string,
// time.Time); each row has at least len(cols) of them. rows is read, not
// copied, until the result is closed.
func Rows(ctx context.Context, cols []string, rows [][]any) (*sql.Rows, error) {
	return db().QueryContext(ctx, "replay", &source{cols: cols, rows: rows})
}

// db is a database/sql pool on the replay driver, whose only query
// returns the rows of the source passed as its argument.
var db = sync.OnceValue(func() *sql.DB {
	db := sql.OpenDB(connector{})
	db.SetMaxIdleConns(16)
	return db
})

type source struct {
	cols []string
	rows [][]any
}

type connector struct{}

func (connector) Connect(context.Context) (driver.Conn, error) { return conn{}, nil }
func (connector) Driver() driver.Driver                        { return drv{} }

type drv struct{}

func (drv) Open(string) (driver.Conn, error) { return conn{}, nil }

type conn struct{}

var errNoStatements = errors.New("plasma: the replay connection runs no statements")

func (conn) Prepare(string) (driver.Stmt, error) { return nil, errNoStatements }
func (conn) Close() error                        { return nil }
func (conn) Begin() (driver.Tx, error)           { return nil, errNoStatements }

// CheckNamedValue lets the *source argument through unconverted.
func (conn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (conn) QueryContext(_ context.Context, _ string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) != 1 {
		return nil, errNoStatements
	}
	src, ok := args[0].Value.(*source)
	if !ok {
		return nil, errNoStatements
	}
	return &driverRows{src: src}, nil
}

type driverRows struct {
	src *source
	i   int
}

func (r *driverRows) Columns() []string { return r.src.cols }
func (r *driverRows) Close() error      { return nil }

func (r *driverRows) Next(dest []driver.Value) error {
	if r.i >= len(r.src.rows) {
		return io.EOF
	}
	for i, v := range r.src.rows[r.i][:len(dest)] {
		dest[i] = v
	}
	r.i++
	return nil
}
