// Package files is plasma's content-addressed file capability: file
// columns hold a Ref (a SHA-256 hash, a size, a MIME type and an optional
// name), blobs live in a Storage (a directory by default, or any
// S3-compatible store through files/s3), and a Service ties them to a
// schema and a database.
//
// Files travel by upload, then ref. A client uploads the bytes to
// PUT {basePath}/files/sha256:<hex>?table=T&column=C (streamed, verified
// against the hash and the declared size, checked against the column's
// MaxSize and MIMEAllowList), gets the Ref back, and writes it into a row
// with a mutation. The Service's Middleware checks every write of a file
// column on the ORM's chain: a value that is not a ref (a file's bytes,
// base64 text, an expression), a ref over the column's limits, a change to
// an Immutable column's set ref, or a ref to a blob that is not stored is
// refused with a *WriteError and nothing is written.
//
// # Who may reference and read a blob
//
// A download (GET {basePath}/files/sha256:<hex>) is served only if the
// requesting identity may read, under the tables' row-auth rules, at least
// one row that references the hash, among the first ReadAuthMaxRefs such
// rows (by table name, then id). Otherwise the answer is 404, the same
// bytes as for a hash never stored.
//
// Writing a ref grants read access to whoever may read the row, so a ref
// write needs proof of possession: a writer acting for an identity may
// write a ref to a hash only if that identity uploaded the bytes itself
// (the upload's verification is the proof) or may already read a row
// referencing the hash. Knowing a hash is not enough: a ref to someone
// else's blob written into your own row is refused with ErrNotStored, the
// error a missing blob gets, so the refusal reveals nothing either.
// Writes that act for no identity skip this rule: trusted code
// (rowauth.AsSystem) and backend code whose context carries no identity
// at all, such as a job or a migration (the sync handler never writes
// without one). The blob must still be stored and fit the column.
//
// # Storage and maintenance
//
// Options.Storages names the storages; a table's TableOptions.Blobs picks
// one ("" is DefaultStorage), and New refuses an unknown name with an
// *orm.SchemaError. GCOrphans deletes blobs no row references once they
// are older than a grace period, ordered against concurrent uploads and
// ref writes through a per-hash row in _plasma_blobs (see GCOrphans);
// ReconcileRefs reports, and optionally clears, refs to missing blobs.
// Options.Quota bounds what each user holds in uploads no row references
// yet (see Quota), so one account cannot fill the storage between two
// GC runs.
//
// # Wiring
//
//	store, _ := files.Dir("./blobs")
//	fs, err := files.New(ctx, files.Options{
//		Schema:   app.Schema,
//		DB:       db,
//		Storages: map[string]files.Storage{files.DefaultStorage: store},
//		Columns:  map[string]files.ColumnOptions{"attachments.file": {MaxSize: 10 << 20}},
//	})
//	h, err := server.NewHandler(server.Options[App]{
//		Schema: app.Schema, DB: db.Use(fs.Middleware()), Files: fs, …})
//	mux.Handle("/sync/", h) // push, pull and /sync/files/…
package files
