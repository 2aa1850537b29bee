package gormtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
)

// Note is the model of the table the app moves to plasma, as its GORM
// code declared it; plasma scans and writes it unchanged.
type Note struct {
	ID    string `gorm:"primaryKey"`
	Title string `gorm:"column:title;not null"`
	Done  bool
	Owner *Owner `gorm:"foreignKey:ID;references:ID"` // a relation: no column
}

// Owner is a table GORM keeps, for the relation above; never migrated.
type Owner struct{ ID string }

// Audit stays GORM's: an integer key GORM assigns, created by AutoMigrate.
type Audit struct {
	ID     uint `gorm:"primaryKey"`
	NoteID string
	Action string
}

var (
	notes  = orm.NewTable("notes", orm.ID(), orm.Text("title"), orm.Boolean("done").Default(false))
	schema = orm.MustDefineSchema("1", notes)
)

// setup creates notes with plasma and its change log, audits with GORM's
// AutoMigrate, and returns plasma on GORM's pool with the change log on.
func setup(t *testing.T, e *engine) *orm.DB {
	t.Helper()
	ctx := t.Context()
	if err := orm.EnsureSchema(ctx, schema, e.plasma); err != nil {
		t.Fatal(err)
	}
	if err := changelog.EnsureCapture(ctx, e.plasma, schema, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.gorm.WithContext(ctx).AutoMigrate(&Audit{}); err != nil {
		t.Fatal(err)
	}
	return e.plasma.Use(changelog.Middleware(changelog.Options{Schema: schema}))
}

// checkOutsideWriteLogged checks that GORM's write of table/id, made
// outside plasma, was captured into the change log exactly once.
func checkOutsideWriteLogged(t *testing.T, changes []changelog.Change, table, id string) {
	t.Helper()
	if n := puts(changes, table, id); n != 1 {
		t.Errorf("GORM's write of %s/%s is logged %d times, want once", table, id, n)
	}
}

// puts counts the puts of table/id in changes.
func puts(changes []changelog.Change, table, id string) int {
	n := 0
	for _, c := range changes {
		if c.Table == table && c.RowID == id && c.Op == changelog.OpPut {
			n++
		}
	}
	return n
}

// changesOf returns every change logged for table/id.
func changesOf(t *testing.T, db *orm.DB, ids ...string) []changelog.Change {
	t.Helper()
	all, _, err := changelog.ChangesSince(t.Context(), db, changelog.DefaultRegion, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []changelog.Change
	for _, c := range all {
		for _, id := range ids {
			if c.RowID == id {
				out = append(out, c)
			}
		}
	}
	return out
}

// plasma runs on the *sql.DB GORM opened: it reads the rows GORM wrote
// into GORM's own model type, and GORM reads what plasma wrote.
func TestPlasmaOnGORMPool(t *testing.T) {
	engines(t, func(t *testing.T, e *engine) {
		ctx := t.Context()
		db := setup(t, e)
		if err := e.gorm.WithContext(ctx).Create(&Note{ID: "g1", Title: "from GORM", Done: true}).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := db.Insert(notes).Model(&Note{ID: "p1", Title: "from plasma"}).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := orm.All[Note](ctx, db.Select().From(notes).OrderBy(expr.Asc(notes.Col("id"))))
		if err != nil {
			t.Fatal(err)
		}
		want := []Note{{ID: "g1", Title: "from GORM", Done: true}, {ID: "p1", Title: "from plasma"}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("plasma read %+v, want %+v", got, want)
		}
		var back []Note
		if err := e.gorm.WithContext(ctx).Order("id").Find(&back).Error; err != nil || !reflect.DeepEqual(back, want) {
			t.Errorf("GORM read %+v (%v), want %+v", back, err, want)
		}
		if n := puts(changesOf(t, db, "p1"), "notes", "p1"); n != 1 {
			t.Errorf("plasma's write logged %d times", n)
		}
		checkOutsideWriteLogged(t, changesOf(t, db, "g1"), "notes", "g1")
	})
}

// TestMixedTransaction runs a plasma write and two GORM writes (one to the
// synced table, one to a table GORM keeps) in one GORM transaction, and
// commits or rolls it back: all three land, or none, and the change log
// follows.
func TestMixedTransaction(t *testing.T) {
	engines(t, func(t *testing.T, e *engine) {
		db := setup(t, e)
		for _, prepare := range []bool{false, true} {
			for _, commit := range []bool{true, false} {
				t.Run(fmt.Sprintf("prepare=%t/commit=%t", prepare, commit), func(t *testing.T) {
					mixedTransaction(t, e, db, prepare, commit)
				})
			}
		}
	})
}

// sqlTxOf returns the *sql.Tx a GORM transaction runs on: its pool, or,
// with GORM's PrepareStmt, the transaction its prepared-statement wrapper
// holds.
func sqlTxOf(tx *gorm.DB) (*sql.Tx, error) {
	switch c := tx.Statement.ConnPool.(type) {
	case *sql.Tx:
		return c, nil
	case *gorm.PreparedStmtTX:
		if t, ok := c.Tx.(*sql.Tx); ok {
			return t, nil
		}
	}
	return nil, fmt.Errorf("GORM's transaction runs on %T, not a *sql.Tx", tx.Statement.ConnPool)
}

var errRollback = errors.New("roll back on purpose")

func mixedTransaction(t *testing.T, e *engine, db *orm.DB, prepare, commit bool) {
	ctx := t.Context()
	pid, gid := fmt.Sprintf("p-%t-%t", prepare, commit), fmt.Sprintf("g-%t-%t", prepare, commit)
	gdb := e.gorm.Session(&gorm.Session{Context: ctx, PrepareStmt: prepare})
	err := gdb.Transaction(func(tx *gorm.DB) error {
		// GORM's transaction is a *sql.Tx: plasma joins it.
		sqlTx, err := sqlTxOf(tx)
		if err != nil {
			return err
		}
		p := db.WithExecutor(sqlTx)
		if !p.IsTx() {
			return errors.New("plasma on GORM's *sql.Tx is not in a transaction")
		}
		if _, err := p.Insert(notes).Model(&Note{ID: pid, Title: "by plasma"}).Exec(ctx); err != nil {
			return err
		}
		if err := tx.Create(&Note{ID: gid, Title: "by GORM"}).Error; err != nil {
			return err
		}
		if err := tx.Create(&Audit{NoteID: pid, Action: "created"}).Error; err != nil {
			return err
		}
		// Each sees the other's uncommitted rows.
		var n int64
		if err := tx.Model(&Note{}).Where("id = ?", pid).Count(&n).Error; err != nil || n != 1 {
			return fmt.Errorf("GORM sees plasma's row %d times (%v)", n, err)
		}
		got, err := orm.One[Note](ctx, p.Select().From(notes).Where(expr.Eq(notes.Col("id"), gid)))
		if err != nil || got.Title != "by GORM" {
			return fmt.Errorf("plasma reads GORM's row as %+v (%v)", got, err)
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if commit && err != nil || !commit && !errors.Is(err, errRollback) {
		t.Fatalf("transaction: %v", err)
	}

	// What the pool sees afterwards.
	ids, err := orm.All[string](ctx, e.plasma.Select(notes.Col("id")).From(notes).
		Where(expr.InArray(notes.Col("id"), []string{pid, gid})).OrderBy(expr.Asc(notes.Col("id"))))
	if err != nil {
		t.Fatal(err)
	}
	var audits int64
	if err := e.gorm.WithContext(ctx).Model(&Audit{}).Where("note_id = ?", pid).Count(&audits).Error; err != nil {
		t.Fatal(err)
	}
	changes := changesOf(t, db, pid, gid)
	if !commit {
		if len(ids) != 0 || audits != 0 || len(changes) != 0 {
			t.Errorf("after rollback: notes %v, audits %d, changes %+v; want none", ids, audits, changes)
		}
		return
	}
	if !reflect.DeepEqual(ids, []string{gid, pid}) || audits != 1 {
		t.Errorf("after commit: notes %v, audits %d; want [%s %s] and 1", ids, audits, gid, pid)
	}
	if n := puts(changes, "notes", pid); n != 1 {
		t.Errorf("plasma's write logged %d times, want once: %+v", n, changes)
	}
	checkOutsideWriteLogged(t, changes, "notes", gid)
}

// gormIn returns gdb running in plasma's transaction tx, as GORM's own
// Begin sets up a session on the transaction it began.
func gormIn(ctx context.Context, gdb *gorm.DB, tx *orm.Tx) *gorm.DB {
	g := gdb.Session(&gorm.Session{NewDB: true, Context: ctx})
	g.Statement.ConnPool = tx.Executor().(*sql.Tx)
	return g
}

// The other way round: GORM joins a transaction plasma owns. Then
// plasma commits, and its commit feed (which pokes clients in-process)
// announces the change; a transaction GORM commits runs no plasma
// AfterCommit functions.
func TestGORMInPlasmaTransaction(t *testing.T) {
	engines(t, func(t *testing.T, e *engine) {
		ctx := t.Context()
		db := setup(t, e)
		var mu sync.Mutex
		var fed []string
		remove := changelog.OnCommit(db, func(cs []changelog.Change) {
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cs {
				fed = append(fed, c.RowID)
			}
		})
		defer remove()
		for _, commit := range []bool{true, false} {
			id := fmt.Sprintf("in-plasma-%t", commit)
			err := db.Tx(ctx, func(tx *orm.Tx) error {
				if err := gormIn(ctx, e.gorm, tx).Create(&Audit{NoteID: id, Action: "created"}).Error; err != nil {
					return err
				}
				if _, err := tx.Insert(notes).Model(&Note{ID: id, Title: "t"}).Exec(ctx); err != nil {
					return err
				}
				if !commit {
					return errRollback
				}
				return nil
			})
			if commit && err != nil || !commit && !errors.Is(err, errRollback) {
				t.Fatalf("commit=%t: %v", commit, err)
			}
			var audits int64
			if err := e.gorm.WithContext(ctx).Model(&Audit{}).Where("note_id = ?", id).Count(&audits).Error; err != nil {
				t.Fatal(err)
			}
			n, err := orm.Scalar[int64](ctx, e.plasma.Select(expr.CountAll()).From(notes).Where(expr.Eq(notes.Col("id"), id)))
			if err != nil {
				t.Fatal(err)
			}
			want := int64(0)
			if commit {
				want = 1
			}
			if audits != want || n != want || int64(puts(changesOf(t, db, id), "notes", id)) != want {
				t.Errorf("commit=%t: audits %d, notes %d, logged %d; want %d each", commit, audits, n, puts(changesOf(t, db, id), "notes", id), want)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if !reflect.DeepEqual(fed, []string{"in-plasma-true"}) {
			t.Errorf("commit feed announced %v, want the committed row only", fed)
		}
	})
}
