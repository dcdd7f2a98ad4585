package contract

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
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

// BenchmarkHashAddrPort: what the model hashes per packet, for IPv4 and
// IPv6 keys.
func BenchmarkHashAddrPort(b *testing.B) {
	for _, tt := range []struct {
		name string
		n    int
	}{{"ipv4", 4}, {"ipv6", 16}} {
		addr := make([]byte, tt.n)
		for i := range addr {
			addr[i] = byte(i * 37)
		}
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				HashAddrPort(addr, 51234)
			}
		})
	}
}
