// SPDX-License-Identifier: Apache-2.0
// PortRole: the role of the ingress port (edge, tm, peer), from the
// controller. A port with no entry has ROLE_NONE and its packets are dropped.
// Mirrored by swmodel/port_role.go.
#ifndef SYMDIST_PORT_ROLE_P4
#define SYMDIST_PORT_ROLE_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../size.p4"
#include "../header.p4"

control PortRole(inout local_metadata_t meta,
                 in standard_metadata_t standard_metadata) {
    action set_port_role(port_role_t role) {
        meta.port_role = role;
    }

    table port_role {
        key = {
            AS_PORT(standard_metadata.ingress_port): exact @name("ingress_port");
        }
        actions = {
            set_port_role;
            @defaultonly NoAction;
        }
        const default_action = NoAction;
        size = MAX_PORTS;
    }

    apply {
        meta.port_role = ROLE_NONE;
        port_role.apply();
    }
}

#endif
