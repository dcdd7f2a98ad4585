// SPDX-License-Identifier: Apache-2.0
// HeaderCheck: decides whether an IP packet is too broken to forward.
// Mirrored by swmodel/header_check.go.
//
// An EtherType of IPv4 or IPv6 whose header is truncated, has the wrong
// version, an IHL under 5, a total length shorter than its header, or (IPv6)
// a payload length shorter than its extension headers is malformed and
// dropped (drop_counter[DROP_MALFORMED]). A truncated L4 header is not
// malformed: KeySelect sends it to the group's default TM.
//
// ICMPv6 types 133-137 (router solicitation and advertisement, neighbour
// solicitation and advertisement, redirect) are link-local control like ARP:
// is_nd marks them, and SymdistIngress bridges them by destination MAC
// instead of steering them (contract v1.1, section 1). Only an ICMPv6 header
// the parser reached counts: one behind a third extension header or a
// Fragment header is not seen, and the packet is steered like any other.
#ifndef SYMDIST_HEADER_CHECK_P4
#define SYMDIST_HEADER_CHECK_P4

#include <core.p4>
#include <v1model.p4>
#include "../define.p4"
#include "../header.p4"

control HeaderCheck(in headers_t hdr, inout local_metadata_t meta) {
    apply {
        meta.malformed = 0;
        meta.is_ip = 0;
        meta.is_nd = 0;
        bit<16> ether_type;
        if (hdr.vlan.isValid()) {
            ether_type = hdr.vlan.ether_type;
        } else {
            ether_type = hdr.ethernet.ether_type;
        }
#ifdef __TARGET_TOFINO__
        // The parser set each extension header's length; here is the sum
        // (under an if: else the compiler folds it into the difference
        // below, two operations in one step).
        if (hdr.ipv6_ext0.isValid()) {
            meta.ipv6_ext_total = meta.ipv6_ext_len + meta.ipv6_ext1_len;
        } else {
            meta.ipv6_ext_total = 0;
        }
#define IPV6_EXT_LEN meta.ipv6_ext_total
#else
#define IPV6_EXT_LEN meta.ipv6_ext_len
#endif
        // Tofino's gateways (the ifs) compare a field with a constant and
        // read at most 4 bytes each, so a < b is written b |-| a != 0
        // (saturating: zero unless a < b), each difference assigned under
        // an if so that the compiler keeps it in a field rather than in the
        // condition. Each variable is written once on every path: a default
        // overwritten later would cost Tofino a stage.
        bit<16> ipv4_short;
        if (hdr.ipv4.isValid()) {
            ipv4_short = meta.ipv4_header_len |-| hdr.ipv4.total_len;
        } else {
            ipv4_short = 0;
        }
        bit<16> ipv6_short;
        if (hdr.ipv6.isValid()) {
            ipv6_short = IPV6_EXT_LEN |-| hdr.ipv6.payload_len;
        } else {
            ipv6_short = 0;
        }
        bit<1> nd;
        if (hdr.icmp.isValid() && (hdr.icmp.type == ICMPV6_ROUTER_SOLICIT
                || hdr.icmp.type == ICMPV6_ROUTER_ADVERT
                || hdr.icmp.type == ICMPV6_NEIGHBOR_SOLICIT
                || hdr.icmp.type == ICMPV6_NEIGHBOR_ADVERT
                || hdr.icmp.type == ICMPV6_REDIRECT)) { // 133-137, one by one for Tofino
            nd = 1;
        } else {
            nd = 0;
        }
        // One decision, reading only the headers and the two differences.
        if (!hdr.ethernet.isValid()) {
            meta.malformed = 1;
        } else if (ether_type == ETHERTYPE_IPV4) {
            if (!hdr.ipv4.isValid() || hdr.ipv4.version != 4 || hdr.ipv4.ihl < 5
                    || (hdr.ipv4.ihl > 5 && !hdr.ipv4_options.isValid())) {
                meta.malformed = 1;
            } else if (ipv4_short != 0) {
                meta.malformed = 1;
            } else {
                meta.is_ip = 1;
            }
        } else if (ether_type == ETHERTYPE_IPV6) {
            if (!hdr.ipv6.isValid() || hdr.ipv6.version != 6) {
                meta.malformed = 1;
            } else if (ipv6_short != 0) {
                meta.malformed = 1;
            } else {
                meta.is_ip = 1;
                meta.is_nd = nd;
            }
        }
    }
}

#endif
