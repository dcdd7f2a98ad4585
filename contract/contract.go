// SPDX-License-Identifier: Apache-2.0

// Package contract is the distribution rule of docs/contract.md in Go: the
// key bytes, the CRC-32 hash and the bucket of a key. The software model, the
// self-source port tables and the simulator all call these functions, so
// there is one definition of the rule on the Go side.
//
// KeyForPorts selects the key (docs/contract.md section 2), AppendKeyBytes
// gives its bytes, Hash their CRC-32 and Bucket the bucket (section 3).
// HashIPv4Key and HashIPv6Key are what the software model hashes per
// packet: for the two key lengths of the data path (6 and 18 bytes) they
// read one table per key byte, with no chain between them (hash_fixed.go).
package contract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultBuckets is B, the bucket count per group (a power of two).
const DefaultBuckets = 4096

// MaxBuckets is the most buckets a group's table has (docs/contract.md):
// B is a power of two up to it.
const MaxBuckets = 1 << 16

// MaxNameLen bounds a TM's name in bytes, so a bucket table's names are
// (and a group's and a switch's, which config holds to the same rule).
const MaxNameLen = 64

// CheckName holds a name to the rule bucket tables and config share: 1 to
// MaxNameLen bytes of UTF-8 with no control character and none that JSON
// escapes (" \ < > & U+2028 U+2029), so a name takes as many bytes in a
// table's JSON as in the config.
func CheckName(name string) error {
	switch {
	case name == "":
		return errors.New("empty name")
	case len(name) > MaxNameLen:
		return fmt.Errorf("name of %d bytes (at most %d)", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not UTF-8", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("name %q holds a control character", name)
	case strings.ContainsAny(name, "\"\\<>&\u2028\u2029"):
		return fmt.Errorf("name %q holds one of \" \\ < > & U+2028 U+2029", name)
	}
	return nil
}

// Key is what a steered packet hashes: the address and port of the side of
// the flow with the greater port (contract section 2).
type Key struct {
	Addr netip.Addr
	Port uint16
}

// KeyForPorts returns the key of a TCP/UDP packet and true, or false when the
// ports are equal (the packet then goes to its group's default TM).
func KeyForPorts(src netip.Addr, srcPort uint16, dst netip.Addr, dstPort uint16) (Key, bool) {
	switch {
	case srcPort > dstPort:
		return Key{src, srcPort}, true
	case dstPort > srcPort:
		return Key{dst, dstPort}, true
	default:
		return Key{}, false
	}
}

// MaxKeyLen is the length of an IPv6 key: 16 address bytes and 2 port bytes.
const MaxKeyLen = 18

// AppendKeyBytes appends the hashed bytes of k: the 4 (IPv4) or 16 (IPv6)
// address bytes, then the port, in network order.
func AppendKeyBytes(b []byte, k Key) []byte {
	if k.Addr.Is4() {
		a := k.Addr.As4()
		b = append(b, a[:]...)
	} else {
		a := k.Addr.As16()
		b = append(b, a[:]...)
	}
	return binary.BigEndian.AppendUint16(b, k.Port)
}

// Hash is CRC-32/ISO-HDLC of the key bytes (Go's crc32.ChecksumIEEE, bmv2's
// HashAlgorithm.crc32).
func Hash(k Key) uint32 {
	var buf [MaxKeyLen]byte
	return HashBytes(AppendKeyBytes(buf[:0], k))
}

// slicing holds the tables of CRC-32 by slicing: slicing[0] is hash/crc32's
// table for the contract's polynomial, and slicing[k][b] is the CRC of byte b
// followed by k zero bytes. Eight (or four) key bytes then cost one table
// read each, without the byte-to-byte dependency chain. update slices by 8;
// the fixed-length keys of hash_fixed.go use all MaxKeyLen tables.
var slicing = func() *[MaxKeyLen][256]uint32 {
	t := new([MaxKeyLen][256]uint32)
	t[0] = *crc32.MakeTable(crc32.IEEE)
	for i := range 256 {
		for k := 1; k < MaxKeyLen; k++ {
			c := t[k-1][i]
			t[k][i] = t[0][byte(c)] ^ c>>8
		}
	}
	return t
}()

// HashBytes is crc32.ChecksumIEEE, computed by slicing-by-8 (then by 4,
// then byte by byte) over tables of its own. For 6- or 18-byte keys that is
// several times faster than ChecksumIEEE, whose dispatch costs more than
// the bytes, and it lets a caller's key buffer stay on the stack (no
// allocation per packet). TestHashBytes holds the two equal.
func HashBytes(key []byte) uint32 {
	return ^update(^uint32(0), key)
}

// update runs the CRC register crc over b (no init, no final xor).
func update(crc uint32, key []byte) uint32 {
	t := slicing
	for len(key) >= 8 {
		crc ^= binary.LittleEndian.Uint32(key)
		crc = t[7][byte(crc)] ^ t[6][byte(crc>>8)] ^ t[5][byte(crc>>16)] ^ t[4][crc>>24] ^
			t[3][key[4]] ^ t[2][key[5]] ^ t[1][key[6]] ^ t[0][key[7]]
		key = key[8:]
	}
	if len(key) >= 4 {
		crc ^= binary.LittleEndian.Uint32(key)
		crc = t[3][byte(crc)] ^ t[2][byte(crc>>8)] ^ t[1][byte(crc>>16)] ^ t[0][crc>>24]
		key = key[4:]
	}
	for _, b := range key {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

// Bucket returns h mod buckets; buckets must be a power of two.
func Bucket(h uint32, buckets int) int {
	return int(h & uint32(buckets-1))
}

// IsPowerOfTwo reports whether n can be a bucket count.
func IsPowerOfTwo(n int) bool {
	return n > 0 && n&(n-1) == 0
}
