package rowauth

import (
	"strconv"
	"sync"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
)

// Inside a transaction, the result of an INSERT's check is remembered by
// its SQL and arguments until a write could change what the check reads:
// a push of a hundred todos into one list asks once whether its user is a
// member. An INSERT into a table a remembered check reads forgets that
// check; any other write (UPDATE, DELETE, an upsert, raw SQL, DDL, a
// savepoint rolled back), whose effects may cascade through foreign keys,
// forgets them all. Only checks whose SQL plasma built are remembered, so
// the tables they read are known. Writes made around plasma, on the
// transaction's *sql.Tx directly, are not seen: make them through the DB.

type checkCacheKey struct{}

// maxCachedChecks bounds the results one transaction remembers.
const maxCachedChecks = 256

type checkCache struct {
	mu sync.Mutex
	m  map[string]checkResult
}

type checkResult struct {
	allowed bool
	reads   []string // the tables the check reads
}

func newCheckCache() any { return &checkCache{} }

// cacheOf returns db's transaction's check cache, making it if make is set.
func cacheOf(db *orm.DB, make bool) *checkCache {
	init := newCheckCache
	if !make {
		init = nil
	}
	c, _ := db.TxValue(checkCacheKey{}, init).(*checkCache)
	return c
}

func (c *checkCache) get(key string) (checkResult, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[key]
	return r, ok
}

func (c *checkCache) put(key string, r checkResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]checkResult)
	}
	if len(c.m) < maxCachedChecks {
		c.m[key] = r
	}
}

// wrote forgets what statement st may change.
func (c *checkCache) wrote(st *orm.Statement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q, ok := st.Query.(*orm.InsertQuery); ok && st.Table != nil &&
		(q.Parts().OnConflict == nil || q.Parts().OnConflict.DoNothing) {
		for k, r := range c.m {
			for _, t := range r.reads {
				if t == st.Table.Name() {
					delete(c.m, k)
					break
				}
			}
		}
		return
	}
	clear(c.m)
}

// checkKey is a check's cache key: its SQL and its arguments, or false
// when an argument is of a kind it does not encode.
func checkKey(text string, args []any) (string, bool) {
	b := make([]byte, 0, len(text)+16*len(args))
	b = append(b, text...)
	for _, a := range args {
		switch v := a.(type) {
		case nil:
			b = append(b, 0, 'n')
		case string:
			b = append(b, 0, 's')
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		case []byte:
			b = append(b, 0, 'b')
			b = strconv.AppendInt(b, int64(len(v)), 10)
			b = append(b, ':')
			b = append(b, v...)
		case int64:
			b = append(b, 0, 'i')
			b = strconv.AppendInt(b, v, 10)
		case bool:
			b = append(b, 0, 't')
			b = strconv.AppendBool(b, v)
		default:
			return "", false
		}
	}
	return string(b), true
}

// collectSelect calls add with each table q reads, or reports false when
// q holds something whose reads are not known (raw SQL, a foreign query).
func collectSelect(q *orm.SelectQuery, add func(*orm.Table)) bool {
	p := q.Parts()
	if p.From != nil {
		add(p.From)
	}
	if p.FromSub != nil && !collectSelect(p.FromSub, add) {
		return false
	}
	for _, j := range p.Joins {
		if j.Table == nil || !collectExpr(j.On, add) {
			return false
		}
		add(j.Table)
	}
	for _, list := range [...][]expr.Expr{p.Columns, p.Where, p.GroupBy, p.Having} {
		for _, e := range list {
			if !collectExpr(e, add) {
				return false
			}
		}
	}
	for _, o := range p.OrderBy {
		if !collectExpr(o.X, add) {
			return false
		}
	}
	return true
}

// collectExpr is collectSelect for one expression.
func collectExpr(e expr.Expr, add func(*orm.Table)) bool {
	ok := true
	expr.Inspect(e, func(n expr.Expr) bool {
		switch n := n.(type) {
		case *expr.Subquery:
			s, isSelect := n.Query.(*orm.SelectQuery)
			ok = isSelect && collectSelect(s, add)
		case *expr.Raw:
			ok = false // its reads are not known
		}
		return ok
	})
	return ok
}
