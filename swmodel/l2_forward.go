// SPDX-License-Identifier: Apache-2.0

package swmodel

// l2Forward mirrors control L2Forward (p4src/include/control/l2_forward.p4):
// table l2_forward, exact on the destination MAC, action forward, default
// action flood. (The P4 looks it up for every packet and applies the result
// at the end of SymdistIngress; the model looks up only when it is used.)
func (t *tables) l2Forward(b []byte, h *headers, sm *standardMetadata) {
	if port, ok := t.l2[macKey(b[h.ethernet:])]; ok {
		sm.egressSpec = port
		return
	}
	sm.mcastGrp = FloodGroup
}

func macKey(b []byte) uint64 {
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 |
		uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}
