package ormtest_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/plasma-go/plasma/dialect/bunexec"
	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// bunNote is the model of a table a bun app moves to plasma, as its bun
// code declared it; plasma scans and writes it unchanged.
type bunNote struct {
	bun.BaseModel `bun:"table:bun_notes"`

	ID    string `bun:"id,pk"`
	Title string `bun:"title,notnull"`
	Done  bool   `bun:",notnull"`
}

// bunAudit stays bun's: an integer key the database assigns.
type bunAudit struct {
	bun.BaseModel `bun:"table:bun_audits"`

	ID     int64 `bun:",pk,autoincrement"`
	NoteID string
	Action string
}

var (
	bunNotes  = orm.NewTable("bun_notes", orm.ID(), orm.Text("title"), orm.Boolean("done").Default(false))
	bunSchema = orm.MustDefineSchema("bun-1", bunNotes)
)

// checkBunWriteLogged checks that bun's write of bun_notes/id, made
// outside plasma, was captured into the change log exactly once.
func checkBunWriteLogged(t *testing.T, changes []changelog.Change, id string) {
	t.Helper()
	if n := logged(changes, id); n != 1 {
		t.Errorf("bun's write of %s is logged %d times, want once", id, n)
	}
}

// logged counts the puts of bun_notes/id in changes.
func logged(changes []changelog.Change, id string) int {
	n := 0
	for _, c := range changes {
		if c.Table == "bun_notes" && c.RowID == id && c.Op == changelog.OpPut {
			n++
		}
	}
	return n
}

// TestBunMixedTransaction runs a plasma write and two bun writes (one to
// the synced table, one to a table bun keeps) in one bun transaction,
// through bunexec, and commits or rolls it back: all land, or none, and
// plasma's write is logged exactly once.
func TestBunMixedTransaction(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		tg.SkipExec(t, "the test begins its own bun transaction on the pool", ormtest.ExecTx, ormtest.ExecConn, ormtest.ExecBun)
		ctx := t.Context()
		bdb := bun.NewDB(tg.SQL, sqlitedialect.New())
		if tg.Name == "postgres" {
			bdb = bun.NewDB(tg.SQL, pgdialect.New())
		}
		if err := orm.EnsureSchema(ctx, bunSchema, tg.DB); err != nil {
			t.Fatal(err)
		}
		if err := changelog.EnsureCapture(ctx, tg.DB, bunSchema, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := bdb.NewCreateTable().Model((*bunAudit)(nil)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		db := tg.DB.Use(changelog.Middleware(changelog.Options{Schema: bunSchema}))
		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("commit=%t", commit), func(t *testing.T) {
				bunMixedTransaction(t, bdb, db, commit)
			})
		}
	})
}

var errBunRollback = errors.New("roll back on purpose")

func bunMixedTransaction(t *testing.T, bdb *bun.DB, db *orm.DB, commit bool) {
	ctx := t.Context()
	pid, bid := fmt.Sprintf("p-%t", commit), fmt.Sprintf("b-%t", commit)
	err := bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		exec, err := bunexec.From(tx)
		if err != nil {
			return err
		}
		p := db.WithExecutor(exec)
		if _, err := p.Insert(bunNotes).Model(&bunNote{ID: pid, Title: "by plasma"}).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&bunNote{ID: bid, Title: "by bun"}).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&bunAudit{NoteID: pid, Action: "created"}).Exec(ctx); err != nil {
			return err
		}
		// Each sees the other's uncommitted rows.
		var seen bunNote
		if err := tx.NewSelect().Model(&seen).Where("id = ?", pid).Scan(ctx); err != nil || seen.Title != "by plasma" {
			return fmt.Errorf("bun reads plasma's row as %+v (%v)", seen, err)
		}
		got, err := orm.One[bunNote](ctx, p.Select().From(bunNotes).Where(expr.Eq(bunNotes.Col("id"), bid)))
		if err != nil || got.Title != "by bun" {
			return fmt.Errorf("plasma reads bun's row as %+v (%v)", got, err)
		}
		if !commit {
			return errBunRollback
		}
		return nil
	})
	if commit && err != nil || !commit && !errors.Is(err, errBunRollback) {
		t.Fatalf("transaction: %v", err)
	}
	ids, err := orm.All[string](ctx, db.Select(bunNotes.Col("id")).From(bunNotes).
		Where(expr.InArray(bunNotes.Col("id"), []string{pid, bid})).OrderBy(expr.Asc(bunNotes.Col("id"))))
	if err != nil {
		t.Fatal(err)
	}
	audits, err := bdb.NewSelect().Model((*bunAudit)(nil)).Where("note_id = ?", pid).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := changelog.ChangesSince(ctx, db, changelog.DefaultRegion, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !commit {
		if len(ids) != 0 || audits != 0 || logged(all, pid)+logged(all, bid) != 0 {
			t.Errorf("after rollback: notes %v, audits %d, changes %+v; want none", ids, audits, all)
		}
		return
	}
	if !reflect.DeepEqual(ids, []string{bid, pid}) || audits != 1 {
		t.Errorf("after commit: notes %v, audits %d; want [%s %s] and 1", ids, audits, bid, pid)
	}
	if n := logged(all, pid); n != 1 {
		t.Errorf("plasma's write logged %d times, want once: %+v", n, all)
	}
	checkBunWriteLogged(t, all, bid)
}
