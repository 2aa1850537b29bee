package files_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plasma-go/plasma/files"
	"github.com/plasma-go/plasma/orm"
	ormtest "github.com/plasma-go/plasma/orm_test"
	"github.com/plasma-go/plasma/plugin/rowauth"
)

// verifyThen is a storage whose Put verifies the body through
// files.NewVerifier, as the adapters do (the upload's record starts at
// its Check), then calls after (when set) before the wrapped storage
// stores the bytes: the window in which the record is committed and the
// blob not yet stored. An error from after fails the Put there, as a
// failed disk sync or a lost connection to S3 would.
type verifyThen struct {
	files.Storage
	after func() error
}

func (v *verifyThen) Put(ctx context.Context, h files.Hash, size int64, r io.Reader) error {
	ver := files.NewVerifier(r, size)
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(ver); err != nil {
		return err
	}
	if err := ver.Check(h); err != nil {
		return err
	}
	if v.after != nil {
		if err := v.after(); err != nil {
			return err
		}
	}
	return v.Storage.Put(ctx, h, size, &buf)
}

// records returns the number of _plasma_blobs and _plasma_blob_owners rows
// for h.
func (e *env) records(h files.Hash) (blobs, owners int) {
	e.t.Helper()
	ctx := rowauth.AsSystem(context.Background())
	for i, table := range []string{"_plasma_blobs", "_plasma_blob_owners"} {
		rows, err := e.tg.DB.Query(ctx, `SELECT COUNT(*) FROM "`+table+`" WHERE "hash" = ?`, h.String())
		if err != nil {
			e.t.Fatal(err)
		}
		var n int
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				e.t.Fatal(err)
			}
		}
		rows.Close()
		if i == 0 {
			blobs = n
		} else {
			owners = n
		}
	}
	return blobs, owners
}

// TestFailedUploadRecordCollected: a new blob's record commits while the
// storage makes the blob durable. When the storage then fails, the
// upload is answered 500, the record stays behind (counting against the
// uploader's quota), and GCOrphans removes it once it is both stale and
// an hour old, not before; the content can then be uploaded again and
// referenced.
func TestFailedUploadRecordCollected(t *testing.T) {
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
				var fail atomic.Bool
				e := newEnv(t, tg, kind, func(o *files.Options) {
					o.Storages[files.DefaultStorage] = &verifyThen{Storage: o.Storages[files.DefaultStorage], after: func() error {
						if fail.Load() {
							return errors.New("disk full")
						}
						return nil
					}}
					o.OnError = func(context.Context, error) {}
					o.Quota = files.Quota{Uploads: 1, Bytes: -1}
				})
				ctx := context.Background()
				t0 := time.Now()
				e.now.Store(t0.UnixMilli())
				e.share("L")
				lost, other := []byte("verified, then the disk failed"), []byte("another file")
				h := files.HashOf(lost)

				fail.Store(true)
				if status, _, body := e.upload("alice", "attachments", "file", "text/plain", lost); status != 500 {
					t.Fatalf("upload failing after verification: %d %s", status, body)
				}
				fail.Store(false)
				if b, o := e.records(h); b != 1 || o != 1 {
					t.Fatalf("records after the failed upload: %d blobs, %d owners; want the early record", b, o)
				}
				if status, _, body := e.upload("alice", "attachments", "file", "text/plain", other); status != 429 {
					t.Fatalf("the failed upload should count against the quota until GC: %d %s", status, body)
				}
				grace := 10 * time.Minute
				e.now.Store(t0.Add(30 * time.Minute).UnixMilli())
				rep, err := e.fs.GCOrphans(ctx, files.GCOptions{Grace: grace})
				must(t, err)
				if b, o := e.records(h); rep.Records != 0 || b != 1 || o != 1 {
					t.Fatalf("a record under an hour old was collected: %+v, %d blobs, %d owners", rep, b, o)
				}
				e.now.Store(t0.Add(2 * time.Hour).UnixMilli())
				rep, err = e.fs.GCOrphans(ctx, files.GCOptions{Grace: grace})
				must(t, err)
				if b, o := e.records(h); rep.Records != 1 || b != 0 || o != 0 {
					t.Fatalf("GC of the failed upload's record: %+v, %d blobs, %d owners left", rep, b, o)
				}
				ref := e.mustUpload("alice", "attachments", "file", "text/plain", lost)
				e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
				e.mustUpload("alice", "attachments", "file", "text/plain", other)
				e.now.Store(t0.Add(4 * time.Hour).UnixMilli())
				rep, err = e.fs.GCOrphans(ctx, files.GCOptions{Grace: grace})
				must(t, err)
				if b, o := e.records(h); rep.Records != 0 || b != 1 || o != 1 {
					t.Fatalf("GC removed the record of a stored, referenced blob: %+v, %d blobs, %d owners", rep, b, o)
				}
			})
		})
	}
}

