package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/plasma-go/plasma/files"
)

// FileUpload is a file for Upload: its bytes, their size and MIME type,
// and the file column they are for.
type FileUpload struct {
	// Table and Column name the file column the ref will be written to;
	// the server applies its limits (size, MIME types) and its storage.
	Table, Column string
	// Body yields the file's Size bytes. Without Hash, Upload reads it
	// twice (hashing, then sending) if it is an io.Seeker, and otherwise
	// copies it to a temporary file first.
	Body io.Reader
	Size int64
	// MIME is the file's type, such as "image/png".
	MIME string
	// Name is the file's name, kept in the ref (optional).
	Name string
	// Hash is the SHA-256 of the bytes, if the caller knows it.
	Hash files.Hash
}

// expectContinueSize is the smallest upload that asks for the server's
// go-ahead before its body.
const expectContinueSize = 1 << 20

// maxFileAnswer caps the body of an upload's answer (a ref, or an error).
const maxFileAnswer = 64 << 10

// Upload sends a file to the server's files endpoint
// ({Server}/files/sha256:<hex>), streamed, and returns the ref to write
// into a row with a mutator:
//
//	ref, err := c.Upload(ctx, client.FileUpload{Table: "attachments", Column: "file",
//		Body: f, Size: size, MIME: "image/png", Name: "cat.png"})
//	err = c.Mutate(ctx, "attachFile", AttachFile{ID: id, TodoID: todoID, File: ref})
//
// The upload is also the proof of possession the server asks of a ref
// write. Uploading content already stored succeeds. An answer other than
// 200 or 201 is a *ServerError (Endpoint "files"; Kind such as
// "TooLarge", "MIMENotAllowed" or "QuotaExceeded"; Temporary for a 429
// or 503 worth retrying later); an answer whose ref is not the file sent
// is a *ResponseError (ErrBadResponse). Upload does not retry, and it
// works while offline only in that it fails with ErrOffline.
func (c *Client[C]) Upload(ctx context.Context, u FileUpload) (files.Ref, error) {
	if err := c.fileReady(); err != nil {
		return files.Ref{}, err
	}
	ref := files.Ref{Hash: u.Hash, Size: u.Size, MIME: u.MIME, Name: u.Name}
	body := u.Body
	if ref.Hash.IsZero() {
		var cleanup func()
		var err error
		body, ref.Hash, cleanup, err = hashBody(u.Body, u.Size)
		if err != nil {
			return files.Ref{}, err
		}
		defer cleanup()
	}
	if err := ref.Validate(); err != nil {
		return files.Ref{}, fmt.Errorf("plasma: client: upload: %w", err)
	}
	q := url.Values{"table": {u.Table}, "column": {u.Column}}
	if u.Name != "" {
		q.Set("name", u.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.fileURL(ref.Hash)+"?"+q.Encode(), io.NopCloser(body))
	if err != nil {
		return files.Ref{}, err
	}
	req.ContentLength = ref.Size
	if ref.Size == 0 {
		req.Body = http.NoBody // else a length of 0 reads as unknown: chunked, and refused (411)
	}
	req.Header.Set("Content-Type", ref.MIME)
	if ref.Size >= expectContinueSize {
		// The server refuses an upload over a limit or its quota before
		// reading it: wait for its go-ahead rather than send the body in
		// vain (with a Transport's ExpectContinueTimeout; without one the
		// body goes at once, as before).
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := c.fileDo(ctx, req)
	if err != nil {
		return files.Ref{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFileAnswer+1))
	if err != nil {
		return files.Ref{}, c.netError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return files.Ref{}, serverError("files", resp.StatusCode, data)
	}
	if len(data) > maxFileAnswer {
		return files.Ref{}, badFiles("upload answer over %d bytes", maxFileAnswer)
	}
	var got files.Ref
	if err := json.Unmarshal(data, &got); err != nil {
		return files.Ref{}, badFiles("upload answer is not a ref: %v", err)
	}
	if got.Hash != ref.Hash || got.Size != ref.Size || got.Validate() != nil {
		return files.Ref{}, badFiles("upload answer names %s (%d bytes), not the file sent, %s (%d bytes)", got.Hash, got.Size, ref.Hash, ref.Size)
	}
	return got, nil
}

// Download writes the file ref names to w, fetched from the server's
// files endpoint, and checks it: exactly ref.Size bytes hashing to
// ref.Hash. w receives the bytes as they arrive, so on an error it may
// hold part of a file, or bytes that failed the check: discard them. A
// file the user may not read is a *ServerError with Kind "NotFound",
// the server's answer for a missing one too; a body that is not the
// file is a *ResponseError (ErrBadResponse).
func (c *Client[C]) Download(ctx context.Context, ref files.Ref, w io.Writer) error {
	if err := c.fileReady(); err != nil {
		return err
	}
	if err := ref.Validate(); err != nil {
		return fmt.Errorf("plasma: client: download: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.fileURL(ref.Hash), nil)
	if err != nil {
		return err
	}
	resp, err := c.fileDo(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxFileAnswer))
		return serverError("files", resp.StatusCode, data)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != ref.Size {
		return badFiles("download of %s: %d bytes announced, the ref says %d", ref.Hash, resp.ContentLength, ref.Size)
	}
	// At most one byte past the size: enough to know the body is too
	// long, whatever the server sends.
	v := files.NewVerifier(resp.Body, ref.Size)
	if _, err := io.Copy(w, v); err != nil {
		if errors.Is(err, files.ErrSizeMismatch) {
			return badFiles("download of %s: %v", ref.Hash, err)
		}
		return c.netError(ctx, err)
	}
	if err := v.Check(ref.Hash); err != nil {
		return badFiles("download of %s: %v", ref.Hash, err)
	}
	return nil
}

// fileReady refuses a transfer when the client is closed or offline.
func (c *Client[C]) fileReady() error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.offline.Load() {
		return ErrOffline
	}
	return nil
}

func (c *Client[C]) fileURL(h files.Hash) string { return c.opts.Server + "/files/" + h.String() }

// fileDo sends a files request with the client's Authorization, on its
// HTTP client without the overall timeout (a large file may take longer
// than any fixed one; ctx bounds it, and the server cuts a stalled one).
func (c *Client[C]) fileDo(ctx context.Context, req *http.Request) (*http.Response, error) {
	if c.opts.Auth != nil {
		auth, err := c.opts.Auth(ctx)
		if err != nil {
			return nil, fmt.Errorf("plasma: client: files: auth: %w", err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
	}
	hc := *c.opts.HTTPClient
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.netError(ctx, err)
	}
	return resp, nil
}

func (c *Client[C]) netError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return &NetworkError{Endpoint: "files", Err: err}
}

func badFiles(format string, args ...any) error {
	return &ResponseError{Endpoint: "files", Problem: fmt.Sprintf(format, args...)}
}

// hashBody hashes size bytes of r and returns a reader yielding them
// again: r itself, rewound, if it seeks; else a temporary file holding
// them, which cleanup removes.
func hashBody(r io.Reader, size int64) (io.Reader, files.Hash, func(), error) {
	var h files.Hash
	noop := func() {}
	if size < 0 {
		return nil, h, noop, fmt.Errorf("plasma: client: upload: negative size %d", size)
	}
	d := sha256.New()
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, h, noop, err
		}
		n, err := io.Copy(d, io.LimitReader(rs, size))
		if err == nil && n != size {
			err = fmt.Errorf("plasma: client: upload: the body has %d bytes, Size says %d", n, size)
		}
		if err == nil {
			_, err = rs.Seek(start, io.SeekStart)
		}
		d.Sum(h[:0])
		return io.LimitReader(rs, size), h, noop, err
	}
	f, err := os.CreateTemp("", "plasma-upload-*")
	if err != nil {
		return nil, h, noop, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(io.MultiWriter(f, d), io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("plasma: client: upload: the body has %d bytes, Size says %d", n, size)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, h, noop, err
	}
	d.Sum(h[:0])
	return f, h, cleanup, nil
}
