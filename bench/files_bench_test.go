package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/dialect/sqlite"
	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	"github.com/plasma-go/plasma/plugin/rowauth"
	"github.com/plasma-go/plasma/sync/mutator"
	"github.com/plasma-go/plasma/sync/server"
)

// The files benchmarks upload and download through the sync handler's
// file endpoints over a real loopback HTTP connection (httptest.Server),
// on a SQLite file database and a files.Dir storage ("handler"), and
// compare with the same bytes going straight to the same storage
// ("direct": Put from memory for uploads, Get copied with io.Copy into
// io.Discard for downloads) and through a bare net/http handler doing
// just that over the same loopback ("plainhttp": the transport's cost,
// so the handler's own overhead is the handler/plainhttp ratio). One file column
// table, readable by everyone, holds the ref a download needs.

var heapFlag = flag.Bool("files.heap", false, "run TestFilesHeap1GiB: a 1 GiB upload and download, measuring the heap")

type filesEnv struct {
	store   *files.DirStorage
	srv     *httptest.Server
	plain   *httptest.Server // the storage behind a bare handler: the transport's cost
	handler http.Handler     // the sync handler srv serves, for in-process requests
	db      *orm.DB
	docs    *orm.Table
}

func newFilesEnv(tb testing.TB) *filesEnv {
	tb.Helper()
	dir := tb.TempDir()
	db, err := orm.Open(sqlite.Dialect, filepath.Join(dir, "files.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	docs := orm.NewTable("docs", orm.ID(), orm.File("file"))
	schema := orm.MustDefineSchema("1", docs)
	store, err := files.Dir(filepath.Join(dir, "blobs"))
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	fs, err := files.New(ctx, files.Options{Schema: schema, DB: db,
		Storages: map[string]files.Storage{files.DefaultStorage: store},
		Columns:  map[string]files.ColumnOptions{"docs.file": {MaxSize: 2 << 30}}})
	if err != nil {
		tb.Fatal(err)
	}
	h, err := server.NewHandler(server.Options[struct{}]{Schema: schema, DB: db.Use(fs.Middleware()),
		Mutators: mutator.Set[struct{}]{}, Files: fs,
		Auth: func(*http.Request) (rowauth.Identity, struct{}, error) {
			return rowauth.Identity{UserID: "bench"}, struct{}{}, nil
		}})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hash, _ := files.ParseHash(r.URL.Path[len("/sync/files/"):])
		if r.Method == http.MethodPut {
			if err := store.Put(r.Context(), hash, r.ContentLength, r.Body); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			w.WriteHeader(http.StatusCreated)
			return
		}
		rc, err := store.OpenSeeker(r.Context(), hash)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer rc.Close()
		io.Copy(w, rc)
	}))
	tb.Cleanup(plain.Close)
	return &filesEnv{store: store, srv: srv, plain: plain, handler: h, db: h.DB(), docs: docs}
}

// put uploads size bytes from r under h through the handler.
func (e *filesEnv) put(tb testing.TB, srv *httptest.Server, h files.Hash, size int64, r io.Reader) {
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/sync/files/"+h.String()+"?table=docs&column=file", r)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		tb.Fatalf("upload: %d", resp.StatusCode)
	}
}

// get downloads h through the handler into io.Discard.
func (e *filesEnv) get(tb testing.TB, srv *httptest.Server, h files.Hash) int64 {
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/sync/files/"+h.String(), nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		tb.Fatalf("download: %d %v", resp.StatusCode, err)
	}
	return n
}