// TestUploadStorageWithoutVerifier: a storage that reads the body
// without files.NewVerifier (so the Service never learns when it is
// verified) still gets every upload recorded, after its Put.
func TestUploadStorageWithoutVerifier(t *testing.T) {
	e := newEnv(t, ormtest.SQLite(t), "dir", func(o *files.Options) {
		o.Storages[files.DefaultStorage] = &readAllStore{o.Storages[files.DefaultStorage]}
	})
	e.share("L")
	ref := e.mustUpload("alice", "attachments", "file", "text/plain", []byte("read without a verifier"))
	if b, o := e.records(ref.Hash); b != 1 || o != 1 {
		t.Fatalf("records: %d blobs, %d owners", b, o)
	}
	e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
}

type readAllStore struct{ files.Storage }

func (s *readAllStore) Put(ctx context.Context, h files.Hash, size int64, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return s.Storage.Put(ctx, h, size, bytes.NewReader(b))
}

// TestGCDuringEarlyRecord: GC in another process runs in the window
// between an upload's record (committed at the storage's Check) and its
// blob being stored, at a time the storage took so long that the record
// is past the grace period: GC removes the record, whose blob no storage
// holds. The upload, slower than TouchInterval since its record, records
// itself again once the blob is stored, so the answered upload keeps
// its owner record, GC at that time spares the blob, and the ref is
// written.
func TestGCDuringEarlyRecord(t *testing.T) {
	defer files.SetRecordMinAge(0)()
	const grace = 10 * time.Minute
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
				var armed atomic.Bool
				var gc func() (files.GCReport, error)
				var inWindow files.GCReport
				var inWindowErr error
				e := newEnv(t, tg, kind, func(o *files.Options) {
					o.Storages[files.DefaultStorage] = &verifyThen{Storage: o.Storages[files.DefaultStorage], after: func() error {
						if armed.Swap(false) {
							inWindow, inWindowErr = gc()
						}
						return nil
					}}
				})
				data := []byte("slow to become durable")
				ctx := context.Background()
				other, err := files.New(ctx, files.Options{Schema: testSchema, DB: tg.DB, Columns: columnOpts, SkipEnsure: true,
					Storages: map[string]files.Storage{files.DefaultStorage: e.store, "avatars": e.avatars},
					Now:      func() time.Time { return time.UnixMilli(e.now.Load()) }})
				must(t, err)
				t0 := time.Now()
				e.now.Store(t0.UnixMilli())
				gc = func() (files.GCReport, error) {
					// In the window, the record commits concurrently:
					// wait for it, so GC finds it.
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
						if _, o := e.records(files.HashOf(data)); o == 1 {
							break
						}
					}
					e.now.Store(t0.Add(grace + time.Second).UnixMilli())
					return other.GCOrphans(ctx, files.GCOptions{Grace: grace})
				}
				e.share("L")
				armed.Store(true)
				ref := e.mustUpload("alice", "attachments", "file", "text/plain", data)
				must(t, inWindowErr)
				if inWindow.Records != 1 {
					t.Fatalf("GC in the window: %+v; want the stale record of the unstored blob removed", inWindow)
				}
				if b, o := e.records(ref.Hash); b != 1 || o != 1 {
					t.Fatalf("answered upload: %d blobs, %d owners recorded", b, o)
				}
				rep, err := gc()
				must(t, err)
				if rep.Deleted != 0 || rep.Records != 0 {
					t.Fatalf("GC after the answer: %+v", rep)
				}
				e.mustPush("alice", "attach", attachArgs{ID: "A", ListID: "L", File: ref})
			})
		})
	}
}

