# SPDX-License-Identifier: Apache-2.0
"""PTF tests of p4src/symdist.p4 on bmv2 (or the Go software switch).

The packet cases are read from test/vectors/symdist.stf and the switch state
from test/vectors/state.txtpb, the files the Go tests read; the tests below
group them by what they show (steering for IPv4 and IPv6, equal ports, ICMP
echo and errors, fragments, groups, the direct path to a TM, L2 forwarding
and ARP flooding, malformed packets) and add what a file of single packets
cannot show: counters, action-profile member changes, bucket moves, the
tables written and removed at run time, packet-out.

Test parameters (ptf --test-params): grpc_addr (127.0.0.1:9559), device_id
(1), p4info, device_config (the bmv2 JSON), stf, state.
"""

import logging
import os
import time
import zlib

import ptf
import ptf.testutils as tu
from ptf.base_tests import BaseTest

import symdist_p4rt as rt
import symdist_vectors as sv

log = logging.getLogger("symdist")


def param(name, default):
    return tu.test_param_get(name, default)


# --- the switch, programmed once for the whole run ------------------------

_ctx = None


class Context:
    """The P4Runtime session, the P4Info, the state and the vectors."""

    def __init__(self):
        root = sv.ROOT
        self.p4info = rt.P4Info(param("p4info", os.path.join(root, "p4info", "symdist.p4info.txtpb")))
        self.ent = rt.Entities(self.p4info)
        self.vectors = sv.read_stf(param("stf", sv.STF))
        state_path = param("state", sv.STATE)
        self.state = rt.read_state(state_path)
        bad = self.p4info.check_ids(self.state)
        if bad:
            raise AssertionError("%s holds IDs the P4Info %s does not have (%s): it was generated for "
                                 "another compilation; run `make vectors`" % (state_path, self.p4info.path, bad[:5]))
        self.fixture = Fixture(self.p4info, self.state)
        addr = param("grpc_addr", "127.0.0.1:9559")
        self.sw = rt.Switch(addr, device_id=int(param("device_id", 1)), election_id=1)
        cfg = param("device_config", os.path.join(root, "p4info", "symdist.json"))
        with open(cfg, "rb") as f:
            self.sw.set_pipeline(self.p4info, f.read())
        t0 = time.time()
        self.sw.write(self.state)
        log.info("pipeline pushed and %d updates of %s written to %s in %.1fs",
                 len(self.state), state_path, addr, time.time() - t0)


def context():
    global _ctx
    if _ctx is None:
        _ctx = Context()
    return _ctx


class Fixture:
    """What state.txtpb writes, decoded by name: port roles, flood ports,
    action-profile members, bucket table, default TMs."""

    def __init__(self, p4info, updates):
        self.roles, self.members, self.buckets, self.default_tm = {}, {}, {}, {}
        self.flood_ports = []
        for u in updates:
            e = u.entity
            kind = e.WhichOneof("entity")
            if kind == "table_entry":
                te = e.table_entry
                table = p4info.table(p4info.name_of(te.table_id))
                keys = {}
                for m in te.match:
                    name = next(f.name for f in table.match_fields if f.id == m.field_id)
                    keys[name] = int.from_bytes(m.exact.value, "big") if m.HasField("exact") else None
                tname = table.preamble.name
                if tname == rt.T_PORT_ROLE:
                    self.roles[keys["ingress_port"]] = self._params(p4info, te.action.action)["role"]
                elif tname == rt.T_BUCKET_TABLE:
                    self.buckets[(keys["group_id"], keys["bucket"])] = te.action.action_profile_member_id
                elif tname == rt.T_DEFAULT_TM:
                    self.default_tm[keys["group_id"]] = self._params(p4info, te.action.action)
            elif kind == "action_profile_member":
                m = e.action_profile_member
                self.members[m.member_id] = self._params(p4info, m.action)
            elif kind == "packet_replication_engine_entry":
                g = e.packet_replication_engine_entry.multicast_group_entry
                if g.multicast_group_id == rt.FLOOD_GROUP:
                    self.flood_ports = sorted(r.egress_port for r in g.replicas)

    @staticmethod
    def _params(p4info, action):
        a = p4info.action(p4info.name_of(action.action_id))
        out = {}
        for p in action.params:
            name = next(x.name for x in a.params if x.id == p.param_id)
            out[name] = int.from_bytes(p.value, "big")
        return out

    def owner(self, group, key_bytes):
        """(bucket, member id, send_to_tm params) of a key in a group."""
        bucket = (zlib.crc32(key_bytes) & 0xFFFFFFFF) % rt.BUCKETS
        mid = self.buckets.get((group, bucket))
        return bucket, mid, self.members.get(mid)


