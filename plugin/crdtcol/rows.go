package crdtcol

import (
	"context"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plasma-go/plasma/tabledef"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/internal/rowbuf"
)

// concurrent reports whether d's engine runs writers concurrently, so
// that rows read before a merge must be locked (SQLite runs one writer
// at a time).
func concurrent(d dialect.Dialect) bool { return d.Features().Has(dialect.ConcurrentWrites) }

func hasReturning(r orm.Returning) bool { return r.All || len(r.Columns) > 0 }

// query runs a read through the rest of the chain on db and returns its
// rows' values.
func query(ctx context.Context, next orm.Handler, db *orm.DB, text string, args []any) ([][]any, error) {
	res, err := next(ctx, &orm.Statement{Op: orm.OpSelect, SQL: text, Args: args, DB: db})
	if err != nil {
		return nil, err
	}
	if res.Rows == nil {
		return nil, nil
	}
	buf, err := rowbuf.Read(res.Rows)
	if err != nil {
		return nil, err
	}
	return buf.Values, nil
}

// lockRows reads cols of the rows of t matching where, ordered by the
// primary key, locking them on PostgreSQL.
func lockRows(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, cols []string, order []string, where []expr.Expr) ([][]any, error) {
	exprs := make([]expr.Expr, len(cols))
	for i, c := range cols {
		exprs[i] = t.Col(c)
	}
	sel := orm.Select(exprs...).From(t)
	if len(where) > 0 {
		sel = sel.Where(where...)
	}
	for _, c := range order {
		sel = sel.OrderBy(expr.Asc(t.Col(c)))
	}
	text, args, err := sel.Render(db.Dialect())
	if err != nil {
		return nil, err
	}
	if l, ok := db.Dialect().(dialect.RowLocker); ok && db.Dialect().Features().Has(dialect.RowLocking) {
		text = string(l.AppendForUpdate([]byte(text)))
	}
	return query(ctx, next, db, text, args)
}

// keyValue normalises a key value bound in a statement or read back from
// the database, so the two compare equal; ok is false for NULL.
func keyValue(v any) (string, bool) {
	if dv, isValuer := v.(driver.Valuer); isValuer {
		var err error
		if v, err = dv.Value(); err != nil {
			return "", false
		}
	}
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return "s" + x, true
	case []byte:
		return "s" + string(x), true
	case bool:
		return "b" + strconv.FormatBool(x), true
	case float64:
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), true
	case float32:
		return "f" + strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case time.Time:
		return "t" + x.UTC().Format(time.RFC3339Nano), true
	}
	if n, ok := dialect.AsInt64(v); ok {
		return "i" + strconv.FormatInt(n, 10), true
	}
	return fmt.Sprintf("?%T:%v", v, v), true
}

// rowKey joins the normalised values of a key; ok is false if any is NULL.
func rowKey(vals []any) (string, bool) {
	var b strings.Builder
	for i, v := range vals {
		k, ok := keyValue(v)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(k)
	}
	return b.String(), true
}

// rowName formats a primary key for errors.
func rowName(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case []byte:
			parts[i] = strconv.Quote(string(x))
		case string:
			parts[i] = strconv.Quote(x)
		default:
			parts[i] = fmt.Sprint(x)
		}
	}
	return strings.Join(parts, ",")
}

// pkWhere is the predicate matching one row by its key values.
func pkWhere(t *orm.Table, cols []string, vals []any) []expr.Expr {
	w := make([]expr.Expr, len(cols))
	for i, c := range cols {
		v := vals[i]
		if b, ok := v.([]byte); ok {
			if col, _ := t.Column(c); col.Kind() != tabledef.KindBlob {
				v = string(b)
			}
		}
		w[i] = expr.Eq(t.Col(c), v)
	}
	return w
}

// maxKeysPerRead bounds the keys one locking read looks up, to stay
// under both engines' parameter limits.
const maxKeysPerRead = 300

// advisoryLock takes, on PostgreSQL, a transaction-scoped advisory lock
// per distinct key of rows (the values of cols), in a fixed order, so
// writers of the same new row take turns.
func advisoryLock(ctx context.Context, next orm.Handler, db *orm.DB, t *orm.Table, cols, columns []string, rows [][]any) error {
	sorted := slices.Clone(cols)
	sort.Strings(sorted)
	idx := make([]int, len(sorted))
	for i, c := range sorted {
		idx[i] = slices.Index(columns, c)
	}
	var locks []int64
	vals := make([]any, len(idx))
	for _, row := range rows {
		for i, x := range idx {
			vals[i] = row[x]
		}
		k, ok := rowKey(vals)
		if !ok {
			continue
		}
		h := fnv.New64a()
		h.Write([]byte("plasma/crdtcol\x00"))
		h.Write([]byte(t.Name()))
		h.Write([]byte{0})
		h.Write([]byte(strings.Join(sorted, "\x00")))
		h.Write([]byte{0})
		h.Write([]byte(k))
		locks = append(locks, int64(h.Sum64()))
	}
	slices.Sort(locks)
	locks = slices.Compact(locks)
	for len(locks) > 0 {
		n := min(len(locks), maxKeysPerRead)
		b := dialect.GetBuilder(db.Dialect())
		db.Dialect().(dialect.AdvisoryLocker).AppendAdvisoryLocks(b, locks[:n])
		text, args := string(b.Buf), slices.Clone(b.Args)
		dialect.PutBuilder(b)
		locks = locks[n:]
		if _, err := query(ctx, next, db, text, args); err != nil {
			return fmt.Errorf("crdtcol: lock %s rows: %w", t.Name(), err)
		}
	}
	return nil
}
