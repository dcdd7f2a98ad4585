// SPDX-License-Identifier: Apache-2.0

// Package cputime measures benchmarks by the CPU time of the thread that
// runs them. On a shared machine the wall time per op that go test -bench
// reports also counts the turns of other processes; the thread's own CPU
// time does not, so it is the figure to compare across runs.
package cputime

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Thread returns the CPU time (user and system) the calling OS thread has
// used so far.
func Thread() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// Loop runs f for b.Loop on one OS thread and reports, beside the wall
// time, the thread's CPU time per call as cpu-ns/op, and the allocations.
func Loop(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	start, err := Thread()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		f()
		n++
	}
	end, err := Thread()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
}
