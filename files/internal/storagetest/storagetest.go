// Package storagetest is the conformance suite every files.Storage
// adapter runs.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/plasma-go/plasma/files"
)

// Run checks st against the files.Storage contract; large is a size
// that takes the adapter's streaming (multipart) path. noEmpty skips the
// empty blob, for a test server that refuses empty objects.
func Run(t *testing.T, st files.Storage, large int, noEmpty bool) {
	ctx := context.Background()
	t.Run("roundtrip", func(t *testing.T) { roundtrip(t, ctx, st, []byte("hello, plasma files")) })
	if !noEmpty {
		t.Run("empty", func(t *testing.T) { roundtrip(t, ctx, st, nil) })
	}
	t.Run("large", func(t *testing.T) { roundtrip(t, ctx, st, Bytes(large, 7)) })
	t.Run("hostile", func(t *testing.T) { hostile(t, ctx, st, Bytes(64, 8)) })
	t.Run("hostile_large", func(t *testing.T) { hostile(t, ctx, st, Bytes(large, 9)) })
	t.Run("concurrent_same_content", func(t *testing.T) { concurrent(t, ctx, st) })
}

// Bytes returns n pseudo-random bytes from seed.
func Bytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func roundtrip(t *testing.T, ctx context.Context, st files.Storage, data []byte) {
	h := files.HashOf(data)
	if err := st.Put(ctx, h, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, h, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("second Put of the same content: %v", err)
	}
	info, err := st.Head(ctx, h)
	if err != nil || info.Size != int64(len(data)) || info.Hash != h {
		t.Fatalf("Head = %+v, %v", info, err)
	}
	if got := get(t, st, h, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("Get returned %d bytes, want %d", len(got), len(data))
	}
	if len(data) > 10 {
		if got := get(t, st, h, 3, 5); !bytes.Equal(got, data[3:8]) {
			t.Fatalf("ranged Get = %q", got)
		}
		if got := get(t, st, h, int64(len(data)-4), -1); !bytes.Equal(got, data[len(data)-4:]) {
			t.Fatalf("tail Get = %q", got)
		}
	}
	found := false
	if err := st.List(ctx, func(i files.Info) error {
		found = found || i.Hash == h
		return nil
	}); err != nil || !found {
		t.Fatalf("List: found=%v err=%v", found, err)
	}
	stop := errors.New("stop")
	if err := st.List(ctx, func(files.Info) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("List did not return fn's error: %v", err)
	}
	if err := st.Delete(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, h); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	missing(t, st, h)
}

func get(t *testing.T, st files.Storage, h files.Hash, off, n int64) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), h, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func missing(t *testing.T, st files.Storage, h files.Hash) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Head(ctx, h); !errors.Is(err, files.ErrNotFound) {
		t.Fatalf("Head of a missing blob: %v", err)
	}
	if rc, err := st.Get(ctx, h, 0, -1); !errors.Is(err, files.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Get of a missing blob: %v", err)
	}
}

func hostile(t *testing.T, ctx context.Context, st files.Storage, data []byte) {
	h := files.HashOf(data)
	n := int64(len(data))
	flipped := bytes.Clone(data)
	flipped[len(flipped)-1] ^= 1
	cases := []struct {
		name string
		size int64
		body io.Reader
		want error
	}{
		{"hash mismatch", n, bytes.NewReader(flipped), files.ErrHashMismatch},
		{"shorter than declared", n, bytes.NewReader(data[:n-1]), files.ErrSizeMismatch},
		{"longer than declared", n, io.MultiReader(bytes.NewReader(data), bytes.NewReader([]byte("x"))), files.ErrSizeMismatch},
		{"endless", n, endless{}, files.ErrSizeMismatch},
		{"read error", n, io.MultiReader(bytes.NewReader(data[:n/2]), errReader{}), files.ErrSizeMismatch},
	}
	for _, c := range cases {
		err := st.Put(ctx, h, c.size, c.body)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Put = %v, want %v", c.name, err, c.want)
		}
		missing(t, st, h)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func concurrent(t *testing.T, ctx context.Context, st files.Storage) {
	data := Bytes(4096, 11)
	h := files.HashOf(data)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { errs <- st.Put(ctx, h, int64(len(data)), bytes.NewReader(data)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := get(t, st, h, 0, -1); !bytes.Equal(got, data) {
		t.Fatal("content changed under concurrent Puts")
	}
}
