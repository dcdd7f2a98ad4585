// SPDX-License-Identifier: Apache-2.0

package swmodel

// portRole mirrors control PortRole (p4src/include/control/port_role.p4):
// table port_role, exact on the ingress port, action set_port_role.
func (t *tables) portRole(m *localMetadata, sm *standardMetadata) {
	m.portRole = RoleNone
	if int(sm.ingressPort) < len(t.portRoles) {
		m.portRole = t.portRoles[sm.ingressPort]
	}
}
