package sqleval_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/internal/sqleval"
)

// row is (a int, t text, b bool, n int32 column on PostgreSQL).
var cols = map[string]struct {
	slot int
	t    sqleval.Type
}{"a": {0, sqleval.TInt}, "t": {1, sqleval.TText}, "b": {2, sqleval.TBool}, "n": {3, sqleval.TInt32}}

func res(e expr.Expr) (int, sqleval.Type, bool) {
	c, ok := e.(*expr.Column)
	if !ok {
		return 0, 0, false
	}
	x, ok := cols[c.Name]
	return x.slot, x.t, ok
}

func col(n string) *expr.Column { return expr.ColRef("", n) }

var sqliteOpt = sqleval.Options{Engine: sqleval.SQLite, ByteOrderText: true}

func TestThreeValuedLogic(t *testing.T) {
	row := []any{nil, "x", true, int64(1)}
	cases := []struct {
		e    expr.Expr
		want sqleval.Tri
	}{
		{expr.Eq(col("a"), 1), sqleval.Unknown},
		{expr.Not(expr.Eq(col("a"), 1)), sqleval.Unknown},
		{expr.Or(expr.Eq(col("a"), 1), expr.Eq(col("t"), "x")), sqleval.True},
		{expr.And(expr.Eq(col("a"), 1), expr.Eq(col("t"), "y")), sqleval.False},
		{expr.And(expr.Eq(col("a"), 1), expr.Eq(col("t"), "x")), sqleval.Unknown},
		{expr.IsNull(col("a")), sqleval.True},
		{expr.InArray(col("t"), []any{"y", nil}), sqleval.Unknown},
		{expr.InArray(col("t"), []string{}), sqleval.False},
		{expr.Not(expr.InArray(col("t"), []string{})), sqleval.True},
		{expr.Eq(col("t"), nil), sqleval.Unknown},
		{expr.And(), sqleval.True},
		{expr.Or(), sqleval.False},
		{col("b"), sqleval.True},
		{expr.Gt(col("t"), "X"), sqleval.True}, // byte order: 'x' > 'X'
	}
	for _, c := range cases {
		p, err := sqleval.Compile(c.e, res, sqliteOpt)
		if err != nil {
			t.Fatalf("%#v: %v", c.e, err)
		}
		if got := p(row); got != c.want {
			t.Errorf("%#v: %v, want %v", c.e, got, c.want)
		}
	}
}

func TestRefused(t *testing.T) {
	pg := sqleval.Options{Engine: sqleval.Postgres}
	cases := []struct {
		e   expr.Expr
		opt sqleval.Options
	}{
		{expr.Eq(col("a"), "1"), sqliteOpt},                   // across types
		{expr.Eq(col("a"), 1.5), sqliteOpt},                   // float parameter
		{expr.Gt(col("t"), "a"), pg},                          // collation unknown
		{expr.Like(col("t"), `a\%`), pg},                      // PostgreSQL's escape
		{expr.Eq(col("n"), int64(1)<<40), pg},                 // int32 column
		{expr.SQL("1 = 1"), sqliteOpt},                        // raw
		{expr.Like(col("a"), "1%"), sqliteOpt},                // LIKE on an integer
		{expr.Like(col("t"), "a%"), sqleval.Options{}},        // unknown engine
		{expr.Eq(col("zz"), 1), sqliteOpt},                    // unknown column
		{expr.InArray(col("a"), expr.Sub(nil)), sqliteOpt},    // subquery
		{expr.Eq(col("a"), expr.Bind(struct{}{})), sqliteOpt}, // odd parameter
	}
	for i, c := range cases {
		if _, err := sqleval.Compile(c.e, res, c.opt); !errors.Is(err, sqleval.ErrUnsupported) {
			t.Errorf("case %d: %v, want ErrUnsupported", i, err)
		}
	}
	if _, err := sqleval.Compile(expr.Eq(col("n"), int64(1)<<40), res, sqliteOpt); err != nil {
		t.Errorf("SQLite has 64-bit integers: %v", err)
	}
}

func TestLike(t *testing.T) {
	cases := []struct {
		s, pat   string
		fold, ok bool
	}{
		{"abc", "a%", false, true},
		{"abc", "A%", true, true},
		{"abc", "A%", false, false},
		{"é", "_", false, true},
		{"é", "É", true, false}, // SQLite folds ASCII only
		{"a_c", "a_c", false, true},
		{"abc", "%b%", false, true},
		{"abc", "%%", false, true},
		{"", "%", false, true},
		{"", "_", false, false},
		{"aXbXc", "a%b%c", false, true},
		{"ab", "a%b%c", false, false},
	}
	for _, c := range cases {
		if got := sqleval.Like(c.s, c.pat, c.fold); got != c.ok {
			t.Errorf("Like(%q, %q, %v) = %v", c.s, c.pat, c.fold, got)
		}
	}
}

// FuzzLikeSQLite compares Like with SQLite's LIKE on the same strings.
func FuzzLikeSQLite(f *testing.F) {
	for _, s := range [][2]string{{"abc", "a%"}, {"ABC", "a_c"}, {"é", "_"}, {"%", "%%"}, {"a\x00b", "a%"}, {"xyz", "%Y%"}} {
		f.Add(s[0], s[1])
	}
	db, err := sqlite.Open(filepath.Join(f.TempDir(), "like.db"))
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	f.Fuzz(func(t *testing.T, s, pat string) {
		if len(s) > 64 || len(pat) > 16 {
			return
		}
		p, err := sqleval.Compile(expr.Like(col("t"), pat), res, sqliteOpt)
		if err != nil {
			return // refused: the database decides
		}
		var want bool
		if err := db.QueryRowContext(context.Background(), `SELECT ? LIKE ?`, s, pat).Scan(&want); err != nil {
			t.Skip(err)
		}
		if got := p([]any{nil, s, nil, nil}) == sqleval.True; got != want {
			t.Fatalf("LIKE %q %q: Go %v, SQLite %v", s, pat, got, want)
		}
	})
}
