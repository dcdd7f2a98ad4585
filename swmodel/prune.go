// SPDX-License-Identifier: Apache-2.0

package swmodel

// prune mirrors control Prune (p4src/include/control/prune.p4): nothing
// leaves by the port it came in by.
func prune(egressPort, ingressPort uint16) bool {
	return egressPort == ingressPort
}