def mac_bytes(v):
    return v.to_bytes(6, "big") if isinstance(v, int) else bytes.fromhex(v.replace(":", ""))


def to_tm(frame, tm_mac):
    """The frame as send_to_tm leaves it: only the destination MAC changes."""
    return mac_bytes(tm_mac) + frame[6:]


# --- sending and comparing ------------------------------------------------

def _match(exp, got):
    """ptf's rule: a frame shorter than 60 bytes may come back padded."""
    if len(exp) < 60:
        got = got[:len(exp)]
    return exp == got


class SymdistTest(BaseTest):
    def setUp(self):
        BaseTest.setUp(self)
        self.dataplane = ptf.dataplane_instance
        self.ctx = context()
        self.sw, self.ent, self.fx = self.ctx.sw, self.ctx.ent, self.ctx.fixture
        self.dataplane.flush()

    def exchange(self, port, frame, n_expected, timeout=3.0, quiet=0.2):
        """Sends frame on port; returns every (port, frame) that came out:
        n_expected of them or what came within timeout, then whatever else
        comes within quiet seconds."""
        tu.send_packet(self, port, frame)
        got = []
        deadline = time.time() + timeout
        while len(got) < n_expected:
            left = deadline - time.time()
            if left <= 0:
                break
            r = self.dataplane.poll(device_number=0, port_number=None, timeout=left)
            if isinstance(r, self.dataplane.PollFailure):
                break
            got.append((r.port, bytes(r.packet)))
        while True:
            r = self.dataplane.poll(device_number=0, port_number=None, timeout=quiet)
            if isinstance(r, self.dataplane.PollFailure):
                break
            got.append((r.port, bytes(r.packet)))
        return got

    def differences(self, expect, got):
        """What differs between the expected and the received (port, frame)
        lists, as text; empty when they agree."""
        left = list(got)
        missing = []
        for port, frame in expect:
            for i, (gp, gf) in enumerate(left):
                if gp == port and _match(frame, gf):
                    del left[i]
                    break
            else:
                missing.append((port, frame))
        lines = ["  missing on port %d: %.96s" % (p, f.hex()) for p, f in missing]
        lines += ["  extra   on port %d: %.96s" % (p, f.hex()) for p, f in left]
        return "\n".join(lines)

    def check(self, what, port, frame, expect):
        d = self.differences(expect, self.exchange(port, frame, len(expect)))
        if d:
            self.fail("%s: sent on port %d, want %s\n%s" % (what, port, [p for p, _ in expect] or "a drop", d))

    def vector(self, pred, what):
        for v in self.ctx.vectors:
            if pred(v):
                return v
        self.fail("no vector in %s is %s" % (sv.STF, what))


# --- the vector files, by category ---------------------------------------

def category(v):
    n, t = v.name, v.traced()
    if t.get("reason") == "direct":
        return "direct"
    if "icmp" in n or "echo" in n:
        if "error" not in n and ("echo request" in n or "echo reply" in n or "echo header" in n):
            return "icmp_echo"
        return "icmp_errors"
    if t.get("reason") == "equal_ports" or "equal" in n:
        return "equal_ports"
    if t.get("reason") == "fragment" or "fragment" in n:
        return "fragments"
    if "vlan" in n or "qinq" in n or "88a8" in n or "group" in n or t.get("drop") == "no_tm":
        return "groups"
    if t.get("bridged") or "arp" in n:
        return "l2"
    if t.get("drop") in ("malformed", "unknown_port") or t.get("reason") == "other_protocol":
        return "malformed_other"
    if n.startswith("ipv4"):
        return "steering_v4"
    if n.startswith("ipv6"):
        return "steering_v6"
    return "other"


CATEGORIES = ["steering_v4", "steering_v6", "equal_ports", "icmp_echo", "icmp_errors", "fragments",
              "groups", "direct", "l2", "malformed_other", "other"]


class VectorTest(SymdistTest):
    """Runs every vector of one category; reports each that differs. (Not a
    test itself: ptf collects the classes with a runTest.)"""
    category = None

    def run_vectors(self):
        vs = [v for v in self.ctx.vectors if category(v) == self.category]
        if self.category == "other" and not vs:
            return  # every vector is in a named category
        self.assertTrue(vs, "no vector of category %s in %s" % (self.category, sv.STF))
        failures, skipped = [], []
        for v in vs:
            if not sv.crosses_veth(v.frame):
                skipped.append(v.name)
                continue
            got = self.exchange(v.port, v.frame, len(v.expect))
            d = self.differences(v.expect, got)
            if d:
                failures.append("%r (%s line %d; %s):\n%s" % (v.name, os.path.basename(sv.STF), v.line, v.trace, d))
        for name in skipped:
            log.info("vector %r not sent: Linux drops a VLAN frame too short for its tag", name)
        log.info("%s: %d vectors sent, %d differ, %d cannot cross a veth",
                 self.category, len(vs) - len(skipped), len(failures), len(skipped))
        if failures:
            self.fail("%d of %d vectors differ:\n%s" % (len(failures), len(vs) - len(skipped), "\n".join(failures)))


