// SPDX-License-Identifier: Apache-2.0
// KeySelect: the direction-independent key of contract section 2.
//
//   TCP/UDP            -> (address, port) of the side with the greater port
//   ports equal        -> no key (REASON_EQUAL_PORTS)
//   ICMP echo request  -> (source address, identifier)
//   ICMP echo reply    -> (destination address, identifier)
//   ICMP error         -> the key of the quoted TCP/UDP packet
//   fragment           -> no key (REASON_FRAGMENT)
//   anything else      -> no key (REASON_OTHER), also for a truncated L4
//                         header: fewer L4 bytes than TCP 20, UDP 8, ICMP 8,
//                         or an ICMP error quoting less than its IP header
//                         plus 8 bytes, counted by the IP length fields.
// Mirrored by swmodel/key_select.go.
//
// Written as three steps for Tofino, where each step that reads a result
// of the one before takes another MAU stage: first every length, port
// comparison and candidate address straight from the headers, all at once;
// then how short the L4 header is; then one decision that reads only those.
// SymdistIngress applies it to every packet, steered or not: the key is
// only used when the packet is steered.
#ifndef SYMDIST_KEY_SELECT_P4
#define SYMDIST_KEY_SELECT_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../header.p4"

control KeySelect(in headers_t hdr, inout local_metadata_t meta) {
    apply {
        meta.has_key = 0;
        meta.key_is_ipv6 = 0;
        meta.key_addr_v4 = 0;
        meta.key_addr_v6 = 0;
        meta.key_port = 0;
        meta.reason = REASON_OTHER;

        // Step 1: from the headers only. One operation a statement, as
        // Tofino's ALUs take them; a < b is written as the saturating
        // b |-| a, non-zero exactly when a < b. Each variable is written
        // once on every path (if/else, no default overwritten later): a
        // second write would wait a stage for the first.
        // l4_len: the bytes after the IP header(s), by their length fields;
        // l4_needed: the L4 bytes the key needs, set by the parser: TCP 20;
        // UDP and ICMP echo 8; an ICMP error 8, the quoted IP header and 8
        // (IPv6: 8 + 40 + 8).
        bit<16> l4_len;
        bit<16> l4_needed;
        if (hdr.ipv4.isValid()) {
            l4_len = hdr.ipv4.total_len - meta.ipv4_header_len;
            l4_needed = meta.l4_needed;
        } else {
            l4_len = hdr.ipv6.payload_len - meta.ipv6_ext_len;
#ifdef __TARGET_TOFINO__
            // The parser could not add the two extension headers' lengths
            // (meta.ipv6_ext_len is the first one's): the second one's is
            // added to the needed side instead, so that this step needs no
            // step before it.
            l4_needed = meta.ipv6_ext1_len + meta.l4_needed;
#else
            l4_needed = meta.l4_needed;
#endif
        }

        // The ports of the packet, or of the quoted packet.
        bit<1> have_ports;
        bit<16> src_port;
        bit<16> dst_port;
        bit<16> src_greater; // non-zero: src_port > dst_port
        bit<16> dst_greater; // non-zero: dst_port > src_port
        if (hdr.tcp.isValid()) {
            have_ports = 1;
            src_port = hdr.tcp.src_port;
            dst_port = hdr.tcp.dst_port;
            src_greater = hdr.tcp.src_port |-| hdr.tcp.dst_port;
            dst_greater = hdr.tcp.dst_port |-| hdr.tcp.src_port;
        } else if (hdr.udp.isValid()) {
            have_ports = 1;
            src_port = hdr.udp.src_port;
            dst_port = hdr.udp.dst_port;
            src_greater = hdr.udp.src_port |-| hdr.udp.dst_port;
            dst_greater = hdr.udp.dst_port |-| hdr.udp.src_port;
        } else if (hdr.inner_l4.isValid()) {
            // The parser takes inner_l4 only after a quoted IPv4 or IPv6
            // header.
            have_ports = 1;
            src_port = hdr.inner_l4.src_port;
            dst_port = hdr.inner_l4.dst_port;
            src_greater = hdr.inner_l4.src_port |-| hdr.inner_l4.dst_port;
            dst_greater = hdr.inner_l4.dst_port |-| hdr.inner_l4.src_port;
        } else {
            have_ports = 0;
            src_port = 0;
            dst_port = 0;
            src_greater = 0;
            dst_greater = 0;
        }
        // Their addresses, and why a key from them is chosen.
        ipv4_addr_t src_v4;
        ipv4_addr_t dst_v4;
        ipv6_addr_t src_v6;
        ipv6_addr_t dst_v6;
        steer_reason_t hashed_reason;
        if (hdr.inner_l4.isValid()) {
            hashed_reason = REASON_ICMP_ERROR;
        } else {
            hashed_reason = REASON_HASHED;
        }
        if (hdr.inner_l4.isValid() && hdr.inner_ipv4.isValid()) {
            src_v4 = hdr.inner_ipv4.src_addr;
            dst_v4 = hdr.inner_ipv4.dst_addr;
        } else {
            src_v4 = hdr.ipv4.src_addr;
            dst_v4 = hdr.ipv4.dst_addr;
        }
        if (hdr.inner_l4.isValid() && hdr.inner_ipv6.isValid()) {
            src_v6 = hdr.inner_ipv6.src_addr;
            dst_v6 = hdr.inner_ipv6.dst_addr;
        } else {
            src_v6 = hdr.ipv6.src_addr;
            dst_v6 = hdr.ipv6.dst_addr;
        }
        // A fragment, or (ICMP error) a quoted fragment: the parser reads
        // the quoted L4 header only where the offset is 0.
        bit<1> is_fragment;
        if (hdr.ipv4.isValid() && hdr.ipv4.more_fragments == 1) {
            is_fragment = 1;
        } else if (hdr.ipv4.isValid() && hdr.ipv4.frag_offset != 0) {
            is_fragment = 1;
        } else if (hdr.ipv6_frag.isValid()) {
            is_fragment = 1;
        } else if (hdr.inner_l4.isValid() && hdr.inner_ipv4.isValid()
                && hdr.inner_ipv4.more_fragments == 1) {
            is_fragment = 1;
        } else {
            is_fragment = 0;
        }
        if (hdr.ipv6.isValid()) {
            meta.key_is_ipv6 = 1;
        }

        // Step 2: non-zero when the L4 header is shorter than the key needs.
        // (Assigned under an if, so that the compiler keeps it a step of
        // its own rather than folding it into the condition that reads it,
        // which a Tofino gateway cannot compute.)
        bit<16> l4_short;
        if (hdr.ipv4.isValid() || hdr.ipv6.isValid()) {
            l4_short = l4_needed |-| l4_len;
        } else {
            l4_short = 0;
        }

        // Step 3: the decision.
        if (is_fragment == 1) {
            meta.reason = REASON_FRAGMENT;
        } else if (l4_short != 0) {
            meta.reason = REASON_OTHER;
        } else if (have_ports == 1) {
            if (src_greater != 0) {
                meta.has_key = 1;
                meta.reason = hashed_reason;
                meta.key_addr_v4 = src_v4;
                meta.key_addr_v6 = src_v6;
                meta.key_port = src_port;
            } else if (dst_greater != 0) {
                meta.has_key = 1;
                meta.reason = hashed_reason;
                meta.key_addr_v4 = dst_v4;
                meta.key_addr_v6 = dst_v6;
                meta.key_port = dst_port;
            } else {
                meta.reason = REASON_EQUAL_PORTS;
            }
        } else if (hdr.icmp_echo.isValid()) {
            meta.has_key = 1;
            meta.reason = REASON_ECHO;
            meta.key_port = hdr.icmp_echo.identifier;
            if (hdr.icmp.type == 8 || hdr.icmp.type == 128) {
                meta.key_addr_v4 = hdr.ipv4.src_addr;
                meta.key_addr_v6 = hdr.ipv6.src_addr;
            } else {
                meta.key_addr_v4 = hdr.ipv4.dst_addr;
                meta.key_addr_v6 = hdr.ipv6.dst_addr;
            }
        }
    }
}

#endif
