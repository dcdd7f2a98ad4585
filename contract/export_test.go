// SPDX-License-Identifier: Apache-2.0

package contract

// HashAddrPort is HashBytes of the key bytes addr (4 or 16 bytes) and port
// (network order), without building them in a buffer. The model hashes
// with HashIPv4Key and HashIPv6Key; the tests hold this generic form (any
// address length) against the CRC of the bytes.
func HashAddrPort(addr []byte, port uint16) uint32 {
	switch len(addr) {
	case 4:
		return HashIPv4Key((*[4]byte)(addr), port)
	case 16:
		return HashIPv6Key((*[16]byte)(addr), port)
	}
	t := &slicing[0]
	crc := update(^uint32(0), addr)
	crc = t[byte(crc)^byte(port>>8)] ^ crc>>8
	crc = t[byte(crc)^byte(port)] ^ crc>>8
	return ^crc
}
