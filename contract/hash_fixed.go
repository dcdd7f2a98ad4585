// SPDX-License-Identifier: Apache-2.0

package contract

// The keys the data path hashes have one of two lengths: 6 bytes (IPv4) and
// 18 bytes (IPv6). For a fixed length n the CRC is linear in its input, so
//
//	CRC(key) = ^(zeroReg(n) ^ slicing[n-1][key[0]] ^ ... ^ slicing[0][key[n-1]])
//
// where zeroReg(n) is the CRC register after n zero bytes from the initial
// all-ones register. Every key byte is then one independent table read, with
// no chain from one byte (or one group of 8) to the next.
// TestHashAddrPortFixed and FuzzHashAddrPort hold this to hash/crc32
// (through HashAddrPort, a test helper that takes these paths for 4- and
// 16-byte addresses).

var (
	zeroReg6  = update(^uint32(0), make([]byte, 6))
	zeroReg18 = update(^uint32(0), make([]byte, 18))
)

// HashIPv4Key is the hash of the 6-byte key of an IPv4 address and a
// port: HashBytes of the address then the port in network order. Small
// enough for the compiler to inline.
func HashIPv4Key(addr *[4]byte, port uint16) uint32 {
	t := slicing
	return ^(zeroReg6 ^ t[5][addr[0]] ^ t[4][addr[1]] ^ t[3][addr[2]] ^ t[2][addr[3]] ^
		t[1][byte(port>>8)] ^ t[0][byte(port)])
}

// HashIPv6Key is the hash of the 18-byte key of an IPv6 address and a
// port: HashBytes of the address then the port in network order.
func HashIPv6Key(addr *[16]byte, port uint16) uint32 {
	t, a := slicing, addr
	x := t[17][a[0]] ^ t[16][a[1]] ^ t[15][a[2]] ^ t[14][a[3]] ^
		t[13][a[4]] ^ t[12][a[5]] ^ t[11][a[6]] ^ t[10][a[7]]
	y := t[9][a[8]] ^ t[8][a[9]] ^ t[7][a[10]] ^ t[6][a[11]] ^
		t[5][a[12]] ^ t[4][a[13]] ^ t[3][a[14]] ^ t[2][a[15]]
	return ^(zeroReg18 ^ x ^ y ^ t[1][byte(port>>8)] ^ t[0][byte(port)])
}
