// SPDX-License-Identifier: Apache-2.0
// TmSelect: picks the TM (contract sections 1, 3 and 4).
//
//   dst is a TM's own address ---------------> tm_address_v4/_v6 -> that TM
//   has key --> h = crc32(key bytes)
//               bucket = h & bucket_mask[group] --> bucket_table[group, bucket]
//               (B - 1 for the group's B)           (a member of tm_members)
//   no key, or bucket without entry ---------> default_tm[group]
//
// Every table's action is send_to_tm, which only notes the TM; if the
// packet is steerable, SymdistIngress then sends it there: egress = the
// TM's port, Ethernet destination = the TM's MAC, nothing else changes;
// tm_counter[tm_id] and steer_reason_counter[reason] count it here.
// Mirrored by swmodel/tm_select.go.
//
// For Tofino's stages the lookups run for every packet (SymdistIngress
// applies this control to all of them), and in the order that lets them
// overlap: tm_address first, from the headers; the hash and bucket of the
// key whatever it is; default_tm as soon as the group is known;
// bucket_table last, replacing the default TM on a hit.
#ifndef SYMDIST_TM_SELECT_P4
#define SYMDIST_TM_SELECT_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../size.p4"
#include "../header.p4"

control TmSelect(in headers_t hdr, inout local_metadata_t meta) {
    counter(MAX_TMS, CounterType.packets_and_bytes) tm_counter;
    counter(REASON_COUNT, CounterType.packets_and_bytes) steer_reason_counter;
    action_profile(MAX_TMS) tm_members;

    action send_to_tm(tm_id_t tm_id, port_num_t port, mac_addr_t tm_mac) {
        meta.tm_found = 1;
        meta.tm_id = tm_id;
        meta.tm_port = port;
        meta.tm_mac = tm_mac;
    }

    // A TM's own address (its management or SNAT address) reaches it
    // directly, whatever the group and the hash say.
    table tm_address_v4 {
        key = {
            hdr.ipv4.dst_addr: exact @name("dst_addr");
        }
        actions = {
            send_to_tm;
            @defaultonly NoAction;
        }
        const default_action = NoAction;
        size = MAX_TM_ADDRESSES;
    }

    table tm_address_v6 {
        key = {
            hdr.ipv6.dst_addr: exact @name("dst_addr");
        }
        actions = {
            send_to_tm;
            @defaultonly NoAction;
        }
        const default_action = NoAction;
        size = MAX_TM_ADDRESSES;
    }

    table bucket_table {
        key = {
            meta.group_id: exact @name("group_id");
            meta.bucket:   exact @name("bucket");
        }
        actions = {
            send_to_tm;
        }
        implementation = tm_members;
        size = BUCKET_TABLE_SIZE;
    }

    // The group's bucket count B as the mask B - 1 (B a power of two, set
    // by the controller); BUCKET_COUNT for a group without an entry.
    action set_bucket_mask(bucket_id_t bucket_mask) {
        meta.bucket_mask = bucket_mask;
    }

    table bucket_mask {
        key = {
            meta.group_id: exact @name("group_id");
        }
        actions = {
            set_bucket_mask;
        }
        const default_action = set_bucket_mask((bucket_id_t)(BUCKET_COUNT - 1));
        size = MAX_GROUPS;
    }

    table default_tm {
        key = {
            meta.group_id: exact @name("group_id");
        }
        actions = {
            send_to_tm;
            @defaultonly NoAction;
        }
        const default_action = NoAction;
        size = MAX_GROUPS;
    }

    apply {
        meta.tm_found = 0;
        if (hdr.ipv4.isValid()) {
            if (tm_address_v4.apply().hit) {
                meta.direct = 1;
            } else {
                meta.direct = 0;
            }
        } else {
            if (tm_address_v6.apply().hit) {
                meta.direct = 1;
            } else {
                meta.direct = 0;
            }
        }
        if (meta.direct == 1) {
            meta.reason = REASON_DIRECT;
        }
        // The hash and bucket of every packet's key, whether used or not:
        // no test stands between the key and the bucket_table lookup.
        if (meta.key_is_ipv6 == 0) {
            hash(meta.hash, HashAlgorithm.crc32, 32w0,
                 { meta.key_addr_v4, meta.key_port }, 64w0x100000000);
        } else {
            hash(meta.hash, HashAlgorithm.crc32, 32w0,
                 { meta.key_addr_v6, meta.key_port }, 64w0x100000000);
        }
        bucket_mask.apply();
        meta.bucket = (bucket_id_t)meta.hash & meta.bucket_mask;
        if (meta.direct == 0 && meta.group_id != 0) {
            default_tm.apply();
        }
        if (meta.direct == 0 && meta.group_id != 0 && meta.has_key == 1) {
            bucket_table.apply();
        }
        // Counted here, once, not in send_to_tm: on Tofino a counter is
        // owned by one table, and send_to_tm is the action of four.
        // SymdistIngress sends the packet on the same condition.
        if (meta.steerable == 1 && meta.tm_found == 1) {
            meta.steered = 1;
            tm_counter.count((bit<32>)meta.tm_id);
            steer_reason_counter.count((bit<32>)meta.reason);
        }
    }
}

#endif
