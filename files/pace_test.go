package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/plasma-go/plasma/files"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/sync/server"
)

// pacedServer serves e's handler with server.HTTPServer's settings, its
// read and write timeouts cut to half a second, on a real listener.
func pacedServer(t *testing.T, e *env) string {
	srv := server.HTTPServer(e.h)
	srv.ReadTimeout, srv.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// trickle uploads data in chunks of chunk bytes, one every gap, then
// stops after stopAfter bytes (all of it if 0) and holds the connection
// open until the server answers. It returns the status (0 if the
// connection failed) and how long the answer took.
func trickle(t *testing.T, url string, data []byte, chunk int, gap time.Duration, stopAfter int) (int, time.Duration) {
	pr, pw := io.Pipe()
	go func() {
		for off := 0; off < len(data); off += chunk {
			if stopAfter > 0 && off >= stopAfter {
				return // stall: the pipe stays open
			}
			end := min(off+chunk, len(data))
			if _, err := pw.Write(data[off:end]); err != nil {
				return
			}
			time.Sleep(gap)
		}
		pw.Close()
	}()
	defer pw.CloseWithError(errors.New("test over"))
	req, _ := http.NewRequest(http.MethodPut, url+"/sync/files/"+files.HashOf(data).String()+"?table=attachments&column=file", pr)
	req.ContentLength = int64(len(data))
	req.Header.Set("Authorization", "alice")
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	took := time.Since(start)
	if err != nil {
		return 0, took
	}
	resp.Body.Close()
	return resp.StatusCode, took
}

// TestSlowUploads: behind server.HTTPServer (its timeouts cut to half a
// second), a 1.5 MiB upload taking seconds but progressing is stored,
// while a stalled upload and a slow-loris trickle are cut with 408 and
// store nothing. Without pacing, the server's ReadTimeout cuts the slow
// upload.
func TestSlowUploads(t *testing.T) {
	data := randomData(3 << 19)
	ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
		e := newEnv(t, tg, "dir", func(o *files.Options) {
			o.StallTimeout, o.MinRate = time.Second, 128<<10
			o.Columns = map[string]files.ColumnOptions{"attachments.file": {MaxSize: 4 << 20}, "avatars.file": columnOpts["avatars.file"]}
		})
		url := pacedServer(t, e)
		if status, took := trickle(t, url, data, 32<<10, 40*time.Millisecond, 0); status != 201 || took < time.Second {
			t.Fatalf("slow upload: %d after %v, want 201 after more than the server's timeouts", status, took)
		}
		must(t, e.store.Delete(context.Background(), files.HashOf(data)))

		if status, took := trickle(t, url, data, 32<<10, 10*time.Millisecond, 64<<10); status != 408 || took > 10*time.Second {
			t.Fatalf("stalled upload: %d after %v, want 408 soon after a second", status, took)
		}
		// 1 KiB every 200 ms never stalls a second, but falls under
		// 128 KiB/s: cut once the grace second is over.
		if status, took := trickle(t, url, data, 1<<10, 200*time.Millisecond, 0); status != 408 || took > 10*time.Second {
			t.Fatalf("slow-loris upload: %d after %v, want 408 within seconds", status, took)
		}
		if _, err := e.store.Head(context.Background(), files.HashOf(data)); !errors.Is(err, files.ErrNotFound) {
			t.Fatalf("a cut upload was stored: %v", err)
		}
	})
	e := newEnv(t, ormtest.SQLite(t), "dir", func(o *files.Options) {
		o.StallTimeout = -1
		o.Columns = map[string]files.ColumnOptions{"attachments.file": {MaxSize: 4 << 20}, "avatars.file": columnOpts["avatars.file"]}
	})
	if status, _ := trickle(t, pacedServer(t, e), data, 32<<10, 40*time.Millisecond, 0); status == 201 {
		t.Fatal("without pacing, the slow upload outlived the server's ReadTimeout")
	}
}

// TestSlowDownload: a download gets the time MinRate allows, past the
// server's WriteTimeout. The client's receive buffer is small, so the
// server cannot hand the whole file to the kernel at once.
func TestSlowDownload(t *testing.T) {
	data := randomData(6 << 20)
	e := newEnv(t, ormtest.SQLite(t), "dir", func(o *files.Options) {
		o.StallTimeout, o.MinRate = time.Second, 128<<10
		o.Columns = map[string]files.ColumnOptions{"attachments.file": {MaxSize: 8 << 20}, "avatars.file": columnOpts["avatars.file"]}
	})
	e.share("L")
	ref := e.mustUpload("alice", "attachments", "file", "application/octet-stream", data)
	e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
	req, _ := http.NewRequest(http.MethodGet, pacedServer(t, e)+"/sync/files/"+ref.Hash.String(), nil)
	req.Header.Set("Authorization", "bob")
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(16 << 10)
		}
		return c, err
	}}}
	resp, err := client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	start := time.Now()
	for {
		n, err := resp.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !bytes.Equal(got.Bytes(), data) || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("slow download: %d of %d bytes in %v", got.Len(), len(data), time.Since(start))
	}
}

// randomData returns n bytes that do not compress.
func randomData(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