def _vector_class(name, cat, doc):
    return type(name, (VectorTest,), {"category": cat, "__doc__": doc, "runTest": VectorTest.run_vectors})


SteeringIPv4 = _vector_class("SteeringIPv4", "steering_v4", "IPv4 TCP/UDP hashed on the greater-port side, both directions")
SteeringIPv6 = _vector_class("SteeringIPv6", "steering_v6", "IPv6 TCP/UDP hashed on the greater-port side, both directions")
EqualPorts = _vector_class("EqualPorts", "equal_ports", "equal ports: the group's default TM")
IcmpEcho = _vector_class("IcmpEcho", "icmp_echo", "ICMP echo request and reply: (address, identifier)")
IcmpErrors = _vector_class("IcmpErrors", "icmp_errors", "ICMP errors: the key of the quoted packet")
Fragments = _vector_class("Fragments", "fragments", "IPv4 and IPv6 fragments: the default TM")
Groups = _vector_class("Groups", "groups", "classification into groups: VLAN, prefixes, no group, group without TMs")
DirectToTM = _vector_class("DirectToTM", "direct", "packets to a TM's own address go to that TM")
L2AndArp = _vector_class("L2AndArp", "l2", "L2 forwarding by destination MAC, flooding of ARP and unknown MACs")
MalformedAndOther = _vector_class("MalformedAndOther", "malformed_other", "malformed, truncated, other protocols, ports without a role")
OtherVectors = _vector_class("OtherVectors", "other", "any vector no category above claims")


# --- counters -------------------------------------------------------------

class Counters(SymdistTest):
    """steer_reason_counter, tm_counter and drop_counter count each vector's
    packet (packets and bytes) as its trace says."""

    def runTest(self):
        seen, errors = set(), []
        for v in self.ctx.vectors:
            t = v.traced()
            key = t.get("reason") or t.get("drop")
            if not key or key in seen or not sv.crosses_veth(v.frame):
                continue
            seen.add(key)
            if "reason" in t:
                ents = [("steer_reason_counter[%s]" % key, self.ent.steer_reason_counter(key))]
                if "tm" in t:
                    ents.append(("tm_counter[%s]" % t["tm"], self.ent.tm_counter(int(t["tm"]))))
            else:
                ents = [("drop_counter[%s]" % key, self.ent.drop_counter(key))]
            before = [self.sw.counter(e) for _, e in ents]
            d = self.differences(v.expect, self.exchange(v.port, v.frame, len(v.expect)))
            if d:
                errors.append("%r: outputs differ:\n%s" % (v.name, d))
            deadline = time.time() + 2
            while True:
                after = [self.sw.counter(e) for _, e in ents]
                deltas = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before)]
                if all(dp == 1 for dp, _ in deltas) or time.time() > deadline:
                    break
                time.sleep(0.05)
            for (name, _), (dp, db) in zip(ents, deltas):
                if (dp, db) != (1, len(v.frame)):
                    errors.append("%r: %s went up by %d packets, %d bytes; want 1, %d"
                                  % (v.name, name, dp, db, len(v.frame)))
                else:
                    log.info("%r: %s +1 packet, +%d bytes", v.name, name, db)
        want = set(rt.REASONS) | set(rt.DROPS)
        self.assertEqual(seen, want, "the vectors should cover every reason and drop: missing %s" % (want - seen))
        if errors:
            self.fail("\n".join(errors))


# --- action-profile members and buckets -----------------------------------

