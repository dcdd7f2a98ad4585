# SPDX-License-Identifier: Apache-2.0
"""The shared vector files (test/vectors/), read as the Go tests read them.

symdist.stf, in the style of p4c's STF files:

    # <case name>
    packet <ingress port> <frame hex>
    expect <egress port> <frame hex>     (one per copy; none: dropped)
    trace <group, key, bucket, reason, TM, or bridged / drop=...>

state.txtpb: the switch state the cases assume, a p4.v1.WriteRequest in text
format (read with symdist_p4rt.read_state).

Nothing here is a copy of a case: every packet and outcome comes from the
files, which `make vectors` regenerates from vectors/cases.go.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STF = os.path.join(ROOT, "test", "vectors", "symdist.stf")
STATE = os.path.join(ROOT, "test", "vectors", "state.txtpb")


class Vector:
    def __init__(self, name, port, frame, line):
        self.name = name
        self.port = port
        self.frame = frame
        self.expect = []  # [(port, frame)], sorted by port
        self.trace = ""
        self.line = line

    def traced(self):
        """The trace as a dict: group, key, bucket, reason, tm, drop; a bare
        word (bridged) maps to True."""
        out = {}
        for w in self.trace.split():
            k, eq, v = w.partition("=")
            out[k] = v if eq else True
        return out

    def __repr__(self):
        return "<vector %r (line %d)>" % (self.name, self.line)


def read_stf(path=STF):
    vs = []
    name = ""
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            text = raw.strip()
            if not text:
                continue
            if text.startswith("#"):
                name = text[1:].strip()
                continue
            verb, _, rest = text.partition(" ")
            if verb in ("packet", "expect"):
                ps, _, hx = rest.partition(" ")
                try:
                    port = int(ps)
                    frame = bytes.fromhex(hx)
                except ValueError as e:
                    raise ValueError("%s:%d: %s" % (path, lineno, e))
                if not 0 <= port < 512:
                    raise ValueError("%s:%d: port %d out of range" % (path, lineno, port))
                if verb == "packet":
                    vs.append(Vector(name, port, frame, lineno))
                    continue
                if not vs:
                    raise ValueError("%s:%d: expect before any packet" % (path, lineno))
                vs[-1].expect.append((port, frame))
                vs[-1].expect.sort(key=lambda o: o[0])
            elif verb == "trace":
                if not vs:
                    raise ValueError("%s:%d: trace before any packet" % (path, lineno))
                vs[-1].trace = rest
            else:
                raise ValueError("%s:%d: unknown directive %r" % (path, lineno, verb))
    return vs


def crosses_veth(frame):
    """Whether Linux delivers the frame through a veth: a frame whose
    EtherType says 802.1Q/802.1ad but that ends inside the tag is dropped by
    the kernel before any switch sees it (test/conformance skips it too)."""
    if len(frame) >= 14 and frame[12:14] in (b"\x81\x00", b"\x88\xa8"):
        return len(frame) >= 18
    return True
