package orm

import (
	"database/sql"
	"slices"
	"sync"
)

// Bounds of a textCache: texts longer than maxCachedText (the largest
// multi-row inserts) and texts past maxCachedTexts are not kept. A
// 100-row insert of 8 columns is about 5 KiB.
const (
	maxCachedTexts = 1024
	maxCachedText  = 16 << 10
)

// textCache keeps the SQL texts a DB renders, so that a statement run
// again uses the string made the first time rather than allocating a new
// one: the render itself writes into a pooled buffer, and the driver
// (pgx's statement cache, lib/pq's in dialect/postgres) looks the text up
// by value anyway.
//
// It also keeps, by shape (insertShape), the text of each plain INSERT it
// has rendered: a multi-row insert run again with as many rows of the
// same columns takes its text from there, without rendering its
// placeholders again or hashing the whole text to intern it.
type textCache struct {
	mu  sync.RWMutex
	m   map[string]string
	ins map[insertShape]insertText
}

// intern returns buf as a string, the cached one if buf was seen before.
func (c *textCache) intern(buf []byte) string {
	if c == nil || len(buf) > maxCachedText {
		return string(buf)
	}
	c.mu.RLock()
	s, ok := c.m[string(buf)] // no allocation: a map lookup by converted bytes
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = string(buf)
	c.mu.Lock()
	if len(c.m) < maxCachedTexts {
		if c.m == nil {
			c.m = make(map[string]string)
		}
		c.m[s] = s
	}
	c.mu.Unlock()
	return s
}

// argsBuf is a reusable slice of statement arguments.
type argsBuf struct{ s []any }

var argsPool = sync.Pool{New: func() any { return &argsBuf{s: make([]any, 0, 16)} }}

// maxPooledArgs bounds the argument slices kept for reuse.
const maxPooledArgs = 4096

// lendsArgs reports whether db's executor is database/sql's own
// (*sql.DB, *sql.Tx, *sql.Conn), which converts a statement's arguments
// and keeps none once the call returns, so that they may sit in a buffer
// that is reused; any other executor might keep them.
func (db *DB) lendsArgs() bool {
	switch db.exec.(type) {
	case *sql.DB, *sql.Tx, *sql.Conn:
		return true
	}
	return false
}

// returnArgs clears ab and returns it to the pool.
func returnArgs(ab *argsBuf) {
	if cap(ab.s) > maxPooledArgs {
		return
	}
	clear(ab.s) // what lies past len was cleared before, or never set
	ab.s = ab.s[:0]
	argsPool.Put(ab)
}

// insertShape is what the text of a plain INSERT (no ON CONFLICT, no
// RETURNING, rendered on its own) depends on besides its columns: the
// table and the number of rows and of columns. The DB's dialect is fixed.
type insertShape struct {
	t          *Table
	rows, cols int
}

// insertText is the text rendered for one insertShape and the columns it
// names.
type insertText struct {
	cols []string
	text string
}

// maxCachedInserts bounds the insert texts a textCache keeps by shape.
const maxCachedInserts = 256

// insertText returns the text rendered before for an INSERT of rows rows
// of cols into t, if there is one.
func (c *textCache) insertText(t *Table, cols []string, rows int) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.RLock()
	it, ok := c.ins[insertShape{t, rows, len(cols)}]
	c.mu.RUnlock()
	if !ok || !slices.Equal(it.cols, cols) {
		return "", false
	}
	return it.text, true
}

// keepInsert remembers text as the rendering of an INSERT of rows rows of
// cols into t (a copy of cols is kept).
func (c *textCache) keepInsert(t *Table, cols []string, rows int, text string) {
	if c == nil || len(text) > maxCachedText {
		return
	}
	c.mu.Lock()
	if len(c.ins) < maxCachedInserts {
		if c.ins == nil {
			c.ins = make(map[insertShape]insertText)
		}
		c.ins[insertShape{t, rows, len(cols)}] = insertText{cols: slices.Clone(cols), text: text}
	}
	c.mu.Unlock()
}
