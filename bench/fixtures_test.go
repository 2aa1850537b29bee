package bench

import (
	"context"
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/orm"
)

// qbUsers is the table of BenchmarkBuildSelect (rendered only, never created).
var qbUsers = orm.NewTable("users",
	orm.ID(), orm.Text("name"), orm.Text("email"), orm.Int("age"), orm.Text("status"))

// qbPeople is the 8-column table that BenchmarkReadSlice reads and
// BenchmarkInsertMulti writes.
var (
	qbPeople = orm.NewTable("people",
		orm.ID(), orm.Text("name"), orm.Text("email"), orm.Int("age"),
		orm.Text("status"), orm.BigInt("score"), orm.Boolean("active"), orm.Text("bio"))
	qbSchema = orm.MustDefineSchema("1", qbPeople)
)

// qbPerson is one row of qbPeople, for plasma (db tags), bun (bun tags) and
// the hand-written loops alike.
type qbPerson struct {
	bun.BaseModel `bun:"table:people"`

	ID     string `db:"id" bun:"id,pk"`
	Name   string `db:"name" bun:"name"`
	Email  string `db:"email" bun:"email"`
	Age    int64  `db:"age" bun:"age"`
	Status string `db:"status" bun:"status"`
	Score  int64  `db:"score" bun:"score"`
	Active bool   `db:"active" bun:"active"`
	Bio    string `db:"bio" bun:"bio"`
}

const qbColumns = `"id", "name", "email", "age", "status", "score", "active", "bio"`

// qbRows is the number of rows read or written per operation.
const qbRows = 100

// qbDB is one SQLite file database (WAL, as dialect/sqlite.Open
// configures it) seen through the three libraries.
type qbDB struct {
	sql *sql.DB
	db  *orm.DB
	bun *bun.DB
}

// qbOpen opens a fresh database file in b's temp directory and creates
// the people table with plasma's DDL, so all three contenders read the same table.
func qbOpen(b testing.TB) *qbDB {
	b.Helper()
	sqldb, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	var mode string
	if err := sqldb.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		b.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	db := orm.New(sqldb, sqlite.Dialect)
	if err := orm.EnsureSchema(context.Background(), qbSchema, db); err != nil {
		b.Fatal(err)
	}
	// bun wraps the same *sql.DB; its sqlitedialect has no driver of its
	// own (sqliteshim would register a second "sqlite" driver and panic).
	bdb := bun.NewDB(sqldb, sqlitedialect.New())
	b.Cleanup(func() { sqldb.Close() })
	return &qbDB{sql: sqldb, db: db, bun: bdb}
}

// qbMakePeople returns n rows whose ids start at id "p<first>".
func qbMakePeople(first, n int) []qbPerson {
	out := make([]qbPerson, n)
	for i := range out {
		k := first + i
		out[i] = qbPerson{
			ID:     "p" + strconv.Itoa(k),
			Name:   "name " + strconv.Itoa(k),
			Email:  "user" + strconv.Itoa(k) + "@example.com",
			Age:    int64(18 + k%60),
			Status: [...]string{"active", "idle", "banned"}[k%3],
			Score:  int64(k) * 1000003,
			Active: k%2 == 0,
			Bio:    strings.Repeat("bio ", 1+k%8),
		}
	}
	return out
}

// qbInsertSQL is the hand-written multi-row INSERT for n rows.
func qbInsertSQL(n int) string {
	var sb strings.Builder
	sb.WriteString(`INSERT INTO "people" (` + qbColumns + `) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
	}
	return sb.String()
}

// qbSeed fills qbPeople with n rows by the hand-written INSERT.
func qbSeed(b testing.TB, bd *qbDB, n int) {
	b.Helper()
	if _, err := bd.sql.Exec(qbInsertSQL(n), qbArgs(qbMakePeople(0, n), nil)...); err != nil {
		b.Fatal(err)
	}
}

// qbArgs appends the bound values of ps, column by column.
func qbArgs(ps []qbPerson, args []any) []any {
	for i := range ps {
		p := &ps[i]
		args = append(args, p.ID, p.Name, p.Email, p.Age, p.Status, p.Score, p.Active, p.Bio)
	}
	return args
}

// qbRow is p as a plasma Row.
func qbRow(p *qbPerson) orm.Row {
	return orm.Row{
		"id": p.ID, "name": p.Name, "email": p.Email, "age": p.Age,
		"status": p.Status, "score": p.Score, "active": p.Active, "bio": p.Bio,
	}
}
