package orm

import (
	"database/sql"
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
type textCache struct {
	mu sync.RWMutex
	m  map[string]string
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

// lendArgs returns a buffer for a statement's arguments when db's
// executor is database/sql's own (*sql.DB, *sql.Tx, *sql.Conn), which
// converts the arguments and keeps none once the call returns; nil for
// any other executor, which might keep them.
func (db *DB) lendArgs() *argsBuf {
	switch db.exec.(type) {
	case *sql.DB, *sql.Tx, *sql.Conn:
		return argsPool.Get().(*argsBuf)
	}
	return nil
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
