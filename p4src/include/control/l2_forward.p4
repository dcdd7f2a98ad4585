// SPDX-License-Identifier: Apache-2.0
// L2Forward: everything not steered goes by destination MAC (packets from tm
// and peer ports, unclassified and multicast traffic). An unknown or group
// destination is flooded through FLOOD_GROUP, so ARP and ND work without
// static neighbours; Prune keeps a flooded copy off its ingress port.
// Mirrored by swmodel/l2_forward.go.
#ifndef SYMDIST_L2_FORWARD_P4
#define SYMDIST_L2_FORWARD_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../size.p4"
#include "../header.p4"

control L2Forward(in headers_t hdr, inout local_metadata_t meta) {
    // The actions only note the port: SymdistIngress looks the destination
    // up for every packet (Tofino's stages) and forwards by it, or floods
    // through FLOOD_GROUP, only when the packet is not steered or dropped.
    action forward(port_num_t port) {
        meta.l2_hit = 1;
        meta.l2_port = port;
    }

    action flood() {
        meta.l2_hit = 0;
    }

    table l2_forward {
        key = {
            hdr.ethernet.dst_addr: exact @name("dst_addr");
        }
        actions = {
            forward;
            @defaultonly flood;
        }
        const default_action = flood;
        size = MAX_L2_ENTRIES;
    }

    apply {
        l2_forward.apply();
    }
}

#endif
