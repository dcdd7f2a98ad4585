// SPDX-License-Identifier: Apache-2.0

package swmodel

// deparse mirrors control SymdistDeparser (p4src/include/deparser.p4): it
// emits the valid headers in parse order, then the payload. As only
// ethernet.dst_addr can change and packet_out is removed in ingress, that
// is the received frame after packet_out, with the TM's MAC as destination
// when the packet was steered.
func deparse(out []byte, b []byte, h *headers, m *localMetadata) []byte {
	if valid(h.packetOut) {
		b = b[packetOutLen:]
	}
	start := len(out)
	out = append(out, b...)
	if m.steered {
		copy(out[start:start+6], m.tmMAC[:])
	}
	return out
}
