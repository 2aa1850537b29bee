package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DirStorage stores blobs as files under a directory: the blob
// sha256:abcd… lives at <root>/ab/cd/abcd…. Writes go to a temporary file
// in <root>/tmp that is fsynced and renamed into place, so a reader sees
// a whole blob or none, and concurrent Puts of the same content each
// rename a complete copy over the other. Paths are built only from a
// parsed Hash, never from outside text, so no input can name a path
// outside the root.
type DirStorage struct {
	root string
}

// Dir returns the filesystem storage rooted at path, creating the
// directory if needed. It is the embedded default.
func Dir(path string) (*DirStorage, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, "tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("files: Dir: %w", err)
	}
	return &DirStorage{root: abs}, nil
}

// Root returns the directory the storage lives in.
func (d *DirStorage) Root() string { return d.root }

func (d *DirStorage) path(h Hash) string {
	x := h.Hex()
	return filepath.Join(d.root, x[:2], x[2:4], x)
}

// Put writes the blob through a verified, fsynced temporary file.
func (d *DirStorage) Put(ctx context.Context, h Hash, size int64, r io.Reader) (err error) {
	if size < 0 {
		return fmt.Errorf("%w: negative size %d", ErrSizeMismatch, size)
	}
	f, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	v := NewVerifier(r, size)
	buf := copyBufs.Get().(*[]byte)
	// A plain Writer: *os.File's ReadFrom would fall back to a 32 KiB
	// buffer, eight times the syscalls of this one.
	_, err = io.CopyBuffer(struct{ io.Writer }{f}, ctxReader{ctx, v}, *buf)
	copyBufs.Put(buf)
	if err != nil {
		return readError(err)
	}
	if err = v.Check(h); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	dst := d.path(h)
	if err = os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if err = os.Rename(tmp, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Get opens the blob and returns the requested section.
func (d *DirStorage) Get(_ context.Context, h Hash, offset, length int64) (io.ReadCloser, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if offset < 0 {
		f.Close()
		return nil, fmt.Errorf("files: negative offset %d", offset)
	}
	if length < 0 {
		length = 1<<63 - 1 - offset
	}
	return sectionCloser{io.NewSectionReader(f, offset, length), f}, nil
}

type sectionCloser struct {
	*io.SectionReader
	f *os.File
}

func (s sectionCloser) Close() error { return s.f.Close() }

// OpenSeeker opens the blob's file, for downloads (SeekOpener).
func (d *DirStorage) OpenSeeker(_ context.Context, h Hash) (io.ReadSeekCloser, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// Head stats the blob.
func (d *DirStorage) Head(_ context.Context, h Hash) (Info, error) {
	st, err := os.Stat(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, ErrNotFound
	} else if err != nil {
		return Info{}, err
	}
	return Info{Hash: h, Size: st.Size(), ModTime: st.ModTime()}, nil
}

// Delete removes the blob's file.
func (d *DirStorage) Delete(_ context.Context, h Hash) error {
	err := os.Remove(d.path(h))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// List walks the two levels of fan-out directories. Files whose names
// are not a hash (a stray file, the tmp directory) are skipped.
func (d *DirStorage) List(ctx context.Context, fn func(Info) error) error {
	return filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != d.root && filepath.Base(p) == "tmp" && filepath.Dir(p) == d.root {
				return filepath.SkipDir
			}
			return ctx.Err()
		}
		h, perr := ParseHash(hashPrefix + e.Name())
		if perr != nil || !strings.HasSuffix(filepath.Dir(p), filepath.Join(h.Hex()[:2], h.Hex()[2:4])) {
			return nil
		}
		st, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		return fn(Info{Hash: h, Size: st.Size(), ModTime: st.ModTime()})
	})
}

// SweepTemp removes temporary files older than before: what uploads cut
// off by a crash left behind. GCOrphans calls it (TempSweeper).
func (d *DirStorage) SweepTemp(_ context.Context, before time.Time) (int, error) {
	dir := filepath.Join(d.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || e.IsDir() || !info.ModTime().Before(before) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

// copyBufs holds Put's copy buffers (256 KiB: bounded per upload, large
// enough that a big upload costs few read and write calls).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
