package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
)

var (
	siNotes  = orm.NewTable("si_notes", orm.ID(), orm.Text("body"))
	siSchema = orm.MustDefineSchema("1", siNotes)
)

// An incremental pull keeps the JSON of the rows its patch puts, not of
// every row it reads: what it holds is bounded by its response.
func TestSnapshotKeepsOnlyPutRows(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		h, err := NewHandler(Options[struct{}]{Schema: siSchema, DB: tg.DB, Mutators: mutator.Set[struct{}]{},
			Auth: func(*http.Request) (rowauth.Identity, struct{}, error) {
				return rowauth.Identity{}, struct{}{}, errors.New("unused")
			}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := rowauth.AsSystem(context.Background())
		rows := make([]orm.Row, 0, 2000)
		for i := range cap(rows) {
			rows = append(rows, orm.Row{"id": fmt.Sprintf("n%04d", i), "body": strings.Repeat("x", 100)})
		}
		if _, err := h.DB().Insert(siNotes).Values(rows...).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		ann := rowauth.Identity{UserID: "ann"}
		heads, err := h.heads(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first, err := h.readPull(ctx, ann, "g", nil, fallbackReset, nil)
		if err != nil {
			t.Fatal(err)
		}
		if first.nputs != 2000 || first.puts.n < 2000*100 || len(first.writes) != 2000 {
			t.Fatalf("reset: %d puts in %d bytes, %d lines", first.nputs, first.puts.n, len(first.writes))
		}
		c, err := h.storeView(ctx, "g", "ann", first.base, []byte(`{}`), first.writes)
		if err != nil {
			t.Fatal(err)
		}
		prev := &cvr{cookie: c, meta: cvrMeta{Heads: heads, Lines: true, Inputs: first.inputs}}
		if _, err := h.DB().Update(siNotes).Set(orm.Row{"body": "changed"}).Where(expr.Eq(siNotes.Col("id"), "n0007")).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := h.heads(ctx); err != nil { // publishes the change (PostgreSQL)
			t.Fatal(err)
		}
		for _, fallback := range []string{"", fallbackFingerprint} {
			next, err := h.readPull(ctx, ann, "g", prev, fallback, nil)
			if err != nil {
				t.Fatal(err)
			}
			if next.nputs != 1 || next.puts.n > 200 || len(next.dels) != 0 || len(next.writes) != 1 || next.fallback != fallback {
				t.Fatalf("one row changed (fallback %q): %d puts kept in %d bytes, dels %v, %d lines, fallback %q",
					fallback, next.nputs, next.puts.n, next.dels, len(next.writes), next.fallback)
			}
		}
	})
}
