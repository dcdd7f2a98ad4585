// SPDX-License-Identifier: Apache-2.0

package capture

import (
	"bytes"
	"io"
	"runtime"
	"testing"

	"github.com/google/gopacket/layers"
)

// FuzzReader: any bytes give packets then io.EOF or an *Error, never a
// panic, and memory bounded by the limit, not by what the file claims.
func FuzzReader(f *testing.F) {
	good := cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 60), epb(frame61, 61))
	for _, seed := range [][]byte{
		good,
		good[:len(good)-10],
		cat(shb(), idb(layers.LinkTypeEthernet), epb(frame60, 0xfffffff0)),
		cat(shb(), idb(layers.LinkTypeRaw), epb(ipv4, 20), shb(), idb(layers.LinkTypeIPv6), epb(ipv6, 40)),
		pcapFile(layers.LinkTypeEthernet, 65535, pcapRecord(frame60, 60), pcapRecord(frame61, 61)),
		pcapFile(layers.LinkTypeEthernet, 0xffffffff, pcapRecord([]byte{1, 2}, 0xfffffff0)),
		pcapFile(layers.LinkTypeRaw, 65535, pcapRecord(ipv6, 40)),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			return
		}
		var buf []byte
		for range len(file) + 1 { // every packet takes at least one byte
			p, err := r.Next()
			if err != nil {
				if err != io.EOF {
					if _, ok := err.(*Error); !ok {
						t.Fatalf("error %v (%T) is not a *capture.Error", err, err)
					}
				}
				break
			}
			if len(p.Data) > MaxCaptureLength || len(p.Data) > len(file) {
				t.Fatalf("packet %d of %d bytes from a %d-byte file", p.Index, len(p.Data), len(file))
			}
			buf, _, _ = Ethernet(p, buf)
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*MaxCaptureLength+uint64(64*len(file)) {
			t.Fatalf("reading a %d-byte file allocated %d bytes", len(file), grew)
		}
	})
}
