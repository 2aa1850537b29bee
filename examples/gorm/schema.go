package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
)

// The tables GORM keeps: it migrates and writes them as before.

// User is a signed-up user; GORM assigns its integer key.
type User struct {
	ID   uint   `gorm:"primaryKey"`
	Name string `gorm:"uniqueIndex;not null"`
}

// Activity is the app's audit trail, written by GORM for every change to
// a note, in the same transaction as the change.
type Activity struct {
	ID     uint   `gorm:"primaryKey"`
	UserID string `gorm:"index;not null"`
	NoteID string `gorm:"not null"`
	Action string `gorm:"not null"`
}

// The table that moved to plasma and syncs.

// Note is the model the app's GORM code declared; plasma scans and writes
// it unchanged (gorm:"column:…" tags, else snake_case names).
type Note struct {
	ID      string `gorm:"primaryKey" json:"id"`
	OwnerID string `gorm:"column:owner_id;index" json:"ownerID"`
	Body    string `gorm:"column:body;not null" json:"body"`
	Pinned  bool   `json:"pinned"`
}

// Notes is plasma's declaration of the notes table: a text id (clients
// create notes offline), read and written by their owner only.
var Notes = orm.NewTable("notes",
	orm.ID(),
	orm.Text("owner_id"),
	orm.Text("body"),
	orm.Boolean("pinned").Default(false),
)

// Schema is what syncs: only notes. GORM's tables are not in it.
var Schema *orm.Schema

func init() {
	own := rowauth.Owner(Notes.Col("owner_id")).Rule()
	Notes.With(orm.TableOptions{Auth: orm.TableAuth{Read: own, Write: own}})
	Schema = orm.MustDefineSchema("1", Notes)
}

// AppCtx is what mutators learn about the request.
type AppCtx struct{ UserID string }

// NoteArgs are a client's new note.
type NoteArgs struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// maxBody bounds a note's text.
const maxBody = 10_000

// Validate refuses a note without an id or text, or with too much.
func (a NoteArgs) Validate() error {
	switch {
	case a.ID == "" || len(a.ID) > 64 || !utf8.ValidString(a.ID):
		return errors.New("a note needs an id of 1 to 64 bytes")
	case strings.TrimSpace(a.Body) == "":
		return errors.New("empty note")
	case len(a.Body) > maxBody || !utf8.ValidString(a.Body):
		return fmt.Errorf("a note holds at most %d bytes of UTF-8", maxBody)
	}
	return nil
}

// mutators are what clients push. Each writes its note through plasma
// (row auth, the change log) and its Activity through GORM, in the
// mutation's transaction: both commit, or neither.
func mutators(gdb *gorm.DB) mutator.Set[AppCtx] {
	return mutator.Set[AppCtx]{
		"createNote": mutator.New(func(ctx context.Context, c mutator.Call[AppCtx], a NoteArgs) error {
			return createNote(ctx, gdb, c.DB, c.Ctx.UserID, a)
		}),
	}
}

// createNote writes a note for user and its Activity in tx, a plasma DB
// in a transaction.
func createNote(ctx context.Context, gdb *gorm.DB, tx *orm.DB, user string, a NoteArgs) error {
	if _, err := tx.Insert(Notes).Model(&Note{ID: a.ID, OwnerID: user, Body: a.Body}).Exec(ctx); err != nil {
		return err
	}
	g, err := gormIn(ctx, gdb, tx)
	if err != nil {
		return err
	}
	return g.Create(&Activity{UserID: user, NoteID: a.ID, Action: "created"}).Error
}

// gormIn returns gdb running in plasma's transaction tx, as GORM's own
// Begin sets up a session on the transaction it began.
func gormIn(ctx context.Context, gdb *gorm.DB, tx *orm.DB) (*gorm.DB, error) {
	sqlTx, ok := tx.Executor().(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("gormIn: plasma runs on %T, not in a transaction", tx.Executor())
	}
	g := gdb.Session(&gorm.Session{NewDB: true, Context: ctx})
	g.Statement.ConnPool = sqlTx
	return g, nil
}
