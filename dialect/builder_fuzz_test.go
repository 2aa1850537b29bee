package dialect_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
)

// fzUnquoted returns text with every '...' and "..." segment removed, or
// ok false when a quote is left open.
func fzUnquoted(text string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\'' || c == '"' {
			end := strings.IndexByte(text[i+1:], c)
			if end < 0 {
				return "", false
			}
			i += end + 1
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// FuzzRawPlaceholders renders raw SQL with a pre-bound argument before it
// and checks, for any text and argument count: no panic; on success every
// argument is bound once, the PostgreSQL placeholders outside quotes are
// exactly $2..$n+1 in order (one counter for the whole statement), quoted
// text is kept byte for byte, and SQLite's text differs from PostgreSQL's
// only in placeholder spelling; the raw text is refused exactly when its
// unquoted '?' (not doubled) do not match the arguments or a quote is open.
func FuzzRawPlaceholders(f *testing.F) {
	for _, seed := range []struct {
		text string
		n    uint8
	}{
		{"a = ?", 1},
		{"? + ? > ?", 3},
		{"'?' = ?", 1},
		{`"col?" = ?`, 1},
		{"x ?? 'k' AND y = ?", 1},
		{"'it''s' = ?", 1},
		{"'open ?", 1},
		{"? ? ?", 2},
		{"", 0},
		{"???", 1},
		{"\x00?\xff", 1},
	} {
		f.Add(seed.text, seed.n)
	}
	f.Fuzz(func(t *testing.T, text string, n uint8) {
		if strings.IndexByte(text, '$') >= 0 {
			t.Skip() // '$' in the text would read as a placeholder below
		}
		args := make([]any, n%8)
		for i := range args {
			args[i] = "v" + strconv.Itoa(i)
		}
		render := func(d dialect.Dialect) (string, []any, error) {
			b := dialect.GetBuilder(d)
			defer dialect.PutBuilder(b)
			b.Bind("first")
			b.WriteString(" ")
			err := b.Raw(text, args)
			return string(b.Buf), append([]any(nil), b.Args...), err
		}
		pg, pgArgs, err := render(postgres.Dialect)
		lite, liteArgs, liteErr := render(sqlite.Dialect)
		if (err == nil) != (liteErr == nil) {
			t.Fatalf("dialects disagree: %v / %v", err, liteErr)
		}

		// What the text should do, from a plain reading of it.
		plain, closed := fzUnquoted(text)
		wantMarks := strings.Count(strings.ReplaceAll(plain, "??", ""), "?")
		if !closed || wantMarks != len(args) {
			if err == nil {
				t.Fatalf("%q with %d args: accepted, want refused (%d placeholders, closed %v)", text, len(args), wantMarks, closed)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q with %d args: %v", text, len(args), err)
		}
		if len(pgArgs) != len(args)+1 || len(liteArgs) != len(args)+1 {
			t.Fatalf("bound %d/%d args, want %d", len(pgArgs), len(liteArgs), len(args)+1)
		}
		for i, a := range args {
			if pgArgs[i+1] != a || liteArgs[i+1] != a {
				t.Fatalf("arg %d: %v / %v", i, pgArgs[i+1], liteArgs[i+1])
			}
		}
		// PostgreSQL: $1 (the pre-bound value), then $2.. in order,
		// outside quotes.
		outside, ok := fzUnquoted(pg)
		if !ok {
			t.Fatalf("rendered text has an open quote: %q", pg)
		}
		var nums []int
		for i := 0; i < len(outside); i++ {
			if outside[i] != '$' {
				continue
			}
			j := i + 1
			for j < len(outside) && outside[j] >= '0' && outside[j] <= '9' {
				j++
			}
			k, _ := strconv.Atoi(outside[i+1 : j])
			nums = append(nums, k)
			i = j - 1
		}
		for i, k := range nums {
			if k != i+1 {
				t.Fatalf("placeholders %v in %q", nums, pg)
			}
		}
		if len(nums) != len(args)+1 {
			t.Fatalf("%d placeholders in %q, want %d", len(nums), pg, len(args)+1)
		}
		// SQLite's text is PostgreSQL's with each $k spelled '?'.
		want := pg
		for k := len(nums); k >= 1; k-- {
			want = strings.Replace(want, "$"+strconv.Itoa(k), "?", 1)
		}
		// Replace from the highest so $1 does not eat $10's prefix; the
		// order of replacement within the text does not matter because
		// each $k occurs once.
		if lite != want {
			t.Fatalf("sqlite %q, postgres %q", lite, pg)
		}
		// Quoted segments are kept byte for byte.
		if strings.Count(pg, "'") != strings.Count(text, "'") || strings.Count(pg, `"`) != strings.Count(text, `"`) {
			t.Fatalf("quotes changed: %q -> %q", text, pg)
		}
	})
}

// FuzzBoundValues renders comparisons, LIKE and IN lists with any string
// value and checks that the SQL text does not depend on the value: values
// only ever reach the database as arguments.
func FuzzBoundValues(f *testing.F) {
	for _, s := range []string{"", "'", `"`, "'; DROP TABLE x; --", "?", "$1", "\x00", "\\", "ü😀", "%_"} {
		f.Add(s)
	}
	col := expr.ColRef("t", "c")
	build := func(v string) expr.Expr {
		return expr.And(expr.Eq(col, v), expr.Like(col, v), expr.InArray(col, []string{v, v}),
			expr.Not(expr.Ne(v, col)), expr.SQL("? = ?", col, v))
	}
	render := func(d dialect.Dialect, e expr.Expr) (string, []any) {
		b := dialect.GetBuilder(d)
		defer dialect.PutBuilder(b)
		if err := b.Expr(e); err != nil {
			panic(err)
		}
		return string(b.Buf), append([]any(nil), b.Args...)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, d := range []dialect.Dialect{sqlite.Dialect, postgres.Dialect} {
			got, args := render(d, build(v))
			want, _ := render(d, build("benign"))
			if got != want {
				t.Fatalf("%s: SQL depends on the value %q:\n%s", d.Name(), v, got)
			}
			if len(args) != 6 {
				t.Fatalf("%d args", len(args))
			}
			for _, a := range args {
				if a != v {
					t.Fatalf("arg %q, want %q", a, v)
				}
			}
		}
	})
}

// FuzzIdent checks that any identifier comes out as one quoted token that
// reads back as the name.
func FuzzIdent(f *testing.F) {
	for _, s := range []string{"", `"`, `a"b`, `""`, "x\"; DROP TABLE y; --", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		q := dialect.QuoteIdent(name)
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("%q -> %q", name, q)
		}
		inner := q[1 : len(q)-1]
		// Inside, every quote is doubled: no lone quote ends the token.
		if strings.Count(strings.ReplaceAll(inner, `""`, ""), `"`) != 0 {
			t.Fatalf("lone quote in %q", q)
		}
		if strings.ReplaceAll(inner, `""`, `"`) != name {
			t.Fatalf("%q reads back as %q", q, strings.ReplaceAll(inner, `""`, `"`))
		}
		// The whole token is one quoted segment.
		if rest, ok := fzUnquoted(q); !ok || strings.TrimSpace(rest) != "" {
			t.Fatalf("%q is not one token (%q)", q, rest)
		}
	})
}
