// SPDX-License-Identifier: Apache-2.0

// Package heap measures what data structures cost: the live heap.
package heap

import (
	"runtime"
	"time"
)

// Live returns the heap in use after garbage collection (HeapAlloc after
// two collections, so that objects freed by finalizers are gone too).
func Live() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Peak runs f and returns the most the heap in use grew above what was
// live before it, sampled every millisecond while f runs.
func Peak(f func()) uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base, peak := m.HeapAlloc, m.HeapAlloc
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	<-sampled
	return peak - base
}
