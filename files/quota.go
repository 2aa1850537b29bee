package files

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// The defaults of Quota.
const (
	// DefaultQuotaBytes: two files of DefaultMaxSize.
	DefaultQuotaBytes = 2 << 30
	// DefaultQuotaUploads caps the pending uploads of one user.
	DefaultQuotaUploads = 1000
)

// Quota bounds what one user may hold in uploads no row references yet
// ("pending" uploads): without it, one account could fill the storage
// with blobs that only GCOrphans would ever remove.
//
// An upload is pending from the moment it is recorded until a recount
// finds a row referencing its hash. A recount runs when an upload would
// go over the quota (at most every ten seconds per user unless a write
// was committed meanwhile), and re-judges every upload the user has on
// record:
// one referenced then, and since orphaned (its row deleted), counts
// again. So a user cannot cycle upload, reference, delete to get past
// the quota: it holds at most the quota in unreferenced uploads, plus
// what its rows referenced at the last recount. GCOrphans frees the
// quota: collecting a blob deletes its upload records.
//
// The count covers uploads this process has in flight too (each
// content once), so concurrent uploads cannot all slip under it; several
// processes on one database can each let one user's in-flight uploads
// through, so the bound across n processes is n times the quota at most
// for uploads in flight at once.
type Quota struct {
	// Bytes caps the total size of a user's pending uploads; 0 means
	// DefaultQuotaBytes, a negative value no cap. A single upload larger
	// than Bytes is refused at once (413): it could never fit.
	Bytes int64
	// Uploads caps the number of a user's pending uploads; 0 means
	// DefaultQuotaUploads, a negative value no cap.
	Uploads int
}

// ErrQuotaExceeded reports an upload over its user's Quota; the error is
// a *QuotaError.
var ErrQuotaExceeded = errors.New("files: upload quota exceeded")

// QuotaError is an upload refused by the uploader's Quota; nothing was
// read or stored. errors.Is(err, ErrQuotaExceeded) matches it.
type QuotaError struct {
	// User is the uploader.
	User string
	// Size is the refused upload's size.
	Size int64
	// Uploads and Bytes are what the user has pending (in flight
	// included), without this upload.
	Uploads int
	Bytes   int64
	// Quota is the limit applied.
	Quota Quota
}

// TooLarge reports that the upload alone is over Quota.Bytes: waiting
// for references or GC will not make it fit.
func (e *QuotaError) TooLarge() bool { return e.Quota.Bytes >= 0 && e.Size > e.Quota.Bytes }

// Error says which limit the upload is over.
func (e *QuotaError) Error() string {
	if e.TooLarge() {
		return fmt.Sprintf("files: upload quota exceeded: %d bytes is over the quota of %d bytes of unreferenced uploads", e.Size, e.Quota.Bytes)
	}
	return fmt.Sprintf("files: upload quota exceeded: %d uploads (%d bytes) not yet referenced by a row, quota %d uploads, %d bytes; reference them or wait for GC",
		e.Uploads, e.Bytes, e.Quota.Uploads, e.Quota.Bytes)
}

// Is matches ErrQuotaExceeded.
func (e *QuotaError) Is(target error) bool { return target == ErrQuotaExceeded }

// quota is the Service's in-process state of the quota: the uploads in
// flight per user, and a lock per user ordering its quota checks.
type quota struct {
	limit    Quota
	mu       sync.Mutex
	users    map[string]*userUploads
	recounts map[string]recount // the last recount per user
}

// recountEvery is how often a user's uploads are recounted at most while
// no write has been committed through the Service's Middleware (one
// could change the outcome at once): a client hammering a full quota
// costs a read per attempt, not a rewrite of its records.
const recountEvery = 10 * time.Second

// recountsMax bounds the users whose last recount is remembered.
const recountsMax = 4096

type recount struct {
	gen uint64
	at  time.Time
}

// recountDue reports whether user's uploads should be recounted now,
// given the write generation gen, and if so notes it.
func (q *quota) recountDue(user string, gen uint64, now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	last, ok := q.recounts[user]
	if ok && last.gen == gen && now.Sub(last.at) < recountEvery {
		return false
	}
	if q.recounts == nil || len(q.recounts) >= recountsMax {
		q.recounts = map[string]recount{}
	}
	q.recounts[user] = recount{gen: gen, at: now}
	return true
}

// userUploads is one user's uploads in flight, each content once.
type userUploads struct {
	mu     sync.Mutex // held while one of the user's uploads is checked
	refs   int        // the goroutines holding this entry
	flying map[Hash]*flight
}

type flight struct {
	size int64
	n    int
}

func (q *quota) off() bool { return q.limit.Bytes < 0 && q.limit.Uploads < 0 }

// entry returns user's entry, referenced once more.
func (q *quota) entry(user string) *userUploads {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.users == nil {
		q.users = map[string]*userUploads{}
	}
	u := q.users[user]
	if u == nil {
		u = &userUploads{flying: map[Hash]*flight{}}
		q.users[user] = u
	}
	u.refs++
	return u
}

// drop releases a reference to user's entry, taking h off the flight
// list if fly.
func (q *quota) drop(user string, u *userUploads, h Hash, fly bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if fly {
		if f := u.flying[h]; f != nil {
			if f.n--; f.n == 0 {
				delete(u.flying, h)
			}
		}
	}
	if u.refs--; u.refs == 0 {
		delete(q.users, user)
	}
}

