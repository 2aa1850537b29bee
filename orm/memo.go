package orm

import "sync"

// Memo holds values derived from the DB or Table that carries it, for
// packages built on orm (plugins, sync) that compute something once per
// table or per database: an encoding plan, a rendered statement, a note
// that some DDL has run. Keeping them here, rather than in a
// process-global map keyed by the table or executor, means they go away
// with what they describe, and two databases never see each other's.
//
// A DB's Memo is shared by the DBs made from it (Use, Begin, Tx,
// WithExecutor); a new DB (New) starts with an empty one. A Table's Memo
// belongs to that table value alone (an alias made by As has its own,
// since its column references differ) and is emptied when With or
// DefineSchema changes the table.
//
// Values are read with MemoLoad under a MemoKey. Caches keyed by a Go type
// rather than a table or database (orm's struct field cache, like
// encoding/json's) stay process-global: a type outlives every DB.
type Memo struct {
	m sync.Map // *MemoKey[V] -> V
}

// MemoKey names a value of type V in a Memo. Declare each key once, as a
// package variable: keys compare by address, so two packages' keys never
// collide.
type MemoKey[V any] struct {
	name string
}

// NewMemoKey returns a new key; name is for debugging only.
func NewMemoKey[V any](name string) *MemoKey[V] { return &MemoKey[V]{name: name} }

// String returns the key's name.
func (k *MemoKey[V]) String() string { return k.name }

// MemoLoad returns the value under k in m, made by init the first time.
// Concurrent first calls may each run init; one result is kept and all
// of them return it. A nil m (a Table made without NewTable) keeps
// nothing: init runs on every call.
func MemoLoad[V any](m *Memo, k *MemoKey[V], init func() V) V {
	if m == nil {
		return init()
	}
	if v, ok := m.m.Load(k); ok {
		return v.(V)
	}
	v, _ := m.m.LoadOrStore(k, init())
	return v.(V)
}

// MemoForget drops the value under k, so the next MemoLoad makes it again.
func MemoForget[V any](m *Memo, k *MemoKey[V]) {
	if m != nil {
		m.m.Delete(k)
	}
}

// Memo returns the values kept for the database db runs on (see Memo).
func (db *DB) Memo() *Memo { return db.memo }

// Memo returns the values kept for t (see Memo).
func (t *Table) Memo() *Memo { return t.memo }
