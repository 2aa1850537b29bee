package files

import "time"

// SetRecordMinAge sets the youngest upload record without a blob that
// GCOrphans removes (an hour), so a test can race GC against records in
// real time; the returned function restores it.
func SetRecordMinAge(d time.Duration) (restore func()) {
	old := recordMinAge
	recordMinAge = d
	return func() { recordMinAge = old }
}
