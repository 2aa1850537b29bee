package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// The HTTP API, mounted under {basePath}/files/ on the sync handler (or
// anywhere with Handler); the last path segment is the hash:
//
//	PUT  …/files/sha256:<hex>?table=T&column=C[&name=N]
//	     Content-Type: the file's MIME type; Content-Length: its size.
//	     Streams the body into T's storage, verifying hash and size, after
//	     checking the size and MIME type against C's limits. 201 with the
//	     ref as JSON when stored, 200 when the content was already stored
//	     (the body is still read and verified: that is the uploader's
//	     proof of possession, which lets it write the ref into a row).
//	GET  …/files/sha256:<hex>   (and HEAD)
//	     The blob, if the identity may read a row referencing it (see
//	     ReadAuthMaxRefs); otherwise 404, byte for byte the answer for a
//	     hash never stored. Range, If-None-Match and If-Range work as in
//	     http.ServeContent; the ETag is the hash and the response may be
//	     cached privately for a year as immutable.
//
// Error statuses: 400 malformed hash or parameters, 401 unauthenticated
// (Handler only), 405 other methods, 411 no Content-Length, 413 over the
// column's MaxSize (or alone over the uploader's Quota), 415 MIME type
// not allowed, 422 body not matching its hash or declared size, 429
// (Retry-After) over the uploader's Quota of unreferenced uploads, 503
// (Retry-After) for content GC collected while it was being verified.
// The body of an error is
// {"error":"<code>","message":"…"}.

// quotaRetryAfter is the Retry-After, in seconds, of an upload over its
// user's quota: a guess, since what frees it (a ref write, or GC) is not
// the server's to schedule.
const quotaRetryAfter = 60

// maxRanges is the most ranges one download may ask for; a request for
// more gets the whole blob.
const maxRanges = 16

// cacheControl lets browsers keep a blob: its URL names its content.
// private, because the response depends on who asks.
const cacheControl = "private, max-age=31536000, immutable"

// Handler returns an http.Handler serving the upload and download
// endpoints at whatever path it is mounted on, authenticating each
// request with auth (an error or an empty UserID answers 401):
//
//	mux.Handle("/files/", fs.Handler(auth))
//
// The sync handler mounts the same endpoints at {basePath}/files/ when
// given the Service as server.Options.Files.
func (s *Service) Handler(auth func(r *http.Request) (rowauth.Identity, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := auth(r)
		if err == nil && id.UserID == "" {
			err = errors.New("no user id")
		}
		if err != nil {
			httpError(w, http.StatusUnauthorized, "Unauthorized", err.Error())
			return
		}
		s.ServeFiles(w, r, id)
	})
}