// TestGCRacingEarlyRecords: uploads whose storage takes up to fifteen
// touch intervals between verifying the body (when the record commits)
// and storing the blob race GC run by another process (a second Service on
// the same database and storages, so the uploads' in-process locks do
// not order it), with records collectable at any age. GC may remove a
// record while its blob is not yet stored; the upload must then record
// itself again before it answers: an answered upload's owner record is
// there while its blob is, and its ref is written, or refused only
// because GC collected the blob afterwards.
func TestGCRacingEarlyRecords(t *testing.T) {
	defer files.SetRecordMinAge(0)()
	const touch = 10 * time.Millisecond
	for _, kind := range storageKinds {
		t.Run(kind, func(t *testing.T) {
			ormtest.Run(t, func(t *testing.T, tg *ormtest.Target) {
				e := newEnv(t, tg, kind, func(o *files.Options) {
					o.TouchInterval = touch
					o.Quota = files.Quota{Uploads: -1, Bytes: -1}
					o.Storages[files.DefaultStorage] = &verifyThen{Storage: o.Storages[files.DefaultStorage], after: func() error {
						time.Sleep(time.Duration(rand.IntN(int(15 * touch))))
						return nil
					}}
				})
				ctx := context.Background()
				other, err := files.New(ctx, files.Options{Schema: testSchema, DB: tg.DB, Columns: columnOpts, TouchInterval: touch,
					Storages: map[string]files.Storage{files.DefaultStorage: e.store, "avatars": e.avatars}, SkipEnsure: true})
				must(t, err)
				e.share("L")
				alice := rowauth.WithIdentity(ctx, rowauth.Identity{UserID: "alice"})
				stop := make(chan struct{})
				gcDone := make(chan error, 1)
				var swept atomic.Int64
				go func() {
					for {
						select {
						case <-stop:
							gcDone <- nil
							return
						default:
						}
						rep, err := other.GCOrphans(ctx, files.GCOptions{Grace: 6 * touch})
						if err != nil {
							gcDone <- err
							return
						}
						swept.Add(int64(rep.Records))
					}
				}()
				var wg sync.WaitGroup
				var committed, refused atomic.Int64
				for i := range 24 {
					wg.Go(func() {
						ref := e.mustUpload("alice", "attachments", "file", "text/plain", []byte(fmt.Sprintf("early record %d", i)))

						// Owner first: GC collecting the blob deletes the
						// blob before its owners' deletion commits.
						_, owners := e.records(ref.Hash)
						if _, herr := e.store.Head(ctx, ref.Hash); owners == 0 && herr == nil {
							t.Errorf("upload %d answered with its blob stored and no owner record", i)
						}
						_, err := e.fsWrites.Insert(tAttachments).Values(orm.Row{"id": fmt.Sprint("R", i), "list_id": "L", "file": ref}).Exec(alice)
						switch {
						case err == nil:
							committed.Add(1)
						case errors.Is(err, files.ErrNotStored):
							if _, herr := e.store.Head(ctx, ref.Hash); herr == nil {
								t.Errorf("ref %d refused while its blob is stored: %v", i, err)
							}
							refused.Add(1)
						default:
							t.Errorf("ref %d: %v", i, err)
						}
					})
				}
				wg.Wait()
				close(stop)
				must(t, <-gcDone)
				noLostRefs(t, e)
				if n := e.count(tAttachments); n != int(committed.Load()) {
					t.Fatalf("%d rows, %d committed", n, committed.Load())
				}
				t.Logf("%d refs committed, %d refused after collection, %d records swept by GC", committed.Load(), refused.Load(), swept.Load())
			})
		})
	}
}
