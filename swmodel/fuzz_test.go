// SPDX-License-Identifier: Apache-2.0

package swmodel_test

import (
	"bytes"
	"testing"

	"github.com/symdist/symdist/swmodel"
	"github.com/symdist/symdist/vectors"
)

// FuzzProcess feeds arbitrary frames on arbitrary ports through the
// pipeline. Beyond not panicking, whatever leaves is the received frame
// (less any packet_out header) with at most the destination MAC changed.
func FuzzProcess(f *testing.F) {
	for _, v := range vectors.Vectors() {
		f.Add(v.Port, v.Frame)
	}
	f.Add(uint16(swmodel.CPUPort), []byte{0x03, 0x00, 1, 2, 3})
	p := newFixture(f)
	f.Fuzz(func(t *testing.T, port uint16, frame []byte) {
		port %= 512
		var res swmodel.Result
		p.Process(port, frame, &res)
		if len(res.Ports) == 0 {
			return
		}
		in := frame
		if port == swmodel.CPUPort {
			in = frame[2:]
		}
		if len(res.Frame) != len(in) {
			t.Fatalf("output is %d bytes, input %d", len(res.Frame), len(in))
		}
		if len(in) > 6 && !bytes.Equal(res.Frame[6:], in[6:]) {
			t.Fatalf("bytes after the destination MAC changed")
		}
	})
}
