package s3_test

import (
	"testing"

	"github.com/plasma-go/plasma/files/internal/storagetest"
	"github.com/plasma-go/plasma/files/s3"
	"github.com/plasma-go/plasma/files/s3/s3test"
)

// TestConformance runs the storage suite on the in-process S3 server;
// "large" is 2.4 parts of the minimum part size, so it goes multipart. The empty blob is
// skipped: gofakes3 refuses a zero-length PUT (MissingContentLength),
// which S3, R2 and MinIO accept.
func TestConformance(t *testing.T) {
	st := s3test.New(t, s3.MinPartSize)
	storagetest.Run(t, st, 2*s3.MinPartSize+s3.MinPartSize*2/5+3, true)
}
