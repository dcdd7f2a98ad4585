// SPDX-License-Identifier: Apache-2.0
// symdist: a symmetric flow distributor (US patent 7,395,349) for v1model.
//
// Both directions of every flow reach the same traffic manager (TM) without
// per-flow state: the key is the (address, port) of the side with the greater
// port, hashed with CRC-32 into a per-group bucket table. The rule is pinned
// down in docs/contract.md; swmodel/ is the same pipeline in Go.
//
//  SymdistParser
//      |
//  SymdistIngress
//      packet_out from CPU? ----------------------------> its egress_port
//      HeaderCheck    malformed IP? ----------------------> drop (MALFORMED)
//      PortRole       port_role          no role? -------> drop (UNKNOWN_PORT)
//      steerable = edge port, IP, not ND, unicast destination MAC
//      GroupClassifier  group_classifier   -> group_id
//      KeySelect        (no table)         -> key, reason
//      TmSelect         tm_address_v4/_v6, bucket_table (tm_members),
//                       default_tm         -> TM port + MAC, if steerable
//                       steerable, group but no TM? --> drop (NO_TM)
//      not steered:
//      L2Forward        l2_forward         -> port, or flood FLOOD_GROUP
//  SymdistEgress
//      Prune            never back out of the ingress port
//  SymdistDeparser

#include <core.p4>
#include <v1model.p4>

#include "include/define.p4"
#include "include/size.p4"
#include "include/header.p4"
#include "include/parser.p4"
#include "include/control/header_check.p4"
#include "include/control/port_role.p4"
#include "include/control/group_classifier.p4"
#include "include/control/key_select.p4"
#include "include/control/tm_select.p4"
#include "include/control/l2_forward.p4"
#include "include/control/prune.p4"
#include "include/deparser.p4"

control SymdistVerifyChecksum(inout headers_t hdr, inout local_metadata_t meta) {
    // Nothing that a checksum covers is changed, so none is verified or updated.
    apply { }
}

control SymdistIngress(inout headers_t hdr,
                       inout local_metadata_t meta,
                       inout standard_metadata_t standard_metadata) {
    HeaderCheck() header_check;
    PortRole() port_role;
    GroupClassifier() group_classifier;
    KeySelect() key_select;
    TmSelect() tm_select;
    L2Forward() l2_forward;
    counter(DROP_CAUSE_COUNT, CounterType.packets_and_bytes) drop_counter;

    action drop(drop_cause_t cause) {
        meta.drop_cause = cause;
        mark_to_drop(standard_metadata);
    }

    apply {
        meta.drop_cause = 0;
        meta.steered = 0;
        if (hdr.packet_out.isValid()) {
            standard_metadata.egress_spec = PORT_BITS(hdr.packet_out.egress_port);
            hdr.packet_out.setInvalid();
        } else {
            header_check.apply(hdr, meta);
            port_role.apply(meta, standard_metadata);
            // A frame to a group MAC (broadcast, ND, multicast) is bridged,
            // and so is neighbour discovery to a unicast MAC (is_nd).
            meta.steerable = 0;
            if (meta.port_role == ROLE_EDGE && meta.is_ip == 1 && meta.is_nd == 0
                    && hdr.ethernet.dst_addr[40:40] == 0) {
                meta.steerable = 1;
            }
            // The group, the key, the TM and the destination MAC are looked
            // up for every packet, not only where they are used: on Tofino
            // each step that waits for the one before costs one of 12
            // stages, and the lookups need not wait for HeaderCheck. What
            // happens to the packet is decided once, below.
            group_classifier.apply(hdr, meta);
            key_select.apply(hdr, meta);
            tm_select.apply(hdr, meta);
            l2_forward.apply(hdr, meta);
            if (meta.port_role == ROLE_NONE) {
                drop(DROP_UNKNOWN_PORT);
            } else if (meta.malformed == 1) {
                drop(DROP_MALFORMED);
            } else if (meta.steerable == 1 && meta.tm_found == 1) {
                // To the TM that TmSelect found (and counted, meta.steered):
                // its port, its MAC as the destination.
                standard_metadata.egress_spec = PORT_BITS(meta.tm_port);
                hdr.ethernet.dst_addr = meta.tm_mac;
            } else if (meta.steerable == 1 && meta.group_id != 0) {
                drop(DROP_NO_TM); // a group, but no TM for the packet
            } else if (meta.l2_hit == 1) {
                standard_metadata.egress_spec = PORT_BITS(meta.l2_port);
            } else {
                standard_metadata.mcast_grp = FLOOD_GROUP;
            }
        }
        // Counted once here, not in drop: on Tofino a counter is owned by
        // one table, and drop is called from three.
        if (meta.drop_cause != 0) {
            drop_counter.count((bit<32>)meta.drop_cause);
        }
    }
}

control SymdistEgress(inout headers_t hdr,
                      inout local_metadata_t meta,
                      inout standard_metadata_t standard_metadata) {
    Prune() prune;

    apply {
        prune.apply(standard_metadata);
    }
}

control SymdistComputeChecksum(inout headers_t hdr, inout local_metadata_t meta) {
    apply { }
}

V1Switch(SymdistParser(),
         SymdistVerifyChecksum(),
         SymdistIngress(),
         SymdistEgress(),
         SymdistComputeChecksum(),
         SymdistDeparser()) main;
