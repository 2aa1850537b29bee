package rowauth

import (
	"context"
	"sync/atomic"
)

// CallerUndo lets a caller that undoes a whole scope of writes itself
// spare row auth its savepoint. Inside a transaction, a write checked by
// its RETURNING (PostgreSQL) runs under a SAVEPOINT that is rolled back
// when the write is refused, so that a caller ignoring the refusal cannot
// commit the refused row: two more statements per write. Under a context
// from WithCallerUndo the write runs without them, and a refusal of a
// write that ran is recorded in the CallerUndo; the caller promises to roll back every
// write of the scope when Refused reports true, whatever the code that
// got the refusal did with it (the sync server runs each push's
// mutations this way, and replays a mutation that swallowed a refusal
// with the savepoints on). Writes outside a transaction are unaffected.
// It is safe for concurrent use.
type CallerUndo struct {
	refused atomic.Bool
}

// Refused reports whether a write under the context was refused after
// it ran (its rows are in the transaction) since the CallerUndo was made.
// A write refused before it runs (SQLite checks an INSERT's rows first)
// left nothing to undo and is not recorded.
func (u *CallerUndo) Refused() bool { return u.refused.Load() }

type undoKey struct{}

// WithCallerUndo returns a context under which row auth's checked writes
// inside a transaction run without their savepoint and record refusals
// in u (see CallerUndo).
func WithCallerUndo(ctx context.Context, u *CallerUndo) context.Context {
	return context.WithValue(ctx, undoKey{}, u)
}

func undoFrom(ctx context.Context) *CallerUndo {
	u, _ := ctx.Value(undoKey{}).(*CallerUndo)
	return u
}
