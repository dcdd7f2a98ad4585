// SPDX-License-Identifier: Apache-2.0
// GroupClassifier: puts an IP packet into a group (patent claim 29) by VLAN,
// IP version, source and destination prefix and protocol. group_id 0 means
// no group: the packet is bridged, not steered.
//
// Both directions of a flow must land in the same group: the controller
// writes every rule together with its mirror image (source and destination
// swapped), so a packet and its reply match rules of the same group.
// Mirrored by swmodel/group_classifier.go.
#ifndef SYMDIST_GROUP_CLASSIFIER_P4
#define SYMDIST_GROUP_CLASSIFIER_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../size.p4"
#include "../header.p4"

control GroupClassifier(in headers_t hdr, inout local_metadata_t meta) {
    action set_group(group_id_t group_id) {
        meta.group_id = group_id;
    }

    table group_classifier {
        key = {
            meta.vlan_id:    ternary @name("vlan_id");
            meta.ip_version: ternary @name("ip_version");
            meta.ip_src:     ternary @name("ip_src");
            meta.ip_dst:     ternary @name("ip_dst");
            meta.ip_proto:   ternary @name("ip_proto");
        }
        actions = {
            set_group;
            @defaultonly NoAction;
        }
        const default_action = NoAction;
        size = MAX_CLASSIFIER_RULES;
    }

    apply {
        meta.group_id = 0;
        // Each key field written once on every path (a default overwritten
        // later would cost Tofino a stage).
        if (hdr.vlan.isValid()) {
            meta.vlan_id = hdr.vlan.vlan_id;
        } else {
            meta.vlan_id = 0;
        }
        if (hdr.ipv4.isValid()) {
            meta.ip_version = 4;
            meta.ip_src = (ipv6_addr_t)hdr.ipv4.src_addr;
            meta.ip_dst = (ipv6_addr_t)hdr.ipv4.dst_addr;
        } else {
            meta.ip_version = 6;
            meta.ip_src = hdr.ipv6.src_addr;
            meta.ip_dst = hdr.ipv6.dst_addr;
        }
        // The protocol; for IPv6 the last Next Header the parser reached.
        if (hdr.ipv4.isValid()) {
            meta.ip_proto = hdr.ipv4.protocol;
        } else if (hdr.ipv6_frag.isValid()) {
            meta.ip_proto = hdr.ipv6_frag.next_hdr;
        } else if (hdr.ipv6_ext1.isValid()) {
            meta.ip_proto = hdr.ipv6_ext1.next_hdr;
        } else if (hdr.ipv6_ext0.isValid()) {
            meta.ip_proto = hdr.ipv6_ext0.next_hdr;
        } else {
            meta.ip_proto = hdr.ipv6.next_hdr;
        }
        group_classifier.apply();
    }
}

#endif
