// Package cputime reports the CPU time a benchmark's process used per
// operation: on a machine shared with other work, wall time per operation
// is inflated by waiting for a core, CPU time far less.
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Process is the user + system CPU time the process has used (every
// thread: the garbage collector's too).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Loop runs f as b's loop and reports the process's CPU milliseconds per
// operation as the metric cpu-ms/op.
func Loop(b *testing.B, f func(i int)) {
	t0 := Process()
	n := 0
	for ; b.Loop(); n++ {
		f(n)
	}
	if n > 0 {
		b.ReportMetric(float64(Process()-t0)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
	}
}
