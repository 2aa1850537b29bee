//go:build unix

package bench

import (
	"syscall"
	"testing"
)

// reportCPU reports, when b ends, the process's CPU time (user and
// system) per iteration as cpu-ns/op: on a machine shared with other
// work, wall time (ns/op) counts the time the benchmark waited for a
// core, CPU time only what it spent. Call it just before the loop.
func reportCPU(b *testing.B) {
	var start syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &start) != nil {
		return
	}
	b.Cleanup(func() {
		var end syscall.Rusage
		if syscall.Getrusage(syscall.RUSAGE_SELF, &end) != nil || b.N == 0 {
			return
		}
		ns := end.Utime.Nano() + end.Stime.Nano() - start.Utime.Nano() - start.Stime.Nano()
		b.ReportMetric(float64(ns)/float64(b.N), "cpu-ns/op")
	})
}
