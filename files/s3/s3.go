// Package s3 is a files.Storage on any S3-compatible object store (AWS
// S3, Cloudflare R2, MinIO, …) through minio-go.
//
// minio-go was chosen over aws-sdk-go-v2 because one well-kept module
// gives the whole S3 surface this adapter needs — a low-level Core API
// for multipart uploads streamed part by part, ranged GETs, listing —
// with path-style addressing and static credentials built in, and a far
// smaller dependency tree (aws-sdk-go-v2 needs its config, credentials,
// s3 and s3/manager modules plus smithy-go). It is pure Go.
//
// A blob sha256:<hex> is the object <Prefix>sha256/<hex>. Put never lets
// an object appear before its bytes are verified: a small blob (up to
// SmallSize) is read and verified in memory, then written with one PUT;
// a larger one is sent as a multipart upload, part by part as it
// streams, and completed only once the whole body matched its hash and
// size, else aborted. So memory per upload is bounded by SmallSize, or by
// one part in flight.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"

	"github.com/plasma-go/plasma/files"
)

// The defaults of Options.
const (
	// DefaultPartSize is the size of a multipart upload's parts.
	DefaultPartSize = 16 << 20
	// MinPartSize is S3's smallest part (but the last).
	MinPartSize = 5 << 20
	// SmallSize is the largest blob Put verifies in memory and sends
	// with one PUT.
	SmallSize = 1 << 20
)

// Options configures New.
type Options struct {
	// Client is the minio-go client, made with minio.New (use
	// BucketLookup: minio.BucketLookupPath for servers that need
	// path-style addressing, and set Region to skip a location lookup).
	Client *minio.Client
	// Bucket holds the blobs; it must exist.
	Bucket string
	// Prefix is put before every key, such as "app/".
	Prefix string
	// PartSize is the multipart part size; 0 means DefaultPartSize, and
	// a value under MinPartSize is raised to it.
	PartSize int64
}

// Storage is a files.Storage on an S3 bucket. It is safe for concurrent
// use.
type Storage struct {
	core     minio.Core
	bucket   string
	prefix   string
	partSize int64
}

var _ files.Storage = (*Storage)(nil)

// New returns the storage.
func New(opts Options) (*Storage, error) {
	if opts.Client == nil || opts.Bucket == "" {
		return nil, errors.New("files/s3: New: Options.Client and Options.Bucket are required")
	}
	ps := opts.PartSize
	if ps == 0 {
		ps = DefaultPartSize
	}
	ps = max(ps, MinPartSize)
	return &Storage{core: minio.Core{Client: opts.Client}, bucket: opts.Bucket, prefix: opts.Prefix, partSize: ps}, nil
}

func (s *Storage) key(h files.Hash) string { return s.prefix + "sha256/" + h.Hex() }

// Put verifies and stores the blob (see the package documentation).
func (s *Storage) Put(ctx context.Context, h files.Hash, size int64, r io.Reader) error {
	if size < 0 {
		return fmt.Errorf("%w: negative size %d", files.ErrSizeMismatch, size)
	}
	v := files.NewVerifier(r, size)
	if size <= SmallSize {
		buf := bytes.NewBuffer(make([]byte, 0, size+1))
		if _, err := buf.ReadFrom(v); err != nil {
			return bodyError(err)
		}
		if err := v.Check(h); err != nil {
			return err
		}
		// The hash is known and verified: sending it as the payload's
		// SHA-256 lets the server check the bytes again.
		_, err := s.core.PutObject(ctx, s.bucket, s.key(h), bytes.NewReader(buf.Bytes()), size, "", h.Hex(),
			minio.PutObjectOptions{ContentType: "application/octet-stream"})
		return err
	}
	return s.putMultipart(ctx, h, size, v)
}

// putMultipart streams the body as parts and completes the upload only
// if it verified.
func (s *Storage) putMultipart(ctx context.Context, h files.Hash, size int64, v *files.Verifier) (err error) {
	key := s.key(h)
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	for n, left := 1, size; left > 0; n++ {
		ps := min(s.partSize, left)
		cr := &countReader{r: io.LimitReader(v, ps)}
		// A part's hash is unknown until it has streamed: it is sent
		// unsigned (as over TLS), the whole blob verified here.
		p, perr := s.core.PutObjectPart(ctx, s.bucket, key, id, n, cr, ps, minio.PutObjectPartOptions{DisableContentSha256: true})
		if cr.err != nil {
			return bodyError(cr.err)
		}
		if perr != nil {
			if cr.n < ps {
				return fmt.Errorf("%w: the body ended after %d of %d bytes", files.ErrSizeMismatch, size-left+cr.n, size)
			}
			return perr
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		left -= ps
	}
	var one [1]byte
	if _, rerr := v.Read(one[:]); rerr != nil && rerr != io.EOF {
		return bodyError(rerr)
	}
	if err = v.Check(h); err != nil {
		return err
	}
	_, err = s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, minio.PutObjectOptions{})
	return err
}

// countReader counts bytes and keeps the reader's first non-EOF error,
// which the SDK would otherwise report as its own.
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

func bodyError(err error) error {
	if errors.Is(err, files.ErrSizeMismatch) || errors.Is(err, files.ErrHashMismatch) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: reading the body: %v", files.ErrSizeMismatch, err)
}

// Get returns a ranged GET of the object.
func (s *Storage) Get(ctx context.Context, h files.Hash, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("files/s3: negative offset %d", offset)
	}
	if length == 0 {
		if _, err := s.Head(ctx, h); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	var opts minio.GetObjectOptions
	end := int64(0)
	if length > 0 {
		end = offset + length - 1
	}
	if offset > 0 || length > 0 {
		if err := opts.SetRange(offset, end); err != nil {
			return nil, err
		}
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, s.key(h), opts)
	if err != nil {
		return nil, notFound(err)
	}
	return rc, nil
}

// Head stats the object.
func (s *Storage) Head(ctx context.Context, h files.Hash) (files.Info, error) {
	oi, err := s.core.Client.StatObject(ctx, s.bucket, s.key(h), minio.StatObjectOptions{})
	if err != nil {
		return files.Info{}, notFound(err)
	}
	return files.Info{Hash: h, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete removes the object.
func (s *Storage) Delete(ctx context.Context, h files.Hash) error {
	err := s.core.Client.RemoveObject(ctx, s.bucket, s.key(h), minio.RemoveObjectOptions{})
	if errors.Is(notFound(err), files.ErrNotFound) {
		return nil
	}
	return err
}

// List lists the objects under the prefix whose keys are blob keys.
func (s *Storage) List(ctx context.Context, fn func(files.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine if fn fails
	pre := s.prefix + "sha256/"
	for oi := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: pre, Recursive: true}) {
		if oi.Err != nil {
			return oi.Err
		}
		h, err := files.ParseHash("sha256:" + strings.TrimPrefix(oi.Key, pre))
		if err != nil {
			continue // not a blob of ours
		}
		if err := fn(files.Info{Hash: h, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	return nil
}

// notFound maps S3's missing-object errors to files.ErrNotFound.
func notFound(err error) error {
	if err == nil {
		return nil
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NotFound":
		return files.ErrNotFound
	}
	if minio.ToErrorResponse(err).StatusCode == 404 {
		return files.ErrNotFound
	}
	return err
}
