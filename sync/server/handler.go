package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/plasma-go/plasma/dialect"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/changelog"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/plugin/serverdb"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/protocol"
)

// Handler serves the sync endpoints POST {BasePath}/push and
// POST {BasePath}/pull (ServeHTTP), or each on its own route
// (PushHandler, PullHandler). It is safe for concurrent use, and several
// handlers (in one process or many) may serve one database. Ctx is the
// application context type its mutators receive.
type Handler[Ctx any] struct {
	opts  Options[Ctx]
	base  *orm.DB // Options.DB
	db    *orm.DB // base with row auth and the change log
	begin dialect.Beginner
	// perRegion: the change log numbers versions per region
	// (dialect.ConcurrentWrites); elsewhere one sequence covers them all.
	perRegion bool
	forUpdate string
	// errs classifies the errors of the database's engine.
	errs      dialect.ErrorClassifier
	plans     []*tablePlan
	resolvers map[string]*tablePlan // tables with a ConflictResolver
	holdable  map[string]bool       // tables whose INSERTs a push may merge (holdinserts.go)
	schemaFP  []byte
	regions   []string
	bg        *background
	// writes is held around every write transaction on SQLite (nil on
	// PostgreSQL): see lockWrites.
	writes chan struct{}
	seen   seenCache    // groups whose last-seen time was written lately
	log    *slog.Logger // Options.Logger through LogHandler, or nil
	dev    *devtools    // nil unless Options.Devtools
	stats  pullStats
	// groupLocks make the pulls of one group take turns (see pull).
	groupLocks groupLocks
	// verify, when set (tests), gets every difference between an
	// incremental pull's answer and a rescan's for the same cookie.
	verify func(group, diff string)
}

// NewHandler checks opts, creates the tables the handler needs (unless
// Options.SkipEnsure: the schema's, the change log's and Ensure'),
// and returns the handler. Close it to drain WaitUntil's tasks.
func NewHandler[Ctx any](opts Options[Ctx]) (*Handler[Ctx], error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	var sopts []serverdb.Option
	sopts = append(sopts, serverdb.Region(opts.Region))
	if opts.SkipEnsure {
		sopts = append(sopts, serverdb.SkipEnsure())
	} else if err := Ensure(ctx, opts.DB); err != nil {
		return nil, err
	}
	h := &Handler[Ctx]{opts: opts, base: opts.DB, resolvers: map[string]*tablePlan{}}
	if opts.Logger != nil {
		h.log = slog.New(LogHandler(opts.Logger.Handler()))
	}
	if opts.Devtools != nil {
		h.dev = newDevtools(opts.Devtools)
	}
	h.useEngine()
	if err := h.planTables(); err != nil {
		return nil, err
	}
	withResolver := opts.DB
	if len(h.resolvers) > 0 {
		withResolver = opts.DB.Use(h.conflictMiddleware())
	}
	h.holdable = map[string]bool{}
	for _, t := range opts.Schema.Tables() {
		h.holdable[t.Name()] = holdableTable(t)
	}
	db, err := serverdb.New(ctx, opts.Schema, withResolver.Use(holdInserts), sopts...)
	if err != nil {
		return nil, err
	}
	h.db = db
	h.regions = []string{opts.Region}
	if h.perRegion { // SQLite's head covers every region
		for _, r := range opts.Regions {
			if r != "" && !slices.Contains(h.regions, r) {
				h.regions = append(h.regions, r)
			}
		}
	}
	h.bg = newBackground(opts.BackgroundWorkers, opts.BackgroundQueue, func(err error) {
		h.report(context.Background(), &Error{Kind: KindInternal, Err: err})
	})
	return h, nil
}

