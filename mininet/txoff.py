#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""txoff.py IFNAME...: turn TX checksum offload off (what `ethtool -K IFNAME
tx off` does, by the SIOCETHTOOL ioctl), for hosts without ethtool.

A veth otherwise hands TCP/UDP packets over with their checksum left for
"hardware" to fill in; a switch reading them with AF_PACKET or pcap (bmv2,
the software switch) forwards them unfinished and the receiver drops them.
"""
import array
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM = 0x16, 0x17


def ethtool_value(sock, ifname, cmd, data=0):
    v = array.array("I", [cmd, data])  # struct ethtool_value
    ifr = struct.pack("16sP", ifname.encode()[:15], v.buffer_info()[0])
    fcntl.ioctl(sock, SIOCETHTOOL, ifr)
    return v[1]


def main(names):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rc = 0
    for name in names:
        try:
            ethtool_value(s, name, ETHTOOL_STXCSUM, 0)
            if ethtool_value(s, name, ETHTOOL_GTXCSUM):
                raise OSError("still on")
        except OSError as e:
            print("txoff: %s: %s" % (name, e), file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