// reference writes a row referencing ref, so downloads are allowed.
func (e *filesEnv) reference(tb testing.TB, ref files.Ref) {
	_, err := e.db.Insert(e.docs).Values(orm.Row{"id": ref.Hash.Hex()[:16], "file": ref}).
		OnConflictDoNothing().Exec(rowauth.AsSystem(context.Background()))
	if err != nil {
		tb.Fatal(err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

var fileSizes = []struct {
	name string
	n    int
}{{"1MiB", 1 << 20}, {"100MiB", 100 << 20}}

// BenchmarkFilesUpload: a fresh blob per iteration (the previous one is
// deleted outside the timer), through the handler (over HTTP, or called
// in process: "inproc") or Put directly.
func BenchmarkFilesUpload(b *testing.B) {
	for _, sz := range fileSizes {
		data := randomBytes(sz.n)
		h := files.HashOf(data)
		for _, via := range []string{"handler", "inproc", "plainhttp", "direct"} {
			b.Run(sz.name+"/"+via, func(b *testing.B) {
				e := newFilesEnv(b)
				ctx := context.Background()
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if via == "handler" {
						e.put(b, e.srv, h, int64(sz.n), bytes.NewReader(data))
					} else if via == "inproc" {
						e.serveInProc(b, http.MethodPut, h, int64(sz.n), bytes.NewReader(data), 0)
					} else if via == "plainhttp" {
						e.put(b, e.plain, h, int64(sz.n), bytes.NewReader(data))
					} else if err := e.store.Put(ctx, h, int64(sz.n), bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					e.store.Delete(ctx, h)
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkFilesDownload: the whole blob through the handler (row auth
// check included; over HTTP, or called in process: "inproc") or Get and
// io.Copy directly.
func BenchmarkFilesDownload(b *testing.B) {
	for _, sz := range fileSizes {
		data := randomBytes(sz.n)
		h := files.HashOf(data)
		for _, via := range []string{"handler", "inproc", "plainhttp", "direct"} {
			b.Run(sz.name+"/"+via, func(b *testing.B) {
				e := newFilesEnv(b)
				ctx := context.Background()
				e.put(b, e.srv, h, int64(sz.n), bytes.NewReader(data))
				e.reference(b, files.Ref{Hash: h, Size: int64(sz.n), MIME: "application/octet-stream"})
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if via == "inproc" {
						e.serveInProc(b, http.MethodGet, h, 0, nil, sz.n)
						continue
					}
					if via != "direct" {
						srv := e.srv
						if via == "plainhttp" {
							srv = e.plain
						}
						e.get(b, srv, h)
						continue
					}
					rc, err := e.store.Get(ctx, h, 0, -1)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, rc)
					rc.Close()
				}
			})
		}
	}
}

// genReader yields n pseudo-random bytes without holding them.
type genReader struct {
	r    *rand.ChaCha8
	left int64
}

func newGen(n int64) *genReader {
	var seed [32]byte
	return &genReader{r: rand.NewChaCha8(seed), left: n}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.r.Read(p)
	g.left -= int64(n)
	return n, nil
}

// TestFilesHeap1GiB uploads and downloads 1 GiB through the handler
// (client and server in this process; the client streams from a
// generator and into io.Discard) and checks the heap never rises more
// than 16 MiB over its level before. Behind -files.heap: it writes 1 GiB
// to disk and takes tens of seconds.
func TestFilesHeap1GiB(t *testing.T) {
	if !*heapFlag {
		t.Skip("run with -files.heap")
	}
	const size = 1 << 30
	d := sha256.New()
	io.Copy(d, newGen(size))
	var h files.Hash
	d.Sum(h[:0])
	e := newFilesEnv(t)

	peak := func(fn func()) uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var max atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base && m.HeapAlloc-base > max.Load() {
					max.Store(m.HeapAlloc - base)
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		})
		fn()
		close(stop)
		wg.Wait()
		return max.Load()
	}
	start := time.Now()
	up := peak(func() { e.put(t, e.srv, h, size, newGen(size)) })
	upTime := time.Since(start)
	e.reference(t, files.Ref{Hash: h, Size: size, MIME: "application/octet-stream"})
	start = time.Now()
	down := peak(func() {
		if n := e.get(t, e.srv, h); n != size {
			t.Errorf("downloaded %d bytes", n)
		}
	})
	downTime := time.Since(start)
	t.Logf("1 GiB upload: heap +%.1f MiB in %v; download: heap +%.1f MiB in %v",
		float64(up)/(1<<20), upTime.Round(time.Millisecond), float64(down)/(1<<20), downTime.Round(time.Millisecond))
	for name, v := range map[string]uint64{"upload": up, "download": down} {
		if v >= 16<<20 {
			t.Errorf("%s raised the heap by %d MiB", name, v>>20)
		}
	}
}

// serveInProc runs one request through the handler in this goroutine.
// A download must send want bytes.
func (e *filesEnv) serveInProc(tb testing.TB, method string, h files.Hash, size int64, body io.Reader, want int) {
	req := httptest.NewRequest(method, "/sync/files/"+h.String()+"?table=docs&column=file", body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	w := &discardWriter{}
	e.handler.ServeHTTP(w, req)
	if w.code >= 300 || (method == http.MethodGet && w.n != want) {
		tb.Fatalf("%s in process: %d, %d bytes", method, w.code, w.n)
	}
}

// BenchmarkFilesPaired moves the same bytes four ways in every iteration,
// in a rotating order, so that all four share the machine's disturbances:
// through the handler over loopback HTTP ("handler"), through the handler
// called in process with a ResponseWriter that keeps nothing ("inproc":
// the handler's own cost), through a bare net/http handler over the same
// loopback ("plainhttp": the transport's cost), and straight to or from
// the storage ("direct"). It reports each way's throughput relative to
// direct and to plainhttp: x/direct is direct's time over x's.
func BenchmarkFilesPaired(b *testing.B) {
	ctx := context.Background()
	for _, sz := range fileSizes {
		data := randomBytes(sz.n)
		h := files.HashOf(data)
		ref := files.Ref{Hash: h, Size: int64(sz.n), MIME: "application/octet-stream"}
		for _, op := range []string{"upload", "download"} {
			b.Run(op+"/"+sz.name, func(b *testing.B) {
				e := newFilesEnv(b)
				if op == "download" {
					e.put(b, e.srv, h, int64(sz.n), bytes.NewReader(data))
					e.reference(b, ref)
				}
				ways := []func(){
					func() { e.transfer(b, op, e.srv, h, data) },
					func() {
						if op == "upload" {
							e.serveInProc(b, http.MethodPut, h, int64(sz.n), bytes.NewReader(data), 0)
						} else {
							e.serveInProc(b, http.MethodGet, h, 0, nil, sz.n)
						}
					},
					func() { e.transfer(b, op, e.plain, h, data) },
					func() { e.direct(b, op, h, data) },
				}
				var took [4]time.Duration
				b.SetBytes(int64(sz.n))
				i := 0
				for b.Loop() {
					for k := range ways {
						w := (i + k) % len(ways)
						if op == "upload" {
							b.StopTimer()
							e.store.Delete(ctx, h)
							b.StartTimer()
						}
						start := time.Now()
						ways[w]()
						took[w] += time.Since(start)
					}
					i++
				}
				ratio := func(a, base int) float64 { return took[base].Seconds() / took[a].Seconds() }
				b.ReportMetric(ratio(0, 3), "handler/direct")
				b.ReportMetric(ratio(1, 3), "inproc/direct")
				b.ReportMetric(ratio(0, 2), "handler/plainhttp")
			})
		}
	}
}

// transfer uploads data, or downloads h, through srv.
func (e *filesEnv) transfer(tb testing.TB, op string, srv *httptest.Server, h files.Hash, data []byte) {
	if op == "upload" {
		e.put(tb, srv, h, int64(len(data)), bytes.NewReader(data))
	} else {
		e.get(tb, srv, h)
	}
}

// direct puts data into, or copies h out of, the storage itself.
func (e *filesEnv) direct(tb testing.TB, op string, h files.Hash, data []byte) {
	ctx := context.Background()
	if op == "upload" {
		if err := e.store.Put(ctx, h, int64(len(data)), bytes.NewReader(data)); err != nil {
			tb.Fatal(err)
		}
		return
	}
	rc, err := e.store.Get(ctx, h, 0, -1)
	if err != nil {
		tb.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
}
