package files

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/plasma-go/plasma/expr"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/tabledef"
)

// DefaultStorage is the name of the storage tables use when their
// TableOptions.Blobs is empty (the seed's blobs: {default: …}).
const DefaultStorage = "default"

// The defaults of Options.
const (
	// DefaultReadAuthMaxRefs caps the referencing rows a download checks.
	DefaultReadAuthMaxRefs = 128
	// DefaultMaxSize caps a file column without a MaxSize: 1 GiB.
	DefaultMaxSize = 1 << 30
	// DefaultTouchInterval: see Options.TouchInterval.
	DefaultTouchInterval = time.Minute
	// DefaultMaxConcurrentRecords: see Options.MaxConcurrentRecords.
	DefaultMaxConcurrentRecords = 8
)

// ColumnOptions are a file column's limits.
type ColumnOptions struct {
	// MaxSize caps a file's size in bytes; 0 means DefaultMaxSize.
	MaxSize int64
	// MIMEAllowList lists the MIME types allowed, as "image/png" or with
	// a wildcard subtype, "image/*"; parameters are ignored. Empty allows
	// any type.
	MIMEAllowList []string
	// Immutable makes a set ref permanent: a write may set the column
	// while it is NULL (or write the same ref again), never change or
	// clear it.
	Immutable bool
}

// Options configures a Service. Schema, DB and a "default" storage are
// required.
type Options struct {
	// Schema is the application's schema: every column declared with
	// orm.File is a file column.
	Schema *orm.Schema
	// DB is the database, without the Service's Middleware and without
	// row auth (the Service installs row auth on its own reads). It must
	// not be a transaction.
	DB *orm.DB
	// Storages maps names to storages: DefaultStorage is required, and
	// every table's TableOptions.Blobs must name one.
	Storages map[string]Storage
	// Columns sets the limits of file columns, keyed "table.column"; a
	// key that names no file column is an error.
	Columns map[string]ColumnOptions
	// ReadAuthMaxRefs caps the rows referencing a hash that a download
	// (or a write proving possession) checks for one the identity may
	// read: the first ReadAuthMaxRefs by table, then row id. Default
	// DefaultReadAuthMaxRefs.
	ReadAuthMaxRefs int
	// ReadAuthCacheTTL is how long a download's positive read-auth
	// decision (this identity may read a row referencing this hash) may
	// be reused; any write committed in this process through the
	// Middleware or the change log drops them all at once, so the TTL
	// bounds only the staleness after writes the process cannot see
	// (another process, raw SQL on another DB). Refusals are never
	// reused. 0 means DefaultReadAuthCacheTTL; a negative value checks
	// every download.
	ReadAuthCacheTTL time.Duration
	// TouchInterval is how stale an upload's record may get before an
	// upload of the same content writes it again; GCOrphans refuses a
	// grace period under four times it. Default DefaultTouchInterval.
	TouchInterval time.Duration
	// SkipEnsure leaves the database alone: New then creates neither the
	// files tables nor the hash indexes (see Ensure).
	SkipEnsure bool
	// MaxConcurrentRecords caps the uploads writing or reading their
	// bookkeeping rows at once, so a burst of uploads cannot take every
	// connection of the pool. Default DefaultMaxConcurrentRecords.
	MaxConcurrentRecords int
	// Quota bounds each user's uploads that no row references yet (see
	// Quota); the zero value applies DefaultQuotaBytes and
	// DefaultQuotaUploads.
	Quota Quota
	// MinRate, in bytes per second, is the slowest average an upload's
	// body may arrive at, or a download go out at, after a first
	// StallTimeout of grace; 0 means DefaultMinRate, a negative value no
	// minimum (a download then keeps the server's WriteTimeout).
	MinRate int64
	// StallTimeout is how long an upload may go without progress. The
	// endpoints set the connection's deadlines from it and MinRate,
	// in place of the server's ReadTimeout and WriteTimeout, so a large
	// file on a slow link is not cut while a stalled or trickling
	// transfer still is. 0 means DefaultStallTimeout; a negative value
	// leaves the server's deadlines alone.
	StallTimeout time.Duration
	// OnError, if set, is told about the errors the endpoints answer 500
	// for (the answer itself carries no details).
	OnError func(ctx context.Context, err error)
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time
}

// Service is the files capability of one schema and database: the write
// check (Middleware), the upload and download endpoints (ServeFiles,
// Handler) and maintenance (GCOrphans, ReconcileRefs). It is safe for
// concurrent use.
type Service struct {
	opts    Options
	base    *orm.DB // Options.DB
	authDB  *orm.DB // base with row auth, for reads under an identity
	tables  map[string]*tableFiles
	ordered []*tableFiles // tables with file columns, by name
	locks   keyedLocks
	dbSem   chan struct{} // MaxConcurrentRecords tokens
	quota   quota
	auth    authCache // positive download decisions
}

