// SPDX-License-Identifier: Apache-2.0

// Package p4rt is a P4Runtime session with one switch, as symdist uses it:
// the stream and its arbitration (claiming a switch that has lost its
// primary), pipeline push and read-back, batched writes whose failed
// updates come back one by one, and reads. A reader (NewReader) reads
// without a stream or election id, so `symdist verify` never disturbs the
// controller that is primary. Every Read is bounded (ReadEntities): by the
// P4Info's sizes, no entity twice, nothing not asked for, bytes and
// ReadTimeout; a switch that answers more is refused (RefusedError).
package p4rt
