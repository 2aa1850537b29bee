package bench

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/plasma-go/plasma/orm"
)

// qbPersonGORM is qbPerson as a GORM app declares it: columns named by
// gorm tags only.
type qbPersonGORM struct {
	ID     string `gorm:"primaryKey;column:id"`
	Name   string `gorm:"column:name"`
	Email  string `gorm:"column:email;uniqueIndex"`
	Age    int64  `gorm:"column:age"`
	Status string `gorm:"column:status"`
	Score  int64  `gorm:"column:score"`
	Active bool   `gorm:"column:active"`
	Bio    string `gorm:"column:bio"`
}

// qbPersonBun is qbPerson as a bun app declares it: bun tags only.
type qbPersonBun struct {
	bun.BaseModel `bun:"table:people"`

	ID     string `bun:"id,pk"`
	Name   string `bun:"name,notnull"`
	Email  string `bun:"email"`
	Age    int64  `bun:"age"`
	Status string `bun:"status"`
	Score  int64  `bun:"score"`
	Active bool   `bun:"active"`
	Bio    string `bun:"bio"`
}

// BenchmarkReadSliceTags is BenchmarkReadSlice's plasma read (100 rows of
// 8 columns) into the same struct tagged for database/sql (db), GORM and
// bun: the tags are read once per type, so the three cost the same.
func BenchmarkReadSliceTags(b *testing.B) {
	b.Run("db", func(b *testing.B) { benchReadTagged[qbPerson](b) })
	b.Run("gorm", func(b *testing.B) { benchReadTagged[qbPersonGORM](b) })
	b.Run("bun", func(b *testing.B) { benchReadTagged[qbPersonBun](b) })
}

func benchReadTagged[T any](b *testing.B) {
	ctx := context.Background()
	bd := qbOpen(b)
	qbSeed(b, bd, qbRows)
	b.ReportAllocs()
	for b.Loop() {
		out, err := orm.All[T](ctx, bd.db.Select().From(qbPeople).Limit(qbRows))
		if err != nil {
			b.Fatal(err)
		}
		if len(out) != qbRows {
			b.Fatalf("read %d rows", len(out))
		}
		sinkN += len(out)
	}
}

// TestTaggedReadsAgree checks that BenchmarkReadSliceTags compares like
// with like: the three types read the same rows.
func TestTaggedReadsAgree(t *testing.T) {
	ctx := context.Background()
	bd := qbOpen(t)
	qbSeed(t, bd, qbRows)
	q := bd.db.Select().From(qbPeople).Limit(qbRows)
	db, err := orm.All[qbPerson](ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	g, err := orm.All[qbPersonGORM](ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := orm.All[qbPersonBun](ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(db) != qbRows || len(g) != qbRows || len(bn) != qbRows {
		t.Fatalf("read %d, %d, %d rows", len(db), len(g), len(bn))
	}
	for i, p := range db {
		p.BaseModel = bun.BaseModel{}
		if qbPerson(bn[i]) != p || (qbPersonGORM{p.ID, p.Name, p.Email, p.Age, p.Status, p.Score, p.Active, p.Bio}) != g[i] || p.Bio == "" {
			t.Fatalf("row %d: db %+v, gorm %+v, bun %+v", i, p, g[i], bn[i])
		}
	}
}
