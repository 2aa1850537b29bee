package files

import (
	"context"
	"errors"
	"io"
)

// blobSeeker is an io.ReadSeeker over a stored blob for
// http.ServeContent, which seeks to learn the size and to each requested
// range: it opens a ranged Get at the position of the first Read after a
// Seek, so a Range request costs one ranged read of the storage, never
// the whole blob.
type blobSeeker struct {
	ctx  context.Context
	st   Storage
	h    Hash
	size int64
	pos  int64
	rc   io.ReadCloser // open at pos, or nil
}

func newBlobSeeker(ctx context.Context, st Storage, h Hash, size int64) *blobSeeker {
	return &blobSeeker{ctx: ctx, st: st, h: h, size: size}
}

func (b *blobSeeker) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil {
		rc, err := b.st.Get(b.ctx, b.h, b.pos, b.size-b.pos)
		if err != nil {
			return 0, err
		}
		b.rc = rc
	}
	n, err := b.rc.Read(p)
	b.pos += int64(n)
	return n, err
}

func (b *blobSeeker) Seek(off int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = off
	case io.SeekCurrent:
		abs = b.pos + off
	case io.SeekEnd:
		abs = b.size + off
	default:
		return 0, errors.New("files: bad whence")
	}
	if abs < 0 {
		return 0, errors.New("files: negative position")
	}
	if abs != b.pos && b.rc != nil {
		b.rc.Close()
		b.rc = nil
	}
	b.pos = abs
	return abs, nil
}

// Close closes the open range, if any.
func (b *blobSeeker) Close() error {
	if b.rc != nil {
		return b.rc.Close()
	}
	return nil
}