// check refuses options NewHandler cannot run with and fills in the
// defaults of the rest.
func (opts *Options[Ctx]) check() error {
	switch {
	case opts.Schema == nil:
		return errors.New("plasma: sync: NewHandler: Options.Schema is nil")
	case opts.DB == nil:
		return errors.New("plasma: sync: NewHandler: Options.DB is nil")
	case opts.DB.IsTx():
		return errors.New("plasma: sync: NewHandler: Options.DB is a transaction; give the database")
	case opts.Auth == nil:
		return errors.New("plasma: sync: NewHandler: Options.Auth is nil")
	case opts.Mutators == nil:
		return errors.New("plasma: sync: NewHandler: Options.Mutators is nil (use an empty Set for a read-only server)")
	}
	if err := checkBlobs(opts.Schema, opts.Files); err != nil {
		return err
	}
	if opts.Devtools != nil {
		d := *opts.Devtools // the caller's copy keeps its zeros
		if err := d.check(); err != nil {
			return err
		}
		opts.Devtools = &d
	}
	if opts.BasePath == "" {
		opts.BasePath = DefaultBasePath
	}
	opts.BasePath = "/" + strings.Trim(opts.BasePath, "/")
	if opts.BasePath == "/" {
		opts.BasePath = ""
	}
	if opts.MaxMutationsPerPush <= 0 {
		opts.MaxMutationsPerPush = DefaultMaxMutationsPerPush
	}
	if opts.MaxPayloadBytes <= 0 {
		opts.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if opts.MaxIDBytes <= 0 {
		opts.MaxIDBytes = DefaultMaxIDBytes
	}
	if opts.MaxArgsDepth <= 0 {
		opts.MaxArgsDepth = DefaultMaxArgsDepth
	}
	if opts.MutationsPerTransaction <= 0 {
		opts.MutationsPerTransaction = opts.MaxMutationsPerPush
	}
	if opts.KeepCVRs <= 0 {
		opts.KeepCVRs = DefaultKeepCVRs
	}
	if opts.BackgroundWorkers <= 0 {
		opts.BackgroundWorkers = DefaultBackgroundWorkers
	}
	if opts.BackgroundQueue <= 0 {
		opts.BackgroundQueue = DefaultBackgroundQueue
	}
	switch s := opts.SchemaVersionMismatchStatus; {
	case s == 0:
		opts.SchemaVersionMismatchStatus = http.StatusConflict
	case s == http.StatusOK, s >= 400 && s <= 499:
	default:
		return fmt.Errorf("plasma: sync: NewHandler: SchemaVersionMismatchStatus %d: want 200 or a 4xx status", s)
	}
	if opts.Region == "" {
		opts.Region = changelog.DefaultRegion
	}
	collectDefaults(opts)
	return nil
}

// useEngine sets what the handler does differently per engine, from the
// dialect's features: error classes, per-region heads, row locks, one
// writer at a time.
func (h *Handler[Ctx]) useEngine() {
	d := h.opts.DB.Dialect()
	h.errs = dialect.Classifier(d)
	h.perRegion = d.Features().Has(dialect.ConcurrentWrites)
	if l, ok := d.(dialect.RowLocker); ok && d.Features().Has(dialect.RowLocking) {
		h.forUpdate = string(l.AppendForUpdate(nil))
	}
	if !d.Features().Has(dialect.ConcurrentWrites) {
		h.writes = make(chan struct{}, 1) // one writer at a time: queue here
	}
	if b, ok := h.opts.DB.Executor().(dialect.Beginner); ok {
		h.begin = b
	}
}

// planTables plans each synced table and fingerprints the schema the
// handler serves (its version, tables and synced columns).
func (h *Handler[Ctx]) planTables() error {
	fp := sha256.New()
	fmt.Fprintf(fp, "%q\n", h.opts.Schema.Version())
	for _, t := range h.opts.Schema.Tables() {
		if !t.Synced() {
			continue
		}
		p, err := newTablePlan(t)
		if err != nil {
			return err
		}
		h.plans = append(h.plans, p)
		if t.Options().ResolveConflict != nil {
			h.resolvers[t.Name()] = p
		}
		fmt.Fprintf(fp, "%q", t.Name())
		for _, c := range p.Columns {
			fmt.Fprintf(fp, " %q:%d:%t", c.Name, c.Kind, c.Raw)
		}
		fp.Write([]byte{'\n'})
	}
	h.schemaFP = fp.Sum(nil)
	return nil
}

// DB returns the handler's database: Options.DB with row auth and the
// change log installed, as mutators see it. Backend code that writes
// through it is logged, so clients see its writes at their next pull.
func (h *Handler[Ctx]) DB() *orm.DB { return h.db }

// Invoke runs the mutator name once for a backend job, as mutator.Invoke
// does on the handler's DB, then tells OnPushed and the Notifier, so that
// clients learn about the change. ctx must carry an identity
// (rowauth.WithIdentity) or be trusted (rowauth.AsSystem).
func (h *Handler[Ctx]) Invoke(ctx context.Context, name string, appCtx Ctx, args any) error {
	err := h.writing(ctx, func() error { return mutator.Invoke(ctx, h.opts.Mutators, name, h.db, appCtx, args) })
	if err != nil {
		return err
	}
	info := PushInfo{Mutations: []MutationResult{{Name: name, Status: StatusApplied}}}
	if id, ok := rowauth.IdentityFrom(ctx); ok {
		info.UserID = id.UserID
	}
	h.pushed(ctx, info)
	return nil
}

// WaitUntil runs fn in the background, on one of a bounded number of
// workers (Options.BackgroundWorkers), for work that must not hold up a
// response: sending an email, warming a cache.
// It returns false, without running fn, when the queue
// (Options.BackgroundQueue) is full or the handler is closed. fn's
// context is cancelled when Close gives up waiting; a panic in fn is
// recovered and reported through OnError as KindInternal.
func (h *Handler[Ctx]) WaitUntil(fn func(ctx context.Context)) bool {
	return h.bg.submit(fn)
}

// Close stops accepting background tasks and waits until the queued and
// running ones finish or ctx is done (then their context is cancelled and
// Close returns ctx.Err()). It does not close Options.DB. Requests served
// after Close still work, but their WaitUntil calls return false.
func (h *Handler[Ctx]) Close(ctx context.Context) error { return h.bg.close(ctx) }

func (h *Handler[Ctx]) pushed(ctx context.Context, info PushInfo) {
	if h.opts.OnPushed != nil {
		h.opts.OnPushed(ctx, info)
	}
	if h.opts.Notifier != nil {
		h.opts.Notifier.Notify(ctx, info)
	}
}

func (h *Handler[Ctx]) report(ctx context.Context, e *Error) {
	if e.Status == 0 {
		e.Status = e.Kind.defaultStatus()
	}
	if h.opts.OnError != nil {
		h.opts.OnError(ctx, e)
	}
	if h.log != nil {
		h.logError(ctx, e)
	}
	if h.dev != nil {
		h.dev.recordError(e)
	}
}

// observed reports whether anything watches the requests: without an
// Observer, a Logger or the devtools, no Event is made.
func (h *Handler[Ctx]) observed() bool {
	return h.opts.Observer != nil || h.log != nil || h.dev != nil
}

// ServeHTTP serves POST {BasePath}/push and POST {BasePath}/pull, with
// Options.Files the file endpoints under {BasePath}/files/, and with
// Options.Devtools the devtools under {BasePath}/devtools/; any other
// path is 404. It is the one-line setup:
//
//	mux.Handle("/sync/", h)
//
// To mount the endpoints one by one on ServeMux patterns, use
// PushHandler and PullHandler instead. Browsers on other origins need
// the CORS middleware around either.
func (h *Handler[Ctx]) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, h.opts.BasePath)
	switch {
	case ok && rest == "/push":
		h.serveEndpoint(w, r, "push")
	case ok && rest == "/pull":
		h.serveEndpoint(w, r, "pull")
	case ok && h.opts.Files != nil && strings.HasPrefix(rest, "/files/"):
		h.serveFiles(w, r)
	case ok && isDevtoolsPath(rest):
		h.serveDevtools(w, r, rest)
	default:
		http.NotFound(w, r)
	}
}