// ServeFiles serves one request to the file endpoints for an identity
// the caller authenticated. The hash is the last segment of the URL path.
func (s *Service) ServeFiles(w http.ResponseWriter, r *http.Request, id rowauth.Identity) {
	seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	h, err := ParseHash(seg)
	if err != nil {
		httpError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	ctx := rowauth.WithIdentity(r.Context(), id)
	switch r.Method {
	case http.MethodPut:
		s.upload(ctx, w, r, h, id)
	case http.MethodGet, http.MethodHead:
		s.download(ctx, w, r, h, id)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		httpError(w, http.StatusMethodNotAllowed, "BadRequest", "method "+r.Method+"; want GET, HEAD or PUT")
	}
}

// upload checks the request against the column's limits, then streams
// the body into the storage (or, when the blob is stored, verifies it).
func (s *Service) upload(ctx context.Context, w http.ResponseWriter, r *http.Request, h Hash, id rowauth.Identity) {
	q := r.URL.Query()
	tf, c := s.column(q.Get("table"), q.Get("column"))
	if c == nil {
		httpError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("%s.%s is not a file column", q.Get("table"), q.Get("column")))
		return
	}
	ref := Ref{Hash: h, Size: r.ContentLength, MIME: r.Header.Get("Content-Type"), Name: q.Get("name")}
	if r.ContentLength < 0 {
		httpError(w, http.StatusLengthRequired, "LengthRequired", "the upload needs a Content-Length: the file's size")
		return
	}
	if err := ref.Validate(); err != nil {
		httpError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	if err := c.check(ref); err != nil {
		s.httpFail(ctx, w, err)
		return
	}
	// The body is read through a limit one byte past the declared size,
	// whatever the server's own framing does, so an over-long body is
	// refused without reading it all, and paced: the connection's
	// deadlines follow its progress (see Options.MinRate).
	body := s.paceUpload(w, http.MaxBytesReader(w, r.Body, ref.Size+1))
	created, err := s.Put(ctx, tf.name, ref, body, id.UserID)
	if err != nil && body.timeout {
		httpError(w, http.StatusRequestTimeout, "Timeout", "the upload stalled or fell under the minimum rate")
		return
	}
	if err != nil {
		s.httpFail(ctx, w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, ref)
}

// Put stores the content of ref (verified against its hash and size) in
// the named storage for user, as the upload endpoint does after checking
// the column's limits (which are the caller's to check here): it writes
// the blob, or, when it is stored already, touches it for GC and
// verifies r against it; then it records the upload for GC and user as
// an owner (the proof of possession a ref write needs; "" records none),
// for a new blob while the storage makes it durable (see NewVerifier).
// created reports that the blob was new. Uploads of one hash are
// serialised in the process, each waiting at most a second for the one
// before. Backend code may use it to import files.
func (s *Service) Put(ctx context.Context, storage string, ref Ref, r io.Reader, user string) (created bool, err error) {
	st := s.opts.Storages[storage]
	if st == nil {
		return false, fmt.Errorf("%w: %q", ErrUnknownStorage, storage)
	}
	done, err := s.admitUpload(ctx, ref, user)
	if err != nil {
		return false, err
	}
	defer done()
	unlock := s.locks.lock(ctx, ref.Hash, maxLockWait)
	defer unlock()
	sys := rowauth.AsSystem(ctx)
	info, err := st.Head(ctx, ref.Hash)
	switch {
	case err == nil && info.Size == ref.Size:
		// Stored already, maybe long ago: touch it before verifying, so
		// GC spares it from now on (a new blob needs no touch first: GC
		// spares it for its fresh modification time).
		if err := s.touchIfStale(sys, ref.Hash, ref.Size); err != nil {
			return false, err
		}
		err = Verify(ref.Hash, ref.Size, r)
	case err == nil || errors.Is(err, ErrNotFound):
		if err := s.store(ctx, st, ref, r, user); err != nil {
			return false, err
		}
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.recordUpload(sys, ref, user, created); err != nil {
		return false, err
	}
	if !created {
		// GC may have taken the blob between Head and the touch.
		if _, err := st.Head(ctx, ref.Hash); errors.Is(err, ErrNotFound) {
			return false, ErrCollected
		}
	}
	return created, nil
}

// store writes a blob that is not stored yet, and its upload's record.
// The record commits while the storage makes the blob durable: the
// storage's Check (see NewVerifier) starts it as soon as the body is
// verified, so the database's disk sync and the blob's overlap instead
// of following each other; the upload is answered only once both are
// done. Committing the record first is safe:
//   - possession: the record is written only for bytes the storage
//     verified against the hash and size, as before;
//   - GC of the new blob: it is spared for its fresh modification time,
//     and the record's touch is as fresh;
//   - a failed or cut-off Put after the record committed leaves a record
//     of a blob stored nowhere (it counts against the user's quota): GC
//     removes such records once stale (see GCOrphans);
//   - GC in another process may remove the record of a blob not yet
//     stored if the record got stale meanwhile; so if the storage took
//     longer than TouchInterval (a quarter of any grace period) after
//     the record started, the upload is recorded again, after the blob is
//     stored, as a storage that does not check through NewVerifier
//     always is.
func (s *Service) store(ctx context.Context, st Storage, ref Ref, r io.Reader, user string) error {
	sys := rowauth.AsSystem(ctx)
	var rec earlyRecord
	v := uploadVerifier(r, ref.Hash, ref.Size, func() {
		rec.start(s.opts.Now(), func() error { return s.recordUpload(sys, ref, user, true) })
	})
	err := st.Put(ctx, ref.Hash, ref.Size, v)
	at, started, recErr := rec.wait()
	switch {
	case err != nil:
		return err
	case recErr != nil:
		return recErr
	case started && s.opts.Now().Sub(at) <= s.opts.TouchInterval:
		return nil
	}
	return s.recordUpload(sys, ref, user, true)
}

// earlyRecord is an upload's record written in its own goroutine, started
// at most once.
type earlyRecord struct {
	mu   sync.Mutex
	at   time.Time // when it started
	done chan error
}

func (e *earlyRecord) start(now time.Time, record func() error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done != nil {
		return
	}
	e.at, e.done = now, make(chan error, 1)
	go func() { e.done <- record() }()
}

// wait waits for the record, if it was started, and returns its outcome.
func (e *earlyRecord) wait() (at time.Time, started bool, err error) {
	e.mu.Lock()
	done, at := e.done, e.at
	e.mu.Unlock()
	if done == nil {
		return at, false, nil
	}
	return at, true, <-done
}

// touchIfStale touches h unless it was touched within TouchInterval.
func (s *Service) touchIfStale(ctx context.Context, h Hash, size int64) error {
	release, err := s.dbTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	at, err := s.touchedAt(ctx, h)
	if err != nil || s.opts.Now().UnixMilli()-at <= s.opts.TouchInterval.Milliseconds() {
		return err
	}
	return s.touch(ctx, s.base, h, size)
}

// recordUpload touches the hash and records the uploader, in one
// transaction (one commit, one disk sync on SQLite). A repeated upload
// of a fresh blob by a recorded owner writes nothing: it only reads.
func (s *Service) recordUpload(ctx context.Context, ref Ref, user string, created bool) error {
	release, err := s.dbTurn(ctx)
	if err != nil {
		return err
	}
	defer release()
	if !created {
		at, err := s.touchedAt(ctx, ref.Hash)
		if err != nil {
			return err
		}
		own := user == ""
		if !own {
			if own, err = s.isOwner(ctx, s.base, ref.Hash, user); err != nil {
				return err
			}
		}
		if own && s.opts.Now().UnixMilli()-at <= s.opts.TouchInterval.Milliseconds() {
			return nil
		}
	}
	return s.base.Tx(ctx, func(tx *orm.Tx) error {
		if err := s.touch(ctx, tx.DB, ref.Hash, ref.Size); err != nil {
			return err
		}
		if user == "" {
			return nil
		}
		return s.addOwner(ctx, tx.DB, ref.Hash, ref.Size, user)
	})
}

// download serves the blob if a row referencing it is readable.
func (s *Service) download(ctx context.Context, w http.ResponseWriter, r *http.Request, h Hash, id rowauth.Identity) {
	ref, ok, err := s.readableCached(ctx, h, id)
	if err != nil {
		s.internal(ctx, w, err)
		return
	}
	var rs io.ReadSeekCloser
	var size int64
	if ok {
		rs, size, ok = s.open(ctx, h)
	}
	if !ok {
		notFound(w)
		return
	}
	defer rs.Close()
	hd := w.Header()
	hd.Set("ETag", `"`+h.String()+`"`)
	hd.Set("Cache-Control", cacheControl)
	hd.Set("Content-Type", ref.MIME)
	hd.Set("X-Content-Type-Options", "nosniff")
	// A blob is someone's upload: it must not run as a page of this
	// origin, whatever its type says.
	hd.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	hd.Set("Content-Disposition", disposition(ref))
	s.paceDownload(w, size)
	if strings.Count(r.Header.Get("Range"), ",") >= maxRanges {
		// Each range is a seek, and on S3 a request of its own: many
		// tiny ranges would turn one download into thousands.
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, "", time.Time{}, rs)
}

// readableCached is readable, through the cache of positive decisions.
func (s *Service) readableCached(ctx context.Context, h Hash, id rowauth.Identity) (Ref, bool, error) {
	key, cacheable := s.auth.key(id, h)
	if cacheable {
		if ref, ok := s.auth.get(key); ok {
			return ref, true, nil
		}
	}
	gen := s.auth.gen.Load()
	ref, ok, err := s.readable(ctx, h)
	if ok && cacheable {
		s.auth.put(key, ref, gen)
	}
	return ref, ok, err
}

// open opens h in the first storage of the tables that holds it, with its
// size: as an *os.File (sent with sendfile) for storages that can
// (SeekOpener), else as ranged Gets.
func (s *Service) open(ctx context.Context, h Hash) (io.ReadSeekCloser, int64, bool) {
	seen := map[Storage]bool{}
	for _, tf := range s.ordered {
		st := tf.storage
		if seen[st] {
			continue
		}
		seen[st] = true
		if so, ok := st.(SeekOpener); ok {
			rs, err := so.OpenSeeker(ctx, h)
			if err != nil {
				continue
			}
			size, err := rs.Seek(0, io.SeekEnd)
			if err == nil {
				_, err = rs.Seek(0, io.SeekStart)
			}
			if err != nil {
				rs.Close()
				continue
			}
			return rs, size, true
		}
		if info, err := st.Head(ctx, h); err == nil {
			return newBlobSeeker(ctx, st, h, info.Size), info.Size, true
		}
	}
	return nil, 0, false
}

// disposition shows images, audio and video inline and offers anything
// else as a download.
func disposition(r Ref) string {
	kind := "attachment"
	base, _ := NormalizeMIME(r.MIME)
	if (strings.HasPrefix(base, "image/") && base != "image/svg+xml") || strings.HasPrefix(base, "audio/") || strings.HasPrefix(base, "video/") {
		kind = "inline"
	}
	if r.Name == "" {
		return kind
	}
	if d := mime.FormatMediaType(kind, map[string]string{"filename": r.Name}); d != "" {
		return d
	}
	return kind
}

// notFound is the one answer for a hash never stored and a blob the
// identity may not read.
func notFound(w http.ResponseWriter) {
	httpError(w, http.StatusNotFound, "NotFound", "no such file")
}

// httpFail maps an error of the package to a status; an unexpected one
// is reported (Options.OnError) and answered 500 without details.
func (s *Service) httpFail(ctx context.Context, w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	var qe *QuotaError
	switch {
	case errors.As(err, &qe) && qe.TooLarge():
		httpError(w, http.StatusRequestEntityTooLarge, "QuotaExceeded", err.Error())
	case errors.As(err, &qe):
		w.Header().Set("Retry-After", strconv.Itoa(quotaRetryAfter))
		httpError(w, http.StatusTooManyRequests, "QuotaExceeded", err.Error())
	case errors.Is(err, ErrTooLarge):
		httpError(w, http.StatusRequestEntityTooLarge, "TooLarge", err.Error())
	case errors.Is(err, ErrMIMENotAllowed):
		httpError(w, http.StatusUnsupportedMediaType, "MIMENotAllowed", err.Error())
	case errors.Is(err, ErrHashMismatch):
		httpError(w, http.StatusUnprocessableEntity, "HashMismatch", err.Error())
	case errors.Is(err, ErrSizeMismatch), errors.As(err, &mbe):
		httpError(w, http.StatusUnprocessableEntity, "SizeMismatch", err.Error())
	case errors.Is(err, ErrCollected):
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "Collected", err.Error())
	case errors.Is(err, ErrMalformed):
		httpError(w, http.StatusBadRequest, "BadRequest", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		httpError(w, http.StatusRequestTimeout, "Timeout", "the upload did not finish")
	default:
		s.internal(ctx, w, err)
	}
}

// internal reports err and answers 500.
func (s *Service) internal(ctx context.Context, w http.ResponseWriter, err error) {
	if s.opts.OnError != nil {
		s.opts.OnError(ctx, err)
	}
	httpError(w, http.StatusInternalServerError, "Internal", "")
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, struct {
		Error   string `json:"error"`
		Message string `json:"message,omitempty"`
	}{code, msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
