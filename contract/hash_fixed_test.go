// SPDX-License-Identifier: Apache-2.0

package contract

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/symdist/symdist/internal/cputime"
)

// HashIPv4Key, HashIPv6Key and HashAddrPort's paths to them give
// hash/crc32's result on keys that set every bit position, one at a time
// and all together, and on random keys.
func TestHashAddrPortFixed(t *testing.T) {
	for _, addrLen := range []int{4, 16} {
		keyLen := addrLen + 2
		var keys [][]byte
		keys = append(keys, make([]byte, keyLen))
		all := make([]byte, keyLen)
		for i := range all {
			all[i] = 0xff
		}
		keys = append(keys, all)
		for bit := range keyLen * 8 {
			k := make([]byte, keyLen)
			k[bit/8] = 1 << (bit % 8)
			keys = append(keys, k)
		}
		r := rand.New(rand.NewPCG(3, 4))
		for range 1000 {
			k := make([]byte, keyLen)
			for i := range k {
				k[i] = byte(r.Uint32())
			}
			keys = append(keys, k)
		}
		for _, k := range keys {
			port := binary.BigEndian.Uint16(k[addrLen:])
			want := crc32.ChecksumIEEE(k)
			if got := HashAddrPort(k[:addrLen], port); got != want {
				t.Fatalf("HashAddrPort(%x, %d) = %#x, want %#x", k[:addrLen], port, got, want)
			}
			name, got := "HashIPv4Key", uint32(0)
			if addrLen == 4 {
				got = HashIPv4Key((*[4]byte)(k), port)
			} else {
				name, got = "HashIPv6Key", HashIPv6Key((*[16]byte)(k), port)
			}
			if got != want {
				t.Fatalf("%s(%x, %d) = %#x, want %#x", name, k[:addrLen], port, got, want)
			}
		}
	}
}

// FuzzHashAddrPort holds HashAddrPort to hash/crc32 for any address length
// (the fixed 4- and 16-byte paths and the general one).
func FuzzHashAddrPort(f *testing.F) {
	f.Add([]byte{10, 0, 0, 7}, uint16(51234))
	f.Add([]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, uint16(443))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, addr []byte, port uint16) {
		key := binary.BigEndian.AppendUint16(append([]byte(nil), addr...), port)
		if got, want := HashAddrPort(addr, port), crc32.ChecksumIEEE(key); got != want {
			t.Fatalf("HashAddrPort(%x, %d) = %#x, want %#x", addr, port, got, want)
		}
	})
}

// BenchmarkKeyHash: the fixed-length hashes the model uses per packet
// beside HashBytes (slicing by 8, what the model used before) on the same
// key bytes. "chained" makes each key depend on the previous hash, as a
// packet's bucket lookup waits for its hash: that measures the latency,
// the plain loop the throughput.
func BenchmarkKeyHash(b *testing.B) {
	var v4 [4]byte
	var v6 [16]byte
	for i := range v6 {
		v6[i] = byte(i * 37)
	}
	copy(v4[:], v6[:])
	const port = 51234
	key4 := binary.BigEndian.AppendUint16(append([]byte(nil), v4[:]...), port)
	key6 := binary.BigEndian.AppendUint16(append([]byte(nil), v6[:]...), port)
	var h uint32
	for _, bm := range []struct {
		name string
		f    func() uint32
		key  []byte // the byte the chained loop changes
	}{
		{"ipv4/HashIPv4Key", func() uint32 { return HashIPv4Key(&v4, port) }, v4[:]},
		{"ipv4/HashBytes", func() uint32 { return HashBytes(key4) }, key4},
		{"ipv6/HashIPv6Key", func() uint32 { return HashIPv6Key(&v6, port) }, v6[:]},
		{"ipv6/HashBytes", func() uint32 { return HashBytes(key6) }, key6},
	} {
		b.Run(bm.name, func(b *testing.B) {
			cputime.Loop(b, func() { h = bm.f() })
		})
		b.Run(bm.name+"/chained", func(b *testing.B) {
			cputime.Loop(b, func() {
				bm.key[0] = byte(h)
				h = bm.f()
			})
		})
	}
}