// PushHandler returns an http.Handler that serves the push endpoint at
// whatever path it is mounted on (BasePath plays no part), for
// applications that route each endpoint themselves:
//
//	mux.Handle("POST /sync/push", h.PushHandler())
//
// A method other than POST answers 405 even on a pattern without one.
func (h *Handler[Ctx]) PushHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serveEndpoint(w, r, "push") })
}

// PullHandler returns an http.Handler that serves the pull endpoint at
// whatever path it is mounted on, as PushHandler does for push:
//
//	mux.Handle("POST /sync/pull", h.PullHandler())
func (h *Handler[Ctx]) PullHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serveEndpoint(w, r, "pull") })
}

// serveEndpoint serves one request to endpoint ("push" or "pull"):
// method check, authentication, body limits, then the protocol. A panic
// below answers 500 and is reported, never taking the server down.
func (h *Handler[Ctx]) serveEndpoint(w http.ResponseWriter, r *http.Request, endpoint string) {
	ctx := r.Context()
	var ev *Event
	if h.observed() {
		ev = &Event{Kind: EventPush}
		if endpoint == "pull" {
			ev.Kind = EventPull
		}
		ctx = h.startEvent(ctx, ev)
		defer func() { h.endEvent(ctx, ev) }()
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			h.fail(ctx, w, &Error{Kind: KindInternal, Endpoint: endpoint,
				Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())})
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.fail(ctx, w, &Error{Kind: KindBadRequest, Status: http.StatusMethodNotAllowed, Endpoint: endpoint,
			Err: fmt.Errorf("method %s; want POST", r.Method)})
		return
	}
	ident, appCtx, err := h.opts.Auth(r)
	if err == nil && ident.UserID == "" {
		err = errors.New("the Auth function returned no user id")
	}
	if err != nil {
		h.fail(ctx, w, &Error{Kind: KindUnauthorized, Endpoint: endpoint, Err: err})
		return
	}
	if ev != nil {
		ev.UserID = ident.UserID
	}
	body, serr := h.readBody(w, r)
	if serr != nil {
		serr.Endpoint, serr.UserID = endpoint, ident.UserID
		h.fail(ctx, w, serr)
		return
	}
	if endpoint == "push" {
		h.push(ctx, w, ident, appCtx, body)
		return
	}
	if ev != nil {
		// Counted here, past readBody, whose MaxBytesReader wants the
		// server's own writer.
		cw := &countingWriter{ResponseWriter: w}
		w = cw
		defer func() { ev.Bytes = cw.n }()
	}
	h.pull(ctx, w, ident, body)
}

