package dialect_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/dialect/postgres"
	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/tabledef"
)

var dialects = []dialect.Dialect{sqlite.Dialect, postgres.Dialect}

func TestAppendIdent(t *testing.T) {
	cases := []struct{ in, want string }{
		{`users`, `"users"`},
		{``, `""`},
		{`"`, `""""`},
		{`a"b`, `"a""b"`},
		{`""`, `""""""`},
		{`"; DROP TABLE x; --`, `"""; DROP TABLE x; --"`},
		{`it's`, `"it's"`},
		{`with space`, `"with space"`},
		{`select`, `"select"`},
		{`ORDER`, `"ORDER"`},
		{`back\slash\`, `"back\slash\"`},
		{`q?mark`, `"q?mark"`},
		{`$1`, `"$1"`},
		{`Ünïcödé 😀`, `"Ünïcödé 😀"`},
		{`עברית`, `"עברית"`},
		{"new\nline", "\"new\nline\""},
	}
	for _, c := range cases {
		if got := string(dialect.AppendIdent([]byte("x "), c.in)); got != "x "+c.want {
			t.Errorf("AppendIdent(%q) = %q, want %q", c.in, got, "x "+c.want)
		}
		if got := dialect.QuoteIdent(c.in); got != c.want {
			t.Errorf("QuoteIdent(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAppendPlaceholder(t *testing.T) {
	for _, n := range []int{1, 2, 10, 123} {
		if got := string(sqlite.Dialect.AppendPlaceholder([]byte("a="), n)); got != "a=?" {
			t.Errorf("sqlite placeholder %d: %q", n, got)
		}
		if got, want := string(postgres.Dialect.AppendPlaceholder([]byte("a="), n)), "a=$"+itoa(n); got != want {
			t.Errorf("postgres placeholder %d: %q, want %q", n, got, want)
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// inner renders straight into the statement's builder, as plasma
// statements do.
type inner struct{ where expr.Expr }

func (inner) ToSql() (string, []any, error) { return "", nil, errors.New("ToSql must not be called") }

func (q inner) AppendSQL(b *dialect.Builder) error {
	b.WriteString(`SELECT "x" FROM "t" WHERE `)
	return b.Expr(q.where)
}

// foreign is another library's statement (a squirrel.Sqlizer): '?'
// placeholders, rendered by ToSql.
type foreign struct {
	sql  string
	args []any
}

func (q foreign) ToSql() (string, []any, error) { return q.sql, q.args, nil }

func render(t *testing.T, d dialect.Dialect, e expr.Expr) (string, []any) {
	t.Helper()
	b := dialect.GetBuilder(d)
	defer dialect.PutBuilder(b)
	if err := b.Expr(e); err != nil {
		t.Fatal(err)
	}
	return b.String(), append([]any(nil), b.Args...)
}

// TestPlaceholderNumberingNested: one counter for the whole statement,
// through plasma subqueries, foreign subqueries and raw SQL, nested, with
// '?' inside quotes left alone. Raw SQL as an operand of AND or OR is
// parenthesised, so its own OR cannot change the precedence.
func TestPlaceholderNumberingNested(t *testing.T) {
	c := func(n string) *expr.Column { return &expr.Column{Table: "t", Name: n} }
	tree := expr.And(
		expr.Eq(c("a"), 1),
		expr.InArray(c("b"), inner{where: expr.And(
			expr.Eq(c("c"), 2),
			expr.InArray(c("d"), foreign{sql: `SELECT y FROM u WHERE z = ? AND w = '?' AND "q?" = ?`, args: []any{3, 4}}),
			expr.InArray(c("e"), inner{where: expr.Or(expr.Eq(c("f"), 5), expr.SQL(`g = ? OR h = 'it''s ?' OR i = ??`, 6))}),
		)}),
		expr.SQL(`j = ? AND k IN ?`, 7, foreign{sql: `SELECT ? WHERE '?' = ?`, args: []any{8, 9}}),
		expr.InArray(c("l"), []int{10, 11}),
		expr.Eq(c("m"), 12),
	)
	const sqliteWant = `(("t"."a" = ?) AND ("t"."b" IN (SELECT "x" FROM "t" WHERE (("t"."c" = ?) AND ("t"."d" IN (SELECT y FROM u WHERE z = ? AND w = '?' AND "q?" = ?)) AND ("t"."e" IN (SELECT "x" FROM "t" WHERE (("t"."f" = ?) OR (g = ? OR h = 'it''s ?' OR i = ?))))))) AND (j = ? AND k IN (SELECT ? WHERE '?' = ?)) AND ("t"."l" IN (?, ?)) AND ("t"."m" = ?))`
	const pgWant = `(("t"."a" = $1) AND ("t"."b" IN (SELECT "x" FROM "t" WHERE (("t"."c" = $2) AND ("t"."d" IN (SELECT y FROM u WHERE z = $3 AND w = '?' AND "q?" = $4)) AND ("t"."e" IN (SELECT "x" FROM "t" WHERE (("t"."f" = $5) OR (g = $6 OR h = 'it''s ?' OR i = ?))))))) AND (j = $7 AND k IN (SELECT $8 WHERE '?' = $9)) AND ("t"."l" IN ($10, $11)) AND ("t"."m" = $12))`
	wantArgs := []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for d, want := range map[dialect.Dialect]string{sqlite.Dialect: sqliteWant, postgres.Dialect: pgWant} {
		got, args := render(t, d, tree)
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", d.Name(), got, want)
		}
		if !reflect.DeepEqual(args, wantArgs) {
			t.Errorf("%s args %v", d.Name(), args)
		}
		// Rendering twice gives the same statement.
		if again, _ := render(t, d, tree); again != got {
			t.Errorf("%s: second render differs", d.Name())
		}
	}
}

// TestPlaceholderNumberingORM: plasma statements nested three deep share
// one counter, on both dialects.
func TestPlaceholderNumberingORM(t *testing.T) {
	users := orm.NewTable("users", orm.ID(), orm.Text("name"), orm.Int("age"))
	posts := orm.NewTable("posts", orm.ID(), orm.Text("user_id").References("users", "id", tabledef.Cascade), orm.Int("likes"))
	tags := orm.NewTable("tags", orm.ID(), orm.Text("post_id").References("posts", "id", tabledef.Cascade), orm.Text("label"))
	orm.MustDefineSchema("1", users, posts, tags)

	deepest := orm.Select(tags.Col("post_id")).From(tags).Where(expr.Eq(tags.Col("label"), "go"), expr.SQL(`"tags"."label" <> '?' AND ? = ?`, "x", "x"))
	middle := orm.Select(posts.Col("user_id")).From(posts).Where(expr.Gt(posts.Col("likes"), 10), expr.InArray(posts.Col("id"), deepest))
	q := orm.Select(users.Col("name")).From(users).
		Where(expr.Eq(users.Col("age"), 30), expr.InArray(users.Col("id"), middle), expr.Like(users.Col("name"), "a%")).
		Limit(5)

	for _, d := range dialects {
		sqlText, args, err := q.Render(d)
		if err != nil {
			t.Fatal(err)
		}
		if want := []any{int64(30), int64(10), "go", "x", "x", "a%"}; !reflect.DeepEqual(normInts(args), want) {
			t.Errorf("%s args %#v, want %#v", d.Name(), args, want)
		}
		n := strings.Count(sqlText, "?") - strings.Count(sqlText, "'?'")
		if d == postgres.Dialect {
			if n != 0 {
				t.Errorf("postgres: stray '?' placeholders in %s", sqlText)
			}
			last := 0
			for i := 1; i <= 6; i++ {
				p := strings.Index(sqlText, "$"+itoa(i))
				if p < 0 || p < last {
					t.Errorf("postgres: $%d missing or out of order in %s", i, sqlText)
				}
				last = p
			}
			if strings.Contains(sqlText, "$7") {
				t.Errorf("postgres: too many placeholders in %s", sqlText)
			}
		} else if n != 6 {
			t.Errorf("sqlite: %d placeholders in %s", n, sqlText)
		}
		if !strings.Contains(sqlText, `'?'`) {
			t.Errorf("%s: quoted '?' rewritten in %s", d.Name(), sqlText)
		}
	}
}

func normInts(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if n, ok := dialect.AsInt64(a); ok {
			out[i] = n
		} else {
			out[i] = a
		}
	}
	return out
}

func TestRawErrors(t *testing.T) {
	for _, c := range []struct {
		sql  string
		args []any
	}{
		{`a = ?`, nil},
		{`a = ?`, []any{1, 2}},
		{`a = 'unterminated ?`, []any{1}},
		{`"unterminated`, nil},
	} {
		b := dialect.GetBuilder(postgres.Dialect)
		if err := b.Raw(c.sql, c.args); err == nil {
			t.Errorf("Raw(%q, %v) accepted", c.sql, c.args)
		}
		dialect.PutBuilder(b)
	}
}

// representative is a table with a bit of everything.
func representative() *tabledef.Table {
	return &tabledef.Table{
		Name: `to"dos`,
		Columns: []tabledef.Column{
			{Name: "id", Kind: tabledef.KindID},
			{Name: "title", Kind: tabledef.KindText, HasDefault: true, Default: "it's"},
			{Name: "n", Kind: tabledef.KindInt, HasDefault: true, Default: -1},
			{Name: "big", Kind: tabledef.KindBigInt, Nullable: true},
			{Name: "done", Kind: tabledef.KindBool, HasDefault: true, Default: false},
			{Name: "data", Kind: tabledef.KindBlob, Nullable: true, HasDefault: true, Default: []byte{0xca, 0xfe}},
			{Name: "meta", Kind: tabledef.KindJSON, HasDefault: true, Default: json.RawMessage(`{"a":"b'c"}`)},
			{Name: "file", Kind: tabledef.KindFile, Nullable: true},
			{Name: "likes", Kind: tabledef.KindCounter, Nullable: true},
			{Name: "email", Kind: tabledef.KindText, Unique: true},
			{Name: "secret", Kind: tabledef.KindInt, Encrypted: true, Nullable: true},
			{Name: "owner", Kind: tabledef.KindText, Nullable: true, HasDefault: true, Default: nil,
				References: &tabledef.ForeignKey{Table: "users", Column: "id", OnDelete: tabledef.SetNull}},
		},
		PrimaryKey: []string{"id"},
		Indexes: []tabledef.Index{
			{Name: "todos_by_owner", Columns: []string{"owner", "n"}},
			{Name: "todos_title", Columns: []string{"title"}, Unique: true},
		},
	}
}

func TestCreateTableText(t *testing.T) {
	want := map[dialect.Dialect][]string{
		sqlite.Dialect: {
			`CREATE TABLE IF NOT EXISTS "to""dos" ("id" TEXT NOT NULL, "title" TEXT NOT NULL DEFAULT 'it''s', "n" INTEGER NOT NULL DEFAULT -1, ` +
				`"big" BIGINT, "done" BOOLEAN NOT NULL DEFAULT 0, "data" BLOB DEFAULT X'cafe', "meta" TEXT NOT NULL DEFAULT '{"a":"b''c"}', ` +
				`"file" TEXT, "likes" TEXT, "email" TEXT NOT NULL UNIQUE, "secret" TEXT, "owner" TEXT DEFAULT NULL, PRIMARY KEY ("id"), ` +
				`FOREIGN KEY ("owner") REFERENCES "users" ("id") ON DELETE SET NULL)`,
			`CREATE INDEX IF NOT EXISTS "todos_by_owner" ON "to""dos" ("owner", "n")`,
			`CREATE UNIQUE INDEX IF NOT EXISTS "todos_title" ON "to""dos" ("title")`,
		},
		postgres.Dialect: {
			`CREATE TABLE IF NOT EXISTS "to""dos" ("id" TEXT NOT NULL, "title" TEXT NOT NULL DEFAULT 'it''s', "n" INTEGER NOT NULL DEFAULT -1, ` +
				`"big" BIGINT, "done" BOOLEAN NOT NULL DEFAULT FALSE, "data" BYTEA DEFAULT '\xcafe'::bytea, "meta" JSONB NOT NULL DEFAULT '{"a":"b''c"}', ` +
				`"file" JSONB, "likes" TEXT, "email" TEXT NOT NULL UNIQUE, "secret" TEXT, "owner" TEXT DEFAULT NULL, PRIMARY KEY ("id"), ` +
				`FOREIGN KEY ("owner") REFERENCES "users" ("id") ON DELETE SET NULL)`,
			`CREATE INDEX IF NOT EXISTS "todos_by_owner" ON "to""dos" ("owner", "n")`,
			`CREATE UNIQUE INDEX IF NOT EXISTS "todos_title" ON "to""dos" ("title")`,
		},
	}
	for d, w := range want {
		got, err := dialect.CreateTable(d, representative(), true)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %q\nwant %q", d.Name(), got, w)
		}
		// Without IF NOT EXISTS.
		plain, _ := dialect.CreateTable(d, representative(), false)
		if strings.Contains(strings.Join(plain, ";"), "IF NOT EXISTS") || !strings.HasPrefix(plain[0], `CREATE TABLE "to""dos" (`) {
			t.Errorf("%s without IF NOT EXISTS: %q", d.Name(), plain)
		}
	}
}

func TestCreateTableKeys(t *testing.T) {
	auto := &tabledef.Table{Name: "legacy", Columns: []tabledef.Column{
		{Name: "n", Kind: tabledef.KindBigInt, AutoIncrement: true},
		{Name: "label", Kind: tabledef.KindText},
	}, PrimaryKey: []string{"n"}}
	composite := &tabledef.Table{Name: "pairs", Columns: []tabledef.Column{
		{Name: "a", Kind: tabledef.KindText},
		{Name: "b", Kind: tabledef.KindInt},
	}, PrimaryKey: []string{"a", "b"}}
	want := map[dialect.Dialect][2]string{
		sqlite.Dialect: {
			`CREATE TABLE "legacy" ("n" INTEGER PRIMARY KEY AUTOINCREMENT, "label" TEXT NOT NULL)`,
			`CREATE TABLE "pairs" ("a" TEXT NOT NULL, "b" INTEGER NOT NULL, PRIMARY KEY ("a", "b"))`,
		},
		postgres.Dialect: {
			`CREATE TABLE "legacy" ("n" BIGINT GENERATED BY DEFAULT AS IDENTITY, "label" TEXT NOT NULL, PRIMARY KEY ("n"))`,
			`CREATE TABLE "pairs" ("a" TEXT NOT NULL, "b" INTEGER NOT NULL, PRIMARY KEY ("a", "b"))`,
		},
	}
	for d, w := range want {
		for i, def := range []*tabledef.Table{auto, composite} {
			got, err := dialect.CreateTable(d, def, false)
			if err != nil || len(got) != 1 || got[0] != w[i] {
				t.Errorf("%s:\n got %q (%v)\nwant %q", d.Name(), got, err, w[i])
			}
		}
	}
}

func TestAddForeignKey(t *testing.T) {
	c := &tabledef.Column{Name: `b"id`, Kind: tabledef.KindText,
		References: &tabledef.ForeignKey{Table: `b's`, Column: "id", OnDelete: tabledef.Restrict}}
	want := `ALTER TABLE "a" ADD FOREIGN KEY ("b""id") REFERENCES "b's" ("id") ON DELETE RESTRICT`
	if got := dialect.AddForeignKey("a", c); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if got := dialect.AddForeignKey("a", &tabledef.Column{Name: "x"}); got != "" {
		t.Errorf("no reference: %q", got)
	}
	if _, ok := postgres.Dialect.(dialect.ReferenceChecker); !ok {
		t.Error("postgres does not check references at CREATE TABLE?")
	}
	if _, ok := sqlite.Dialect.(dialect.ReferenceChecker); ok {
		t.Error("sqlite claims to check references at CREATE TABLE")
	}
}

func TestAppendDefault(t *testing.T) {
	hostile := `it's "x" \ -- ; DROP TABLE t; /* ? */ ''`
	cases := []struct {
		col            tabledef.Column
		sqlite, postgr string
	}{
		{tabledef.Column{Kind: tabledef.KindText, Default: hostile},
			`'it''s "x" \ -- ; DROP TABLE t; /* ? */ '''''`, `'it''s "x" \ -- ; DROP TABLE t; /* ? */ '''''`},
		{tabledef.Column{Kind: tabledef.KindID, Default: "Ünï😀"}, `'Ünï😀'`, `'Ünï😀'`},
		{tabledef.Column{Kind: tabledef.KindInt, Default: int32(math.MinInt32)}, `-2147483648`, `-2147483648`},
		{tabledef.Column{Kind: tabledef.KindBigInt, Default: uint64(math.MaxInt64)}, `9223372036854775807`, `9223372036854775807`},
		{tabledef.Column{Kind: tabledef.KindBool, Default: true}, `1`, `TRUE`},
		{tabledef.Column{Kind: tabledef.KindBool, Default: false}, `0`, `FALSE`},
		{tabledef.Column{Kind: tabledef.KindBlob, Default: []byte("'\\\x00")}, `X'275c00'`, `'\x275c00'::bytea`},
		{tabledef.Column{Kind: tabledef.KindBlob, Default: []byte{}}, `X''`, `'\x'::bytea`},
		{tabledef.Column{Kind: tabledef.KindJSON, Default: map[string]string{"k": hostile}},
			`'{"k":"it''s \"x\" \\ -- ; DROP TABLE t; /* ? */ ''''"}'`, `'{"k":"it''s \"x\" \\ -- ; DROP TABLE t; /* ? */ ''''"}'`},
		{tabledef.Column{Kind: tabledef.KindORSet, Default: json.RawMessage(`{"e":[],"vv":{}}`)}, `'{"e":[],"vv":{}}'`, `'{"e":[],"vv":{}}'`},
		{tabledef.Column{Kind: tabledef.KindText, Nullable: true, Default: nil}, `NULL`, `NULL`},
	}
	for _, c := range cases {
		for d, want := range map[dialect.Dialect]string{sqlite.Dialect: c.sqlite, postgres.Dialect: c.postgr} {
			got, err := dialect.AppendDefault(d, []byte("DEFAULT "), &c.col)
			if err != nil || string(got) != "DEFAULT "+want {
				t.Errorf("%s %v default %#v: %s (%v), want %s", d.Name(), c.col.Kind, c.col.Default, got, err, want)
			}
		}
	}
	for _, bad := range []tabledef.Column{
		{Name: "c", Kind: tabledef.KindText, Default: 5},
		{Name: "c", Kind: tabledef.KindInt, Default: "5"},
		{Name: "c", Kind: tabledef.KindBigInt, Default: uint64(math.MaxUint64)},
		{Name: "c", Kind: tabledef.KindBool, Default: 1},
		{Name: "c", Kind: tabledef.KindBlob, Default: "x"},
		{Name: "c", Kind: tabledef.KindJSON, Default: json.RawMessage("{")},
		{Name: "c", Kind: tabledef.KindText, Encrypted: true, Default: "x"},
	} {
		if got, err := dialect.AppendDefault(sqlite.Dialect, nil, &bad); err == nil {
			t.Errorf("%v default %#v accepted: %s", bad.Kind, bad.Default, got)
		}
	}
}

// TestHostileDefaultExecutes: the escaped default is read back as written
// by a real engine (SQLite in memory; the PostgreSQL side runs in
// orm_test).
func TestHostileDefaultExecutes(t *testing.T) {
	db, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hostile := `it's "x" \ -- ; DROP TABLE t; /* ? */ ''` + "\n😀"
	def := &tabledef.Table{Name: "t", Columns: []tabledef.Column{
		{Name: "id", Kind: tabledef.KindInt},
		{Name: "s", Kind: tabledef.KindText, HasDefault: true, Default: hostile},
		{Name: "b", Kind: tabledef.KindBlob, HasDefault: true, Default: []byte("'\x00\\")},
	}, PrimaryKey: []string{"id"}}
	stmts, err := dialect.CreateTable(sqlite.Dialect, def, true)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO "t" ("id") VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var s string
	var b []byte
	if err := db.QueryRowContext(ctx, `SELECT "s", "b" FROM "t"`).Scan(&s, &b); err != nil {
		t.Fatal(err)
	}
	if s != hostile || string(b) != "'\x00\\" {
		t.Errorf("read back %q %q", s, b)
	}
}

// TestColumnTypes pins the type tables in the sqlite and postgres package
// docs.
func TestColumnTypes(t *testing.T) {
	want := map[tabledef.Kind][2]string{
		tabledef.KindID:          {"TEXT", "TEXT"},
		tabledef.KindText:        {"TEXT", "TEXT"},
		tabledef.KindInt:         {"INTEGER", "INTEGER"},
		tabledef.KindBigInt:      {"BIGINT", "BIGINT"},
		tabledef.KindBool:        {"BOOLEAN", "BOOLEAN"},
		tabledef.KindBlob:        {"BLOB", "BYTEA"},
		tabledef.KindJSON:        {"TEXT", "JSONB"},
		tabledef.KindFile:        {"TEXT", "JSONB"},
		tabledef.KindCounter:     {"TEXT", "TEXT"},
		tabledef.KindPNCounter:   {"TEXT", "TEXT"},
		tabledef.KindLWWRegister: {"TEXT", "TEXT"},
		tabledef.KindORSet:       {"TEXT", "TEXT"},
	}
	for k := tabledef.KindID; k <= tabledef.KindORSet; k++ {
		w, ok := want[k]
		if !ok {
			t.Fatalf("kind %v untested", k)
		}
		for i, d := range dialects {
			if got := d.ColumnType(&tabledef.Column{Kind: k}); got != w[i] {
				t.Errorf("%s %v: %s, want %s", d.Name(), k, got, w[i])
			}
			if got := d.ColumnType(&tabledef.Column{Kind: k, Encrypted: true}); got != "TEXT" {
				t.Errorf("%s encrypted %v: %s, want TEXT", d.Name(), k, got)
			}
		}
	}
	if typ, inline := sqlite.Dialect.AutoIncrementType(); typ != "INTEGER PRIMARY KEY AUTOINCREMENT" || !inline {
		t.Errorf("sqlite auto-increment %q %v", typ, inline)
	}
	if typ, inline := postgres.Dialect.AutoIncrementType(); typ != "BIGINT GENERATED BY DEFAULT AS IDENTITY" || inline {
		t.Errorf("postgres auto-increment %q %v", typ, inline)
	}
}

func TestKindsAndActions(t *testing.T) {
	names := map[tabledef.Kind]string{
		tabledef.KindID: "id", tabledef.KindText: "text", tabledef.KindInt: "int", tabledef.KindBigInt: "bigint",
		tabledef.KindBool: "boolean", tabledef.KindBlob: "blob", tabledef.KindJSON: "json", tabledef.KindFile: "file",
		tabledef.KindCounter: "crdtCounter", tabledef.KindPNCounter: "crdtPnCounter",
		tabledef.KindLWWRegister: "crdtLwwRegister", tabledef.KindORSet: "crdtOrSet",
	}
	for k, n := range names {
		if k.String() != n {
			t.Errorf("%d: %s, want %s", k, k.String(), n)
		}
		if k.IsCRDT() != strings.HasPrefix(n, "crdt") {
			t.Errorf("%s IsCRDT %v", n, k.IsCRDT())
		}
		if k.IsJSONText() != (k.IsCRDT() || n == "json" || n == "file") {
			t.Errorf("%s IsJSONText %v", n, k.IsJSONText())
		}
	}
	if tabledef.Kind(0).String() != "invalid" || tabledef.Kind(200).String() != "invalid" {
		t.Error("invalid kinds")
	}
	for a, s := range map[tabledef.Action]string{tabledef.NoAction: "NO ACTION", tabledef.Cascade: "CASCADE",
		tabledef.Restrict: "RESTRICT", tabledef.SetNull: "SET NULL", tabledef.Action(9): "invalid"} {
		if a.String() != s {
			t.Errorf("action %d: %s", a, a.String())
		}
	}
	def := representative()
	if c := def.Column("email"); c == nil || !c.Unique {
		t.Error("tabledef.Table.Column")
	}
	if def.Column("nope") != nil {
		t.Error("tabledef.Table.Column found a missing column")
	}
}

func TestAsInt64(t *testing.T) {
	for _, c := range []struct {
		in   any
		want int64
		ok   bool
	}{
		{int(-5), -5, true}, {int8(-8), -8, true}, {int16(16), 16, true}, {int32(32), 32, true}, {int64(math.MinInt64), math.MinInt64, true},
		{uint8(8), 8, true}, {uint16(16), 16, true}, {uint32(math.MaxUint32), math.MaxUint32, true},
		{uint(math.MaxInt64), math.MaxInt64, true}, {uint(math.MaxInt64) + 1, 0, false},
		{uint64(math.MaxInt64), math.MaxInt64, true}, {uint64(math.MaxUint64), 0, false},
		{1.0, 0, false}, {"1", 0, false}, {nil, 0, false}, {true, 0, false},
	} {
		got, ok := dialect.AsInt64(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("AsInt64(%#v) = %d, %v", c.in, got, ok)
		}
	}
}

func TestDialectQueries(t *testing.T) {
	if sqlite.Dialect.Name() != "sqlite" || postgres.Dialect.Name() != "postgres" {
		t.Error("names")
	}
	if sqlite.Dialect.LockSchema() != "" {
		t.Error("sqlite needs no schema lock")
	}
	if l := postgres.Dialect.LockSchema(); !strings.Contains(l, "pg_advisory_xact_lock") {
		t.Errorf("postgres lock %q", l)
	}
	// The table listing runs on SQLite and leaves SQLite's own tables out.
	db, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, s := range []string{`CREATE TABLE "a" ("n" INTEGER PRIMARY KEY AUTOINCREMENT)`, `CREATE TABLE "sqlitex" ("x" TEXT)`, `INSERT INTO "a" DEFAULT VALUES`} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.QueryContext(ctx, sqlite.Dialect.TablesQuery())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if strings.Join(names, ",") != "a,sqlitex" {
		t.Errorf("tables %q (sqlite_sequence must be left out)", names)
	}
	var fk int
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys %d %v", fk, err)
	}
}

func TestSQLiteOpen(t *testing.T) {
	if _, err := sqlite.Open(""); err == nil {
		t.Error("empty path accepted")
	}
	dsn := sqlite.DSN("/tmp/a b?c.db")
	for _, want := range []string{"file:/tmp/a%20b%3Fc.db?", "journal_mode(WAL)", "busy_timeout(", "foreign_keys(1)", "_txlock=immediate"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN %q lacks %q", dsn, want)
		}
	}
	path := t.TempDir() + "/a b?c.db"
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	// Every pooled connection enforces foreign keys and uses WAL.
	db.SetMaxOpenConns(3)
	var conns []interface{ Close() error }
	for range 3 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var fk int
		var mode string
		if err := c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("connection: foreign_keys %d %v", fk, err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("connection: journal_mode %q %v", mode, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}
