package files

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Storage holds blobs by hash. Implementations must be safe for
// concurrent use, including concurrent Puts of the same content.
type Storage interface {
	// Put stores the size bytes r yields under h. It reads r to its end
	// (at most size+1 bytes) and stores nothing unless r yields exactly
	// size bytes (else ErrSizeMismatch) whose SHA-256 is h (else
	// ErrHashMismatch). A reader must never see a partly written blob.
	// Putting content already stored succeeds. Verifying through
	// NewVerifier, with Check called before the blob is made durable,
	// lets the Service record an upload meanwhile (see NewVerifier).
	Put(ctx context.Context, h Hash, size int64, r io.Reader) error
	// Get returns length bytes of the blob from offset (to its end when
	// length < 0), or ErrNotFound. The caller closes the reader.
	Get(ctx context.Context, h Hash, offset, length int64) (io.ReadCloser, error)
	// Head returns the blob's Info, or ErrNotFound.
	Head(ctx context.Context, h Hash) (Info, error)
	// Delete removes the blob; deleting a missing blob succeeds.
	Delete(ctx context.Context, h Hash) error
	// List calls fn for every stored blob, in no particular order, until
	// fn returns an error (which List returns).
	List(ctx context.Context, fn func(Info) error) error
}

// SeekOpener is an optional Storage method for adapters whose blobs are
// seekable in place: downloads then serve what it returns (for DirStorage
// an *os.File, which the HTTP server sends with sendfile) instead of
// ranged Gets.
type SeekOpener interface {
	OpenSeeker(ctx context.Context, h Hash) (io.ReadSeekCloser, error)
}

// TempSweeper is an optional Storage method removing the leftovers of
// interrupted writes older than before (DirStorage's temporary files);
// GCOrphans calls it with its cutoff.
type TempSweeper interface {
	SweepTemp(ctx context.Context, before time.Time) (int, error)
}

// Info describes a stored blob.
type Info struct {
	Hash Hash
	Size int64
	// ModTime is when the blob was stored; GCOrphans spares blobs
	// younger than its grace period.
	ModTime time.Time
}

// Verifier hashes and counts what passes through it, for adapters that
// verify a blob while they stream it: read through it, then call Check.
type Verifier struct {
	r    io.Reader
	d    hash.Hash
	n    int64
	size int64
	// verified, set on the reader the Service hands a storage's Put
	// (uploadVerifier), is called once by the first Check that passes
	// for want: the bytes are proven, the blob is not yet durable.
	want     Hash
	verified func()
}

// NewVerifier returns a Verifier reading at most size+1 bytes of r: one
// byte past the declared size is enough to know the body is too long.
//
// When r is the reader the Service passes to Storage.Put (itself a
// Verifier of size bytes, none read yet), NewVerifier returns r: the body
// is hashed once, and the Service learns from Check that the bytes are
// verified, so it commits the upload's record while the storage is still
// making the blob durable. Adapters should therefore verify through
// NewVerifier and call Check before they sync, rename or complete the
// blob; one that does neither still works, its uploads recorded after
// Put returns.
func NewVerifier(r io.Reader, size int64) *Verifier {
	if v, ok := r.(*Verifier); ok && v.verified != nil && v.size == size && v.n == 0 {
		return v
	}
	return &Verifier{r: io.LimitReader(r, size+1), d: sha256.New(), size: size}
}

// uploadVerifier is the Verifier an upload hands its storage: verified
// runs when the storage's Check proves the body is size bytes hashing
// to want.
func uploadVerifier(r io.Reader, want Hash, size int64, verified func()) *Verifier {
	return &Verifier{r: io.LimitReader(r, size+1), d: sha256.New(), size: size, want: want, verified: verified}
}

// Read reads from the underlying reader, hashing what it returns.
func (v *Verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if n > 0 {
		v.d.Write(p[:n])
		v.n += int64(n)
		if v.n > v.size {
			return n, fmt.Errorf("%w: more than the declared %d bytes", ErrSizeMismatch, v.size)
		}
	}
	return n, err
}

// Check reports whether what was read is size bytes hashing to h; call
// it after reading to EOF.
func (v *Verifier) Check(h Hash) error {
	if v.n != v.size {
		return fmt.Errorf("%w: %d bytes, declared %d", ErrSizeMismatch, v.n, v.size)
	}
	var got Hash
	v.d.Sum(got[:0])
	if got != h {
		return fmt.Errorf("%w: the body hashes to %s, not %s", ErrHashMismatch, got, h)
	}
	if f := v.verified; f != nil && h == v.want {
		v.verified = nil
		f()
	}
	return nil
}

// Verify reads r to its end and checks it is size bytes hashing to h,
// storing nothing: how an upload of content already stored proves the
// uploader holds it.
func Verify(h Hash, size int64, r io.Reader) error {
	v := NewVerifier(r, size)
	if _, err := io.Copy(io.Discard, v); err != nil {
		return readError(err)
	}
	return v.Check(h)
}

// readError keeps the package's sentinels and marks other read failures
// as a body cut short.
func readError(err error) error {
	if isSentinel(err) {
		return err
	}
	return fmt.Errorf("%w: reading the body: %v", ErrSizeMismatch, err)
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrSizeMismatch) || errors.Is(err, ErrHashMismatch) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