// readBody reads the request body, refusing it (413) past
// MaxPayloadBytes without reading further. The buffer grows as bytes
// arrive: Content-Length only refuses a body early, it never sizes a
// buffer, since a client may announce a megabyte and send ten bytes.
// A body cut off by the server's ReadTimeout answers 408.
func (h *Handler[Ctx]) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *Error) {
	max := h.opts.MaxPayloadBytes
	tooLarge := func(n int64) *Error {
		return &Error{Kind: KindPayloadTooLarge,
			Err: fmt.Errorf("body of %d bytes or more, over the limit of %d", n, max)}
	}
	if r.ContentLength > max {
		return nil, tooLarge(r.ContentLength)
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge(max + 1)
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			return nil, &Error{Kind: KindBadRequest, Status: http.StatusRequestTimeout,
				Err: fmt.Errorf("reading the body: the client sent %d bytes before the server's read timeout", buf.Len())}
		}
		return nil, &Error{Kind: KindBadRequest, Err: fmt.Errorf("reading the body: %w", err)}
	}
	return buf.Bytes(), nil
}

// lockWrites waits for the handler's write turn on SQLite, which has one
// writer at a time: requests queue here, in order, instead of spinning
// in SQLite's busy handler, where under load some would wait past
// busy_timeout and fail. It returns the function that ends the turn. On
// PostgreSQL it returns at once: its row locks order the writers.
func (h *Handler[Ctx]) lockWrites(ctx context.Context) (unlock func(), err error) {
	if h.writes == nil {
		return func() {}, nil
	}
	select {
	case h.writes <- struct{}{}:
		return func() { <-h.writes }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// writing runs fn, a write transaction, in the handler's write turn
// (lockWrites).
func (h *Handler[Ctx]) writing(ctx context.Context, fn func() error) error {
	unlock, err := h.lockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

// errorBody is the JSON body of a failed request. Clients only act on
// 200 bodies; this one is for people reading logs.
type errorBody struct {
	Error   Kind   `json:"error"`
	Message string `json:"message,omitempty"`
}

// fail reports e and answers the request with its status.
func (h *Handler[Ctx]) fail(ctx context.Context, w http.ResponseWriter, e *Error) {
	h.report(ctx, e)
	noteFailure(ctx, e)
	body := errorBody{Error: e.Kind}
	switch e.Kind {
	case KindInternal, KindUnavailable:
		// no details: they may reveal the database's internals
	case KindForbidden:
		// One body for a group and a client of another owner, whether
		// or not it exists: no oracle of other users' ids.
		body.Message = forbiddenMessage
	default:
		if e.Err != nil {
			body.Message = e.Err.Error()
		}
	}
	writeJSON(w, e.Status, body)
}

// failBody reports e and answers with e's status and one of the bodies
// the client acts on.
func (h *Handler[Ctx]) failBody(ctx context.Context, w http.ResponseWriter, e *Error, body protocol.ErrorResponse) {
	h.report(ctx, e)
	noteFailure(ctx, e)
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// checkVersions answers a request of another protocol or schema
// version; it returns false when it did.
func (h *Handler[Ctx]) checkVersion(ctx context.Context, w http.ResponseWriter, endpoint, userID, group, schemaVersion string, err error) bool {
	if ev := eventFrom(ctx); ev != nil && len(group) <= h.opts.MaxIDBytes {
		// An oversized id is refused below; it goes into no log or span.
		ev.ClientGroupID = group
	}
	var verr *protocol.VersionError
	if errors.As(err, &verr) {
		h.failBody(ctx, w, &Error{Kind: KindVersionNotSupported, Status: http.StatusOK, Endpoint: endpoint, UserID: userID, Err: err},
			protocol.VersionNotSupported(verr.VersionType))
		return false
	}
	if err != nil {
		h.fail(ctx, w, &Error{Kind: KindBadRequest, Endpoint: endpoint, UserID: userID, Err: err})
		return false
	}
	if schemaVersion != h.opts.Schema.Version() {
		h.failBody(ctx, w, &Error{Kind: KindVersionNotSupported, Status: h.opts.SchemaVersionMismatchStatus,
			Endpoint: endpoint, UserID: userID, ClientGroupID: group,
			Err: fmt.Errorf("schemaVersion %q; the server's is %q", schemaVersion, h.opts.Schema.Version())},
			protocol.VersionNotSupported(protocol.VersionTypeSchema))
		return false
	}
	return true
}

// internal classifies an error of the handler's own statements.
func internal(err error) Kind {
	if mutator.IsTemporary(err) {
		return KindUnavailable
	}
	return KindInternal
}

// fingerprint identifies what a pull's view depends on besides the data:
// the schema and the identity (its claims may feed the read rules).
func (h *Handler[Ctx]) fingerprint(id rowauth.Identity) string {
	s := sha256.New()
	s.Write(h.schemaFP)
	fmt.Fprintf(s, "%q", id.UserID)
	if len(id.Claims) > 0 {
		b, err := json.Marshal(id.Claims)
		if err != nil {
			b = []byte(fmt.Sprint(id.Claims))
		}
		s.Write(b)
	}
	return hex.EncodeToString(s.Sum(nil)[:12])
}
