// SPDX-License-Identifier: Apache-2.0
// SymdistDeparser: emits the headers as parsed. Only ethernet.dst_addr is
// ever changed, so a forwarded frame is the received frame with, when
// steered, the TM's MAC as destination. Mirrored by swmodel/deparser.go.
#ifndef SYMDIST_DEPARSER_P4
#define SYMDIST_DEPARSER_P4

#include <core.p4>
#include <v1model.p4>
#include "header.p4"

control SymdistDeparser(packet_out packet, in headers_t hdr) {
    apply {
        packet.emit(hdr.ethernet);
        packet.emit(hdr.vlan);
        packet.emit(hdr.arp);
        packet.emit(hdr.ipv4);
        packet.emit(hdr.ipv4_options);
        packet.emit(hdr.ipv6);
        packet.emit(hdr.ipv6_ext0);
        packet.emit(hdr.ipv6_ext0_data);
        packet.emit(hdr.ipv6_ext1);
        packet.emit(hdr.ipv6_ext1_data);
        packet.emit(hdr.ipv6_frag);
        packet.emit(hdr.tcp);
        packet.emit(hdr.udp);
        packet.emit(hdr.icmp);
        packet.emit(hdr.icmp_echo);
        packet.emit(hdr.icmp_error);
        packet.emit(hdr.inner_ipv4);
        packet.emit(hdr.inner_ipv4_options);
        packet.emit(hdr.inner_ipv6);
        packet.emit(hdr.inner_l4);
    }
}

#endif
