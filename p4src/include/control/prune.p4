// SPDX-License-Identifier: Apache-2.0
// Prune (egress): a bridge never sends a frame back out of the port it came
// in by; this removes the flooded copy for the ingress port and any unicast
// hairpin. Mirrored by swmodel/prune.go.
#ifndef SYMDIST_PRUNE_P4
#define SYMDIST_PRUNE_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../header.p4"

control Prune(inout standard_metadata_t standard_metadata) {
    apply {
        if (standard_metadata.egress_port == standard_metadata.ingress_port) {
            mark_to_drop(standard_metadata);
        }
    }
}

#endif
