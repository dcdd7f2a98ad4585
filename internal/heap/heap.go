// SPDX-License-Identifier: Apache-2.0

// Package heap measures what data structures cost: the live heap.
package heap

import "runtime"

// Live returns the heap in use after garbage collection (HeapAlloc after
// two collections, so that objects freed by finalizers are gone too).
func Live() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
