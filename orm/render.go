package orm

import "github.com/plasma-go/plasma/dialect"

// render validates and renders a statement for d.
func render(d dialect.Dialect, a dialect.Appender) (string, []any, error) {
	b := dialect.GetBuilder(d)
	defer dialect.PutBuilder(b)
	if err := a.AppendSQL(b); err != nil {
		return "", nil, err
	}
	return string(b.Buf), b.Args, nil
}

// toSQL renders with '?' placeholders, the form squirrel.Sqlizer callers
// expect (squirrel renumbers them for PostgreSQL itself).
func toSQL(a dialect.Appender) (string, []any, error) { return render(dialect.Placeholders, a) }

func errNoDB(stmt string) error {
	return &QueryError{Statement: stmt, Err: ErrNoDB}
}
