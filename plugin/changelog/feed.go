package changelog

import (
	"sync"

	"github.com/plasma-go/plasma/orm"
)

// feed holds the in-process listeners of a database's commits.
type feed struct {
	mu   sync.Mutex
	next int
	fns  map[int]func([]Change)
}

var feedKey = orm.NewMemoKey[*feed]("changelog.feed")

func feedOf(m *orm.Memo) *feed {
	return orm.MemoLoad(m, feedKey, func() *feed { return &feed{fns: map[int]func([]Change){}} })
}

// OnCommit calls fn, in this process, with the changes each logged write
// made through db (or any DB sharing its Memo: its transactions and the
// DBs made from it with Use) once the write's transaction has committed,
// with their row images; a rolled-back write calls nothing. Changes carry
// no Version (it is assigned in the log; on PostgreSQL after the commit):
// a listener that needs commit order reads the log (ChangesSince) and
// takes fn as the signal to. fn runs on the committing goroutine before
// Commit returns, so it must not block; and a transaction committed
// outside plasma (a *sql.Tx handed to DB.WithExecutor and committed by
// its owner) calls nothing. The returned function removes fn.
func OnCommit(db *orm.DB, fn func([]Change)) (remove func()) {
	f := feedOf(db.Memo())
	f.mu.Lock()
	id := f.next
	f.next++
	f.fns[id] = fn
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.fns, id)
		f.mu.Unlock()
	}
}

// announce registers the changes of a write to be handed to the
// listeners once db's transaction commits. Without listeners it costs a
// map lookup.
func announce(db *orm.DB, region string, changes []change) {
	if len(changes) == 0 {
		return
	}
	f := feedOf(db.Memo())
	f.mu.Lock()
	n := len(f.fns)
	f.mu.Unlock()
	if n == 0 {
		return
	}
	out := make([]Change, len(changes))
	for i, c := range changes {
		out[i] = Change{Region: region, Table: c.table, RowID: c.id, Op: c.op, Row: c.data}
	}
	db.AfterCommit(func() {
		f.mu.Lock()
		fns := make([]func([]Change), 0, len(f.fns))
		for _, fn := range f.fns {
			fns = append(fns, fn)
		}
		f.mu.Unlock()
		for _, fn := range fns {
			fn(out)
		}
	})
}