// tableFiles is what the Service knows about a table with file columns.
type tableFiles struct {
	t       *orm.Table
	storage Storage
	name    string // storage name
	cols    []*fileColumn
	byName  map[string]*fileColumn
	idKey   bool // the primary key is "id": rows can be checked one by one
}

// fileColumn is one file column with its options.
type fileColumn struct {
	table, name string
	nullable    bool
	opts        ColumnOptions
}

// New checks opts against the schema — an unknown storage name, a
// Columns key that is no file column, or a malformed allow list is an
// error, reported before anything is served — creates the files tables
// and hash indexes (unless SkipEnsure), and returns the Service.
func New(ctx context.Context, opts Options) (*Service, error) {
	switch {
	case opts.Schema == nil:
		return nil, errors.New("files: New: Options.Schema is nil")
	case opts.DB == nil:
		return nil, errors.New("files: New: Options.DB is nil")
	case opts.DB.IsTx():
		return nil, errors.New("files: New: Options.DB is a transaction; give the database")
	case opts.Storages[DefaultStorage] == nil:
		return nil, fmt.Errorf("files: New: Options.Storages has no %q storage", DefaultStorage)
	}
	if opts.ReadAuthMaxRefs <= 0 {
		opts.ReadAuthMaxRefs = DefaultReadAuthMaxRefs
	}
	if opts.TouchInterval <= 0 {
		opts.TouchInterval = DefaultTouchInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxConcurrentRecords <= 0 {
		opts.MaxConcurrentRecords = DefaultMaxConcurrentRecords
	}
	if opts.ReadAuthCacheTTL == 0 {
		opts.ReadAuthCacheTTL = DefaultReadAuthCacheTTL
	}
	if opts.MinRate == 0 {
		opts.MinRate = DefaultMinRate
	}
	if opts.StallTimeout == 0 {
		opts.StallTimeout = DefaultStallTimeout
	}
	if opts.Quota.Bytes == 0 {
		opts.Quota.Bytes = DefaultQuotaBytes
	}
	if opts.Quota.Uploads == 0 {
		opts.Quota.Uploads = DefaultQuotaUploads
	}
	s := &Service{opts: opts, base: opts.DB, authDB: opts.DB.Use(rowauth.Middleware()), tables: map[string]*tableFiles{},
		dbSem: make(chan struct{}, opts.MaxConcurrentRecords), quota: quota{limit: opts.Quota},
		auth: authCache{ttl: opts.ReadAuthCacheTTL, now: opts.Now}}
	// Writes logged by the change log on the database, through whatever
	// DB, drop the cached read-auth decisions as they commit.
	changelog.OnCommit(opts.DB, func([]changelog.Change) { s.auth.bump() })
	if err := s.plan(); err != nil {
		return nil, err
	}
	if !opts.SkipEnsure {
		if err := s.Ensure(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// plan builds the table plans from the schema and the options.
func (s *Service) plan() error {
	used := map[string]bool{}
	for _, t := range s.opts.Schema.Tables() {
		tf, err := s.planTable(t)
		if err != nil {
			return err
		}
		if tf == nil {
			continue
		}
		for _, c := range tf.cols {
			used[c.table+"."+c.name] = true
		}
		s.tables[t.Name()] = tf
		s.ordered = append(s.ordered, tf)
	}
	sort.Slice(s.ordered, func(i, j int) bool { return s.ordered[i].t.Name() < s.ordered[j].t.Name() })
	for key := range s.opts.Columns {
		if !used[key] {
			return &orm.SchemaError{Column: key, Err: ErrUnknownColumn,
				Detail: "Options.Columns names no unencrypted file column"}
		}
	}
	return nil
}

func (s *Service) planTable(t *orm.Table) (*tableFiles, error) {
	name := t.Options().Blobs
	if name == "" {
		name = DefaultStorage
	}
	st := s.opts.Storages[name]
	if st == nil {
		return nil, &orm.SchemaError{Table: t.Name(), Err: ErrUnknownStorage,
			Detail: fmt.Sprintf("TableOptions.Blobs is %q; registered: %s", name, storageNames(s.opts.Storages))}
	}
	pk := t.PrimaryKey()
	tf := &tableFiles{t: t, storage: st, name: name, byName: map[string]*fileColumn{},
		idKey: len(pk) == 1 && pk[0] == "id"}
	encrypted := map[string]bool{}
	if d := t.Def(); d != nil {
		for _, c := range d.Columns {
			encrypted[c.Name] = c.Encrypted
		}
	}
	for _, c := range t.Columns() {
		if c.Kind() != tabledef.KindFile || encrypted[c.Name()] {
			continue // an encrypted ref is opaque to the server
		}
		fc := &fileColumn{table: t.Name(), name: c.Name(), opts: s.opts.Columns[t.Name()+"."+c.Name()]}
		if d := t.Def(); d != nil {
			for _, cd := range d.Columns {
				if cd.Name == c.Name() {
					fc.nullable = cd.Nullable
				}
			}
		}
		if err := checkAllowList(fc); err != nil {
			return nil, err
		}
		tf.cols = append(tf.cols, fc)
		tf.byName[fc.name] = fc
	}
	if len(tf.cols) == 0 {
		return nil, nil
	}
	return tf, nil
}

func checkAllowList(fc *fileColumn) error {
	for _, m := range fc.opts.MIMEAllowList {
		pat := m
		if base, ok := strings.CutSuffix(m, "/*"); ok {
			pat = base + "/x"
		}
		if _, err := NormalizeMIME(pat); err != nil || m != strings.ToLower(m) {
			return &orm.SchemaError{Table: fc.table, Column: fc.name, Err: ErrMalformed,
				Detail: fmt.Sprintf("MIMEAllowList entry %q is not a lower-case type/subtype or type/*", m)}
		}
	}
	return nil
}

func storageNames(m map[string]Storage) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// column returns the file column table.col, or nil.
func (s *Service) column(table, col string) (*tableFiles, *fileColumn) {
	tf := s.tables[table]
	if tf == nil {
		return nil, nil
	}
	return tf, tf.byName[col]
}

// maxSize is the column's effective size cap.
func (c *fileColumn) maxSize() int64 {
	if c.opts.MaxSize > 0 {
		return c.opts.MaxSize
	}
	return DefaultMaxSize
}

// check applies the column's size and MIME limits to a ref.
func (c *fileColumn) check(r Ref) error {
	if r.Size > c.maxSize() {
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, r.Size, c.maxSize())
	}
	return c.checkMIME(r.MIME)
}

// checkMIME matches a MIME type's base type against the allow list.
func (c *fileColumn) checkMIME(m string) error {
	base, err := NormalizeMIME(m)
	if err != nil {
		return err
	}
	if len(c.opts.MIMEAllowList) == 0 {
		return nil
	}
	for _, pat := range c.opts.MIMEAllowList {
		if ok, _ := path.Match(pat, base); ok && (pat == base || strings.HasSuffix(pat, "/*")) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s (allowed: %s)", ErrMIMENotAllowed, base, strings.Join(c.opts.MIMEAllowList, ", "))
}

// dbTurn waits for one of the MaxConcurrentRecords turns at the
// bookkeeping tables.
func (s *Service) dbTurn(ctx context.Context) (release func(), err error) {
	select {
	case s.dbSem <- struct{}{}:
		return func() { <-s.dbSem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// keyedLocks serialises work on one hash within the process: the uploads
// of one content, and GC deciding about it. It is an optimisation (the
// storage and the database order everything on their own): a wait is
// bounded, so a client uploading a popular hash slowly cannot hold up
// everyone else's uploads of it.
type keyedLocks struct {
	mu sync.Mutex
	m  map[Hash]*keyedLock
}

type keyedLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

// maxLockWait bounds how long an upload waits for another upload of the
// same hash before going ahead on its own.
const maxLockWait = time.Second

// lock takes h's lock, waiting at most wait (forever if wait <= 0) or
// until ctx ends; it returns the unlock function, which does nothing if
// the lock was not taken.
func (k *keyedLocks) lock(ctx context.Context, h Hash, wait time.Duration) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[Hash]*keyedLock{}
	}
	l := k.m[h]
	if l == nil {
		l = &keyedLock{ch: make(chan struct{}, 1)}
		k.m[h] = l
	}
	l.refs++
	k.mu.Unlock()
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	taken := false
	select {
	case l.ch <- struct{}{}:
		taken = true
	case <-timeout:
	case <-ctx.Done():
	}
	return func() {
		if taken {
			<-l.ch
		}
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.m, h)
		}
		k.mu.Unlock()
	}
}

func sortStrings(s []string) { sort.Strings(s) }

func exprEq(t *orm.Table, col string, v any) expr.Expr { return expr.Eq(t.Col(col), v) }
