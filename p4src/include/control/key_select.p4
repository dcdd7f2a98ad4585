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
#ifndef SYMDIST_KEY_SELECT_P4
#define SYMDIST_KEY_SELECT_P4

control KeySelect(in headers_t hdr, inout local_metadata_t meta) {
    apply {
        meta.has_key = 0;
        meta.key_is_ipv6 = 0;
        meta.key_addr_v4 = 0;
        meta.key_addr_v6 = 0;
        meta.key_port = 0;
        meta.reason = REASON_OTHER;

        bit<16> l4_len = 0;
        bit<1> is_fragment = 0;
        // One operation a statement, as Tofino's ALUs take them; the
        // comparisons become one-bit flags first (see HeaderCheck).
        bit<16> ipv4_header_len = 10w0 ++ hdr.ipv4.ihl ++ 2w0; // ihl * 4
        if (hdr.ipv4.isValid()) {
            l4_len = hdr.ipv4.total_len - ipv4_header_len;
            if (hdr.ipv4.more_fragments == 1 || hdr.ipv4.frag_offset != 0) {
                is_fragment = 1;
            }
        } else {
            l4_len = hdr.ipv6.payload_len - meta.ipv6_ext_len;
            if (hdr.ipv6_frag.isValid()) {
                is_fragment = 1;
            }
        }
        // An ICMP error needs 8 bytes, the quoted IP header and 8 more:
        // quoted_short is non-zero when l4_len < 16 + quoted_header_len.
        // (Each step under its own if, so the compiler keeps it a step.)
        bit<16> quoted_header_len = 0;
        bit<16> quoted_room = 0;
        bit<16> quoted_short = 0;
        if (hdr.inner_ipv4.isValid()) {
            quoted_header_len = 10w0 ++ hdr.inner_ipv4.ihl ++ 2w0;
            quoted_room = l4_len |-| 16;
        }
        if (hdr.inner_ipv4.isValid()) {
            quoted_short = quoted_header_len |-| quoted_room;
        }
        // Whether the L4 length holds 8, 20 (TCP) and 56 (an ICMPv6 error
        // quoting an IPv6 header and 8 bytes) bytes.
        bit<1> l4_has_8 = 0;
        if (l4_len >= 8) {
            l4_has_8 = 1;
        }
        bit<16> l4_short_20 = 0;
        bit<16> l4_short_56 = 0;
        if (hdr.tcp.isValid()) {
            l4_short_20 = 20 |-| l4_len;
        }
        if (hdr.inner_ipv6.isValid()) {
            l4_short_56 = 56 |-| l4_len;
        }

        // The two sides of the packet (or of the quoted packet) whose ports
        // are compared.
        bit<1> have_ports = 0;
        bit<16> src_port = 0;
        bit<16> dst_port = 0;
        bit<1> is_ipv6 = 0;
        ipv4_addr_t src_v4 = hdr.ipv4.src_addr;
        ipv4_addr_t dst_v4 = hdr.ipv4.dst_addr;
        ipv6_addr_t src_v6 = hdr.ipv6.src_addr;
        ipv6_addr_t dst_v6 = hdr.ipv6.dst_addr;
        steer_reason_t hashed_reason = REASON_HASHED;
        if (hdr.ipv6.isValid()) {
            is_ipv6 = 1;
        }

        if (is_fragment == 1) {
            meta.reason = REASON_FRAGMENT;
        } else if (hdr.tcp.isValid() && l4_short_20 == 0) {
            have_ports = 1;
            src_port = hdr.tcp.src_port;
            dst_port = hdr.tcp.dst_port;
        } else if (hdr.udp.isValid() && l4_has_8 == 1) {
            have_ports = 1;
            src_port = hdr.udp.src_port;
            dst_port = hdr.udp.dst_port;
        } else if (hdr.icmp_echo.isValid() && l4_has_8 == 1) {
            meta.has_key = 1;
            meta.key_is_ipv6 = is_ipv6;
            meta.key_port = hdr.icmp_echo.identifier;
            meta.reason = REASON_ECHO;
            if (hdr.icmp.type == 8 || hdr.icmp.type == 128) {
                meta.key_addr_v4 = src_v4;
                meta.key_addr_v6 = src_v6;
            } else {
                meta.key_addr_v4 = dst_v4;
                meta.key_addr_v6 = dst_v6;
            }
        } else if (hdr.inner_l4.isValid() && hdr.inner_ipv4.isValid()) {
            if (hdr.inner_ipv4.more_fragments == 1) {
                meta.reason = REASON_FRAGMENT;
            } else if (quoted_short == 0) {
                have_ports = 1;
                src_port = hdr.inner_l4.src_port;
                dst_port = hdr.inner_l4.dst_port;
                src_v4 = hdr.inner_ipv4.src_addr;
                dst_v4 = hdr.inner_ipv4.dst_addr;
                hashed_reason = REASON_ICMP_ERROR;
            }
        } else if (hdr.inner_l4.isValid() && hdr.inner_ipv6.isValid()) {
            if (l4_short_56 == 0) {
                have_ports = 1;
                src_port = hdr.inner_l4.src_port;
                dst_port = hdr.inner_l4.dst_port;
                src_v6 = hdr.inner_ipv6.src_addr;
                dst_v6 = hdr.inner_ipv6.dst_addr;
                hashed_reason = REASON_ICMP_ERROR;
            }
        }

        bit<16> src_greater = 0; // non-zero: src_port > dst_port
        if (have_ports == 1) {
            src_greater = src_port |-| dst_port;
        }
        if (have_ports == 1) {
            if (src_port == dst_port) {
                meta.reason = REASON_EQUAL_PORTS;
            } else {
                meta.has_key = 1;
                meta.key_is_ipv6 = is_ipv6;
                meta.reason = hashed_reason;
                if (src_greater != 0) {
                    meta.key_addr_v4 = src_v4;
                    meta.key_addr_v6 = src_v6;
                    meta.key_port = src_port;
                } else {
                    meta.key_addr_v4 = dst_v4;
                    meta.key_addr_v6 = dst_v6;
                    meta.key_port = dst_port;
                }
            }
        }
    }
}

#endif
