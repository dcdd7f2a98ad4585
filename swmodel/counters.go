// SPDX-License-Identifier: Apache-2.0

package swmodel

import "sync/atomic"

// counterCell is one index of a packets_and_bytes counter array.
type counterCell struct {
	packets, bytes atomic.Uint64
}

func (c *counterCell) add(n int) {
	c.packets.Add(1)
	c.bytes.Add(uint64(n))
}

func (c *counterCell) load() CounterValue {
	return CounterValue{c.packets.Load(), c.bytes.Load()}
}

// counters mirrors the pipeline's counter arrays: tm_counter and
// steer_reason_counter (TmSelect) and drop_counter (SymdistIngress).
//
// A steered packet counts once in each of tm_counter and
// steer_reason_counter, so the model keeps one cell per (tm_id, reason)
// and reads each P4 counter as a sum over the other index: a packet costs
// two atomic adds instead of four. Row MaxTMs holds the packets of a tm_id
// past tm_counter, which count only by reason (the controller never writes
// such a tm_id).
type counters struct {
	steered [MaxTMs + 1][ReasonCount]counterCell
	drop    [DropCauseCount]counterCell
}

// countSteered counts one steered packet of n bytes.
func (c *counters) countSteered(tmID uint16, reason Reason, n int) {
	tm := min(int(tmID), MaxTMs)
	if int(reason) < ReasonCount {
		c.steered[tm][reason].add(n)
	}
}

// countDrop counts one dropped packet of n bytes.
func (c *counters) countDrop(cause DropCause, n int) {
	if int(cause) < DropCauseCount {
		c.drop[cause].add(n)
	}
}

// reset sets every cell to 0, cell by cell, as packets may be counting.
func (c *counters) reset() {
	for i := range c.steered {
		for j := range c.steered[i] {
			c.steered[i][j].packets.Store(0)
			c.steered[i][j].bytes.Store(0)
		}
	}
	for i := range c.drop {
		c.drop[i].packets.Store(0)
		c.drop[i].bytes.Store(0)
	}
}

// CounterValue is one counter cell as read.
type CounterValue struct {
	Packets, Bytes uint64
}

func (v *CounterValue) add(w CounterValue) {
	v.Packets += w.Packets
	v.Bytes += w.Bytes
}

// counterArray is one P4 counter array of the model: its size (0 for an
// unknown counter) and how to read a cell.
type counterArray struct {
	size int
	read func(i int) CounterValue
}

func (c *counters) tmCounter() counterArray {
	return counterArray{MaxTMs, func(i int) CounterValue {
		var v CounterValue
		for r := range c.steered[i] {
			v.add(c.steered[i][r].load())
		}
		return v
	}}
}

func (c *counters) steerReasonCounter() counterArray {
	return counterArray{ReasonCount, func(i int) CounterValue {
		var v CounterValue
		for tm := range c.steered {
			v.add(c.steered[tm][i].load())
		}
		return v
	}}
}

func (c *counters) dropCounter() counterArray {
	return counterArray{DropCauseCount, func(i int) CounterValue { return c.drop[i].load() }}
}
