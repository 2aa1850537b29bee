// Package s3test runs an in-process S3 server (gofakes3, in memory) for
// tests of the files/s3 storage and of code using it.
package s3test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/plasma-go/plasma/files/s3"
)

// New starts a fake S3 server with one bucket, closed when the test ends,
// and returns a storage on it with the given part size (0 for the
// default).
func New(t testing.TB, partSize int64) *s3.Storage {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	cl, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{
		Creds:        credentials.NewStaticV4("plasma", "plasma-secret", ""),
		Secure:       false,
		Region:       "us-east-1",
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.MakeBucket(context.Background(), "blobs", minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	st, err := s3.New(s3.Options{Client: cl, Bucket: "blobs", PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	return st
}
