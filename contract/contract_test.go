// SPDX-License-Identifier: Apache-2.0

package contract

import (
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestCRCCheckValue(t *testing.T) {
	if got, want := crc32.ChecksumIEEE([]byte("123456789")), uint32(0xCBF43926); got != want {
		t.Fatalf("crc32(123456789) = %#x, want %#x", got, want)
	}
}

func TestKeyBytesLayout(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{"ipv4", Key{netip.MustParseAddr("10.0.0.7"), 51234}, "0a000007c822"},
		{"ipv4 port 0", Key{netip.MustParseAddr("192.168.1.1"), 0}, "c0a801010000"},
		{"ipv6", Key{netip.MustParseAddr("2001:db8::7"), 443}, "20010db800000000000000000000000701bb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(AppendKeyBytes(nil, tt.key)); got != tt.want {
				t.Errorf("key bytes = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestKeyForPorts(t *testing.T) {
	c, s := netip.MustParseAddr("10.0.0.7"), netip.MustParseAddr("10.0.0.100")
	tests := []struct {
		name   string
		sp, dp uint16
		want   Key
		wantOK bool
	}{
		{"client to server", 51234, 80, Key{c, 51234}, true},
		{"server to client", 80, 51234, Key{c, 51234}, true},
		{"equal", 53, 53, Key{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := c, s
			if tt.sp < tt.dp {
				src, dst = s, c
			}
			got, ok := KeyForPorts(src, tt.sp, dst, tt.dp)
			if ok != tt.wantOK || got != tt.want {
				t.Errorf("KeyForPorts = %v %v, want %v %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// The hash of a fixed key, pinned so that a change of layout or algorithm
// shows up here before it reaches a TM.
func TestHashGolden(t *testing.T) {
	k := Key{netip.MustParseAddr("10.0.0.7"), 51234}
	const want = 0xc35588e2 // zlib.crc32(bytes([10,0,0,7,0xc8,0x22]))
	if got := Hash(k); got != want {
		t.Fatalf("Hash = %#x, want %#x", got, want)
	}
	if got := Bucket(0xdeadbeef, 4096); got != 0xeef {
		t.Fatalf("Bucket = %#x, want 0xeef", got)
	}
}

func TestHashBytes(t *testing.T) {
	for n := 0; n < 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		if got, want := HashBytes(b), crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("HashBytes(%x) = %#x, want %#x", b, got, want)
		}
	}
}

func TestHashAllocatesNothing(t *testing.T) {
	k := Key{netip.MustParseAddr("2001:db8::7"), 443}
	if n := testing.AllocsPerRun(100, func() { Hash(k) }); n != 0 {
		t.Errorf("Hash allocates %v times", n)
	}
}

// Random keys of every length up to 64 bytes hash as hash/crc32 does, so
// every path of the slicing (8, 4 and single bytes) is held to the library.
func TestHashBytesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 64; n++ {
		for range 200 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if got, want := HashBytes(b), crc32.ChecksumIEEE(b); got != want {
				t.Fatalf("HashBytes(%x) = %#x, want %#x", b, got, want)
			}
			if n >= 2 {
				if got, want := HashAddrPort(b[:n-2], uint16(b[n-2])<<8|uint16(b[n-1])), crc32.ChecksumIEEE(b); got != want {
					t.Fatalf("HashAddrPort(%x) = %#x, want %#x", b, got, want)
				}
			}
		}
	}
}

// BenchmarkHashBytes: the contract's CRC-32 over IPv4 (6-byte) and IPv6
// (18-byte) keys, beside hash/crc32 on the same bytes.
func BenchmarkHashBytes(b *testing.B) {
	for _, n := range []int{6, 18} {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(i * 37)
		}
		b.Run(fmt.Sprintf("HashBytes/%d", n), func(b *testing.B) {
			for b.Loop() {
				HashBytes(key)
			}
		})
		b.Run(fmt.Sprintf("ChecksumIEEE/%d", n), func(b *testing.B) {
			for b.Loop() {
				crc32.ChecksumIEEE(key)
			}
		})
	}
}