class ActionProfileMembers(SymdistTest):
    """Modifying one member of tm_members moves every bucket that points at
    it (one write); a bucket re-pointed at a new member follows it; the
    member can be removed once no bucket uses it."""

    def runTest(self):
        fx = self.fx
        v = self.vector(lambda v: v.port == 1 and v.traced().get("reason") == "hashed" and "bucket" in v.traced()
                        and v.expect, "a hashed packet from port 1")
        t = v.traced()
        group, bucket = int(t["group"]), int(t["bucket"])
        mid = fx.buckets[(group, bucket)]
        old = fx.members[mid]
        self.assertEqual(v.expect, [(old["port"], to_tm(v.frame, old["tm_mac"]))],
                         "the vector and state.txtpb disagree on bucket %d" % bucket)
        # Another vector whose bucket uses the same member.
        others = [w for w in self.ctx.vectors if w is not v and w.port == 1 and "bucket" in w.traced()
                  and w.traced().get("reason") == "hashed" and w.expect
                  and fx.buckets.get((int(w.traced()["group"]), int(w.traced()["bucket"]))) == mid
                  and int(w.traced()["bucket"]) != bucket]
        other_ports = sorted(p for p, r in fx.roles.items() if r == rt.ROLE_TM and p != old["port"])
        new_port, new_mac = other_ports[0], "02:00:00:00:0e:0e"
        # 1. MODIFY the member: both buckets follow.
        self.sw.modify(self.ent.tm_members(mid, old["tm_id"], new_port, new_mac))
        try:
            self.check("member %d modified to port %d" % (mid, new_port), v.port, v.frame,
                       [(new_port, to_tm(v.frame, new_mac))])
            if others:
                w = others[0]
                self.check("another bucket of member %d (%r)" % (mid, w.name), w.port, w.frame,
                           [(new_port, to_tm(w.frame, new_mac))])
        finally:
            self.sw.modify(self.ent.tm_members(mid, old["tm_id"], old["port"], old["tm_mac"]))
        self.check("member %d restored" % mid, v.port, v.frame, v.expect)
        # 2. A new member, and the bucket moved to it, and back.
        new_mid = max(fx.members) + 1
        self.sw.insert(self.ent.tm_members(new_mid, 999, new_port, new_mac))
        try:
            self.sw.modify(self.ent.bucket_table(group, bucket, new_mid))
            try:
                self.check("bucket %d moved to new member %d" % (bucket, new_mid), v.port, v.frame,
                           [(new_port, to_tm(v.frame, new_mac))])
                before = self.sw.counter(self.ent.tm_counter(999))
                self.exchange(v.port, v.frame, 1)
                after = self.sw.counter(self.ent.tm_counter(999))
                self.assertEqual(after[0] - before[0], 1, "tm_counter[999] of the new member's tm_id")
            finally:
                self.sw.modify(self.ent.bucket_table(group, bucket, mid))
            self.check("bucket %d back on member %d" % (bucket, mid), v.port, v.frame, v.expect)
        finally:
            self.sw.delete(self.ent.tm_members(new_mid))
        self.check("after the new member was deleted", v.port, v.frame, v.expect)


class DefaultTM(SymdistTest):
    """default_tm of a group decides the packets without a key."""

    def runTest(self):
        v = self.vector(lambda v: v.port == 1 and v.traced().get("reason") == "equal_ports" and v.expect
                        and "group" in v.traced(), "an equal-ports packet from port 1")
        group = int(v.traced()["group"])
        old = self.fx.default_tm[group]
        other = next(m for m in self.fx.members.values() if m["port"] != old["port"])
        self.sw.modify(self.ent.default_tm(group, other["tm_id"], other["port"], other["tm_mac"]))
        try:
            self.check("default TM of group %d moved to port %d" % (group, other["port"]), v.port, v.frame,
                       [(other["port"], to_tm(v.frame, other["tm_mac"]))])
        finally:
            self.sw.modify(self.ent.default_tm(group, old["tm_id"], old["port"], old["tm_mac"]))
        self.check("default TM restored", v.port, v.frame, v.expect)


# --- tables written at run time ------------------------------------------

def _ipv4_key(frame):
    """(group-independent) key bytes of an untagged IPv4 TCP/UDP frame: the
    greater-port side's address and port (docs/contract.md section 2)."""
    ihl = (frame[14] & 0x0F) * 4
    src, dst = frame[26:30], frame[30:34]
    l4 = 14 + ihl
    sport, dport = int.from_bytes(frame[l4:l4 + 2], "big"), int.from_bytes(frame[l4 + 2:l4 + 4], "big")
    assert sport != dport
    return src + frame[l4:l4 + 2] if sport > dport else dst + frame[l4 + 2:l4 + 4]


