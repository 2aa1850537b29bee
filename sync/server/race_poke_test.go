package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/server"
)

// pokeRecorder is a Notifier that can poke groups, as the realtime Hub is.
type pokeRecorder struct {
	mu     sync.Mutex
	groups []string
}

func (p *pokeRecorder) Notify(context.Context, server.PushInfo) {}

func (p *pokeRecorder) Poke(group string) {
	p.mu.Lock()
	p.groups = append(p.groups, group)
	p.mu.Unlock()
}

func (p *pokeRecorder) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.groups
	p.groups = nil
	return out
}

// A commit that lands while a pull is computing may be invisible both to
// the pull and to the realtime layer's check of the group's previous view:
// the pull then pokes its own group. Here the commit is made right after
// the pull reads the change-log heads, which is the same comparison.
func TestPullRacingCommitPokesItsGroup(t *testing.T) {
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		var armed atomic.Bool
		var h *server.Handler[appCtx]
		interfere := func(next orm.Handler) orm.Handler {
			return func(ctx context.Context, st *orm.Statement) (*orm.Result, error) {
				res, err := next(ctx, st)
				if err == nil && (strings.Contains(st.SQL, "sqlite_sequence") || strings.Contains(st.SQL, "_plasma_publish")) && armed.CompareAndSwap(true, false) {
					// Read the heads before writing: SQLite evaluates a
					// query when its rows are read.
					if res.Rows, err = readAll(res.Rows); err != nil {
						return nil, err
					}
					if _, werr := h.DB().Insert(tNotes).Values(orm.Row{"id": "race", "body": "x"}).Exec(rowauth.AsSystem(context.Background())); werr != nil {
						t.Errorf("interfering write: %v", werr)
					}
				}
				return res, err
			}
		}
		rec := &pokeRecorder{}
		e := newEnv(t, tg, tg.DB.Use(interfere), func(o *server.Options[appCtx]) { o.Notifier = rec })
		h = e.h
		e.mustPush("ann", "g1", mut{"c1", 1, "createList", `{"id":"L1","name":"a"}`})

		if status, body := e.post("pull", "ann", pullBody("g1", nil)); status != 200 {
			t.Fatalf("quiet pull: %d %s", status, body)
		}
		if got := rec.take(); len(got) != 0 {
			t.Fatalf("a pull with no concurrent commit poked %v", got)
		}

		armed.Store(true)
		if status, body := e.post("pull", "ann", pullBody("g1", nil)); status != 200 {
			t.Fatalf("racing pull: %d %s %v", status, body, e.takeErrors())
		}
		if armed.Load() {
			t.Fatal("the interfering write never ran")
		}
		if got := rec.take(); len(got) != 1 || got[0] != "g1" {
			t.Fatalf("a pull raced by a commit must poke its group once, got %v", got)
		}
	})
}

// memRows is a result read into memory.
type memRows struct {
	cols []string
	rows [][]any
	i    int
}

func readAll(r orm.Rows) (*memRows, error) {
	defer r.Close()
	cols, err := r.Columns()
	if err != nil {
		return nil, err
	}
	m := &memRows{cols: cols, i: -1}
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return nil, err
		}
		m.rows = append(m.rows, vals)
	}
	return m, r.Err()
}

func (m *memRows) Columns() ([]string, error) { return m.cols, nil }
func (m *memRows) Next() bool                 { m.i++; return m.i < len(m.rows) }
func (m *memRows) Err() error                 { return nil }
func (m *memRows) Close() error               { return nil }
func (m *memRows) Scan(dest ...any) error {
	for i, d := range dest {
		switch v := m.rows[m.i][i].(type) {
		case int64:
			switch d := d.(type) {
			case *int:
				*d = int(v)
			case *int64:
				*d = v
			default:
				return fmt.Errorf("memRows: scan %T into %T", v, d)
			}
		case string:
			*(d.(*string)) = v
		case []byte:
			*(d.(*string)) = string(v)
		case nil:
			return fmt.Errorf("memRows: NULL in column %d", i)
		}
	}
	return nil
}
