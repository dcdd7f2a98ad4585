package swmodel

import "sync/atomic"

// counterCell is one index of a packets_and_bytes counter array.
type counterCell struct {
	packets, bytes atomic.Uint64
}

// counters mirrors the pipeline's counter arrays: tm_counter and
// steer_reason_counter (TmSelect) and drop_counter (SymdistIngress).
type counters struct {
	tm          [MaxTMs]counterCell
	steerReason [ReasonCount]counterCell
	drop        [DropCauseCount]counterCell
}

// count adds one packet of n bytes at index i. An index past the array is
// not counted (the controller never writes a tm_id of MaxTMs or more).
func (c *counters) count(arr []counterCell, i, n int) {
	if i < 0 || i >= len(arr) {
		return
	}
	arr[i].packets.Add(1)
	arr[i].bytes.Add(uint64(n))
}

// CounterValue is one counter cell as read.
type CounterValue struct {
	Packets, Bytes uint64
}

func (c *counters) read(arr []counterCell, i int) CounterValue {
	return CounterValue{arr[i].packets.Load(), arr[i].bytes.Load()}
}

// reset sets every cell to 0, cell by cell, as packets may be counting.
func (c *counters) reset() {
	for _, arr := range [][]counterCell{c.tm[:], c.steerReason[:], c.drop[:]} {
		for i := range arr {
			arr[i].packets.Store(0)
			arr[i].bytes.Store(0)
		}
	}
}