// over reports whether n uploads of total bytes, plus one of size, break
// the limit.
func (q *quota) over(n int, total, size int64) bool {
	return (q.limit.Uploads >= 0 && n+1 > q.limit.Uploads) || (q.limit.Bytes >= 0 && total+size > q.limit.Bytes)
}

// admitUpload checks an upload of ref by user against the quota and, if
// it fits, counts it in flight until the returned function is called. A
// user re-uploading content it has on record costs nothing and passes.
func (s *Service) admitUpload(ctx context.Context, ref Ref, user string) (done func(), err error) {
	q := &s.quota
	if user == "" || q.off() {
		return func() {}, nil
	}
	qe := &QuotaError{User: user, Size: ref.Size, Quota: q.limit}
	if qe.TooLarge() {
		return nil, qe
	}
	u := q.entry(user)
	u.mu.Lock()
	defer u.mu.Unlock()
	fail := func(err error) (func(), error) {
		q.drop(user, u, ref.Hash, false)
		return nil, err
	}
	// In flight first, then on record: an upload finishing in between
	// is counted twice (for a moment), never missed.
	fn, ftotal := s.flying(u, ref.Hash)
	n, total, mine, err := s.pending(ctx, user, ref.Hash, false)
	if err != nil {
		return fail(err)
	}
	if !mine {
		n, total = n+fn, total+ftotal
		if q.over(n, total, ref.Size) && q.recountDue(user, s.auth.gen.Load(), s.opts.Now()) {
			// Some pending uploads may be referenced by now: recount.
			fn, ftotal = s.flying(u, ref.Hash)
			if n, total, _, err = s.pending(ctx, user, ref.Hash, true); err != nil {
				return fail(err)
			}
			n, total = n+fn, total+ftotal
		}
		if q.over(n, total, ref.Size) {
			qe.Uploads, qe.Bytes = n, total
			return fail(qe)
		}
	}
	q.mu.Lock()
	f := u.flying[ref.Hash]
	if f == nil {
		f = &flight{size: ref.Size}
		u.flying[ref.Hash] = f
	}
	f.n++
	q.mu.Unlock()
	return func() { q.drop(user, u, ref.Hash, true) }, nil
}

// flying returns the number and total size of the user's uploads in
// flight other than h. The caller holds u.mu.
func (s *Service) flying(u *userUploads, h Hash) (n int, total int64) {
	s.quota.mu.Lock()
	defer s.quota.mu.Unlock()
	for fh, f := range u.flying {
		if fh != h {
			n++
			total += f.size
		}
	}
	return n, total
}

// pending returns the number and total size of user's pending uploads
// other than h, and whether user has h on record. With recount it first
// re-judges each of the user's uploads against the file columns: pending
// if no row references its hash.
func (s *Service) pending(ctx context.Context, user string, h Hash, recount bool) (n int, total int64, mine bool, err error) {
	release, err := s.dbTurn(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	defer release()
	ctx = rowauth.AsSystem(ctx)
	if recount {
		// Only the rows whose state changed are written.
		judged := `(CASE WHEN ` + s.referencedSQL(`"`+ownersTable+`"."hash"`) + ` THEN 0 ELSE 1 END)`
		q := `UPDATE "` + ownersTable + `" SET "pending" = ` + judged + ` WHERE "user_id" = ? AND "pending" <> ` + judged
		if _, err := s.base.Exec(ctx, q, user); err != nil {
			return 0, 0, false, err
		}
	}
	hs := h.String()
	rows, err := s.base.Query(ctx, `SELECT `+
		`CAST(COALESCE(SUM(CASE WHEN "hash" = ? THEN 0 ELSE 1 END), 0) AS BIGINT), `+
		`CAST(COALESCE(SUM(CASE WHEN "hash" = ? THEN 0 ELSE "size" END), 0) AS BIGINT), `+
		`CAST(COALESCE(SUM(CASE WHEN "hash" = ? THEN 1 ELSE 0 END), 0) AS BIGINT) `+
		`FROM "`+ownersTable+`" WHERE "user_id" = ? AND ("pending" = 1 OR "hash" = ?)`, hs, hs, hs, user, hs)
	if err != nil {
		return 0, 0, false, err
	}
	defer rows.Close()
	var count, own int64
	if rows.Next() {
		if err := rows.Scan(&count, &total, &own); err != nil {
			return 0, 0, false, err
		}
	}
	return int(count), total, own > 0, rows.Err()
}

// referencedSQL is a condition true when a row of a file column
// references the hash hashSQL evaluates to.
func (s *Service) referencedSQL(hashSQL string) string {
	var conds []string
	for _, tf := range s.ordered {
		for _, c := range tf.cols {
			conds = append(conds, fmt.Sprintf(`EXISTS (SELECT 1 FROM %s WHERE %s = %s)`,
				dialect.QuoteIdent(tf.t.Name()), s.hashExpr(c.name), hashSQL))
		}
	}
	if len(conds) == 0 {
		return "1 = 0"
	}
	return "(" + strings.Join(conds, " OR ") + ")"
}