class GroupClassifierRules(SymdistTest):
    """A group_classifier rule written at run time brings a packet that was
    in no group into the group (hashed to the bucket's TM); removing it
    bridges the packet again."""

    def runTest(self):
        v = self.vector(lambda v: v.port == 1 and "outside every group" in v.name and v.name.startswith("ipv4"),
                        "an IPv4 packet outside every group")
        dst = ".".join(str(b) for b in v.frame[30:34])
        rule = self.ent.group_classifier(1, 30, ip_version=4, ip_dst=dst + "/32")
        bucket, mid, m = self.fx.owner(1, _ipv4_key(v.frame))
        self.assertIsNotNone(m, "bucket %d of group 1 has no member in state.txtpb" % bucket)
        self.sw.insert(rule)
        try:
            self.check("rule dst %s/32 -> group 1 (bucket %d)" % (dst, bucket), v.port, v.frame,
                       [(m["port"], to_tm(v.frame, m["tm_mac"]))])
        finally:
            self.sw.delete(rule)
        self.check("rule removed: bridged again", v.port, v.frame, v.expect)


class TMAddress(SymdistTest):
    """tm_address_v4 written at run time sends packets to that address to
    the TM (reason direct), whatever their group."""

    def runTest(self):
        v = self.vector(lambda v: v.port == 1 and "outside every group" in v.name and v.name.startswith("ipv4"),
                        "an IPv4 packet outside every group")
        dst = ".".join(str(b) for b in v.frame[30:34])
        m = self.fx.members[max(self.fx.members)]
        entry = self.ent.tm_address_v4(dst, m["tm_id"], m["port"], m["tm_mac"])
        before = self.sw.counter(self.ent.steer_reason_counter("direct"))
        self.sw.insert(entry)
        try:
            self.check("tm_address_v4 %s -> port %d" % (dst, m["port"]), v.port, v.frame,
                       [(m["port"], to_tm(v.frame, m["tm_mac"]))])
        finally:
            self.sw.delete(self.ent.tm_address_v4(dst))
        after = self.sw.counter(self.ent.steer_reason_counter("direct"))
        self.assertEqual(after[0] - before[0], 1, "steer_reason_counter[direct]")
        self.check("tm_address_v4 removed: bridged again", v.port, v.frame, v.expect)


class L2Forward(SymdistTest):
    """l2_forward written at run time forwards by destination MAC; without
    the entry the frame is flooded (default action flood) to the flood
    group's ports except the one it came in by."""

    def runTest(self):
        from scapy.all import Ether, IP, UDP
        mac = "02:00:00:00:0d:0d"
        ports = self.fx.flood_ports
        ingress = next(p for p, r in sorted(self.fx.roles.items()) if r == rt.ROLE_TM)
        out = next(p for p in ports if p != ingress)
        frame = bytes(Ether(dst=mac, src="02:00:00:00:01:01") / IP(src="10.9.9.9", dst="10.9.9.10") /
                      UDP(sport=1000, dport=2000) / (b"l2" * 20))
        self.sw.insert(self.ent.l2_forward(mac, out))
        try:
            self.check("l2_forward %s -> %d" % (mac, out), ingress, frame, [(out, frame)])
        finally:
            self.sw.delete(self.ent.l2_forward(mac))
        self.check("l2_forward removed: flooded", ingress, frame, [(p, frame) for p in ports if p != ingress])


class PortRoles(SymdistTest):
    """A port without a port_role entry drops (unknown_port); given the edge
    role it steers like the client port."""

    def runTest(self):
        v = self.vector(lambda v: v.traced().get("drop") == "unknown_port", "a packet from a port without a role")
        same = self.vector(lambda w: w.port != v.port and w.frame == v.frame and self.fx.roles.get(w.port) == rt.ROLE_EDGE,
                           "the same frame from an edge port")
        self.sw.insert(self.ent.port_role(v.port, rt.ROLE_EDGE))
        try:
            self.check("port %d given the edge role" % v.port, v.port, v.frame, same.expect)
        finally:
            self.sw.delete(self.ent.port_role(v.port))
        self.check("port %d without a role again" % v.port, v.port, v.frame, [])


class PacketOut(SymdistTest):
    """A packet-out frame from the controller leaves by the port its
    packet_out header names, unchanged."""

    def runTest(self):
        v = self.ctx.vectors[0]
        for port in sorted(self.fx.roles)[:3]:
            self.sw.packet_out(self.ent.packet_out(v.frame, port))
            got = []
            deadline = time.time() + 3
            while not got and time.time() < deadline:
                r = self.dataplane.poll(device_number=0, port_number=None, timeout=deadline - time.time())
                if isinstance(r, self.dataplane.PollFailure):
                    break
                got.append((r.port, bytes(r.packet)))
            while True:
                r = self.dataplane.poll(device_number=0, port_number=None, timeout=0.2)
                if isinstance(r, self.dataplane.PollFailure):
                    break
                got.append((r.port, bytes(r.packet)))
            d = self.differences([(port, v.frame)], got)
            if d:
                self.fail("packet-out to port %d:\n%s" % (port, d))
