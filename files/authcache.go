package files

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plasma-go/plasma/plugin/rowauth"
)

// DefaultReadAuthCacheTTL: see Options.ReadAuthCacheTTL.
const DefaultReadAuthCacheTTL = 2 * time.Second

// authCacheMax bounds the decisions kept; a full cache starts over.
const authCacheMax = 4096

// authCache keeps positive download decisions — this identity may read a
// row referencing this hash, whose ref is this — so repeated downloads
// skip the two queries that decide it (most of a 1 MiB download's cost).
// A decision is dropped by any write committed in this process through a
// DB carrying the Service's Middleware or logged by the change log on
// Options.DB (the generation moves), and in any case after the TTL, which
// bounds how long a write the process cannot see (another process, raw
// SQL elsewhere) may go unnoticed. Refusals are never kept: a new grant
// is seen at once.
type authCache struct {
	ttl time.Duration // <= 0: off
	now func() time.Time
	gen atomic.Uint64
	mu  sync.Mutex
	m   map[string]authEntry
}

type authEntry struct {
	ref   Ref
	gen   uint64
	until time.Time
}

// bump drops every decision: something was written.
func (c *authCache) bump() { c.gen.Add(1) }

// key is the cache key of id reading h; ok is false when id cannot be
// keyed (claims that do not encode), which is then not cached.
func (c *authCache) key(id rowauth.Identity, h Hash) (string, bool) {
	if c.ttl <= 0 {
		return "", false
	}
	k := h.String() + "\x00" + id.UserID
	if len(id.Claims) > 0 {
		b, err := json.Marshal(id.Claims) // map keys sorted: a stable form
		if err != nil {
			return "", false
		}
		k += "\x00" + string(b)
	}
	return k, true
}

// get returns the ref of a live decision under key.
func (c *authCache) get(key string) (Ref, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || e.gen != c.gen.Load() || !c.now().Before(e.until) {
		return Ref{}, false
	}
	return e.ref, true
}

// put keeps a decision made from what the database held at generation
// gen (read before the decision's queries): a write committed meanwhile
// has moved the generation, and the entry is dead on arrival.
func (c *authCache) put(key string, ref Ref, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= authCacheMax {
		c.m = make(map[string]authEntry)
	}
	c.m[key] = authEntry{ref: ref, gen: gen, until: c.now().Add(c.ttl)}
}
