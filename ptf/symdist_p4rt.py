# SPDX-License-Identifier: Apache-2.0
"""P4Runtime from Python for symdist's PTF tests.

Everything is looked up by name in the P4Info (p4info/symdist.p4info.txtpb):
no table, action, field or counter ID is written here, so a recompiled
program with new IDs needs no change. The entity builders are named after
the tables, actions, action profile and counters of p4src/symdist.p4
(docs/contract.md says what each one does).

The P4Runtime Python modules (p4.v1.p4runtime_pb2 and friends) are found by
import_protos(): already importable (a `p4runtime` package), in
$P4RUNTIME_PY, or where PI (`./configure --with-proto`) installs or builds
them. `python3 symdist_p4rt.py --check` says which are used, or what is
missing, in one line.
"""

import glob
import ipaddress
import os
import queue
import sys
import threading
import time

# --- finding the protobuf modules ---------------------------------------

_P4_PREFIX = os.environ.get("SYMDIST_P4_PREFIX", "/opt/p4")  # make toolchain's PREFIX
_CANDIDATES = [
    _P4_PREFIX + "/lib/python3*/site-packages",
    _P4_PREFIX + "/lib/python3*/dist-packages",
    "/opt/p4/lib/python3*/site-packages",
    "/opt/p4/lib/python3*/dist-packages",
    "/usr/local/lib/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/opt/p4/src/PI/proto/py_out",  # PI's build tree (--with-proto)
]


def _candidate_dirs():
    dirs = []
    env = os.environ.get("P4RUNTIME_PY")
    if env:
        dirs.extend(env.split(os.pathsep))
    for pat in _CANDIDATES:
        dirs.extend(sorted(glob.glob(pat)))
    return [d for d in dirs if os.path.isfile(os.path.join(d, "p4", "v1", "p4runtime_pb2.py"))]


_protos = None


def import_protos():
    """Returns (p4runtime_pb2, p4runtime_pb2_grpc, p4info_pb2, status_pb2),
    or raises ImportError naming what is missing."""
    global _protos
    if _protos is not None:
        return _protos
    try:
        import grpc  # noqa: F401
    except ImportError:
        raise ImportError("python3-grpcio (Debian) or grpcio is not installed")
    try:
        # Debian's google.protobuf first: it makes `google` a namespace
        # package; PI's tree has a google/__init__.py that would hide it.
        import google.protobuf  # noqa: F401
        import google
    except ImportError:
        raise ImportError("python3-protobuf (Debian) or protobuf is not installed")
    try:
        from p4.v1 import p4runtime_pb2  # noqa: F401
        from google.rpc import status_pb2  # noqa: F401
    except ImportError:
        dirs = _candidate_dirs()
        if not dirs:
            raise ImportError("no P4Runtime Python modules (p4/v1/p4runtime_pb2.py): build PI with "
                              "--with-proto, or set P4RUNTIME_PY to a directory holding p4/ and google/rpc/")
        d = dirs[0]
        sys.path.append(d)
        rpc = os.path.join(d, "google")
        if os.path.isdir(os.path.join(rpc, "rpc")) and rpc not in list(google.__path__):
            google.__path__.append(rpc)
        for m in [m for m in sys.modules if m == "p4" or m.startswith("p4.")]:
            del sys.modules[m]
    try:
        from p4.v1 import p4runtime_pb2, p4runtime_pb2_grpc
        from p4.config.v1 import p4info_pb2
        from google.rpc import status_pb2
    except ImportError as e:
        raise ImportError("P4Runtime Python modules unusable: %s" % e)
    except Exception as e:  # a protobuf runtime too old for the generated code
        raise ImportError("P4Runtime Python modules do not load with this protobuf: %s" % e)
    _protos = (p4runtime_pb2, p4runtime_pb2_grpc, p4info_pb2, status_pb2)
    return _protos


def protos_source():
    p4runtime_pb2 = import_protos()[0]
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(p4runtime_pb2.__file__))))


# --- names of the program (p4src/symdist.p4) -----------------------------

# Port roles (docs/contract.md section 1).
ROLE_EDGE, ROLE_TM, ROLE_PEER = 1, 2, 3
CPU_PORT = 255
FLOOD_GROUP = 1
BUCKETS = 4096
# steer_reason_counter and drop_counter indexes (contract sections 2 and 7).
REASONS = {"hashed": 1, "equal_ports": 2, "fragment": 3, "other_protocol": 4,
           "icmp_error": 5, "echo": 6, "direct": 7}
DROPS = {"unknown_port": 1, "malformed": 2, "no_tm": 3}

P = "SymdistIngress."
T_PORT_ROLE = P + "port_role.port_role"
T_GROUP_CLASSIFIER = P + "group_classifier.group_classifier"
T_TM_ADDRESS_V4 = P + "tm_select.tm_address_v4"
T_TM_ADDRESS_V6 = P + "tm_select.tm_address_v6"
T_BUCKET_TABLE = P + "tm_select.bucket_table"
T_DEFAULT_TM = P + "tm_select.default_tm"
T_L2_FORWARD = P + "l2_forward.l2_forward"
A_SET_PORT_ROLE = P + "port_role.set_port_role"
A_SET_GROUP = P + "group_classifier.set_group"
A_SEND_TO_TM = P + "tm_select.send_to_tm"
A_FORWARD = P + "l2_forward.forward"
A_FLOOD = P + "l2_forward.flood"
AP_TM_MEMBERS = P + "tm_select.tm_members"
C_TM_COUNTER = P + "tm_select.tm_counter"
C_STEER_REASON_COUNTER = P + "tm_select.steer_reason_counter"
C_DROP_COUNTER = P + "drop_counter"
PKT_OUT = "packet_out"


def _width(bits):
    return (bits + 7) // 8


def encode(value, bits):
    """A P4Runtime bytestring of a value for a field of the given width:
    ints, MAC strings, IPv4/IPv6 address strings (IPv4 in 128 bits goes in
    the low 32 bits, as the classifier keys want) or bytes."""
    n = _width(bits)
    if isinstance(value, bytes):
        if len(value) > n:
            raise ValueError("%r longer than %d bits" % (value, bits))
        return value.rjust(n, b"\0")
    if isinstance(value, str):
        if value.count(":") == 5 and all(len(x) <= 2 for x in value.split(":")):
            value = int(value.replace(":", ""), 16)
        else:
            value = int(ipaddress.ip_address(value))
    if value < 0 or value >= 1 << bits:
        raise ValueError("%r does not fit in %d bits" % (value, bits))
    return value.to_bytes(n, "big")


class P4Info:
    """The P4Info of the program, with lookups by name (full or alias)."""

    def __init__(self, path):
        from google.protobuf import text_format
        p4info_pb2 = import_protos()[2]
        self.path = path
        self.info = p4info_pb2.P4Info()
        with open(path) as f:
            text_format.Merge(f.read(), self.info)
        self._by_name = {}
        self._ids = {}
        for kind in ("tables", "actions", "action_profiles", "counters", "controller_packet_metadata"):
            for obj in getattr(self.info, kind):
                pre = obj.preamble
                self._by_name[(kind, pre.name)] = obj
                self._by_name.setdefault((kind, pre.alias), obj)
                self._ids[pre.id] = (kind, pre.name)

    def _get(self, kind, name):
        try:
            return self._by_name[(kind, name)]
        except KeyError:
            raise KeyError("%s: no %s named %r" % (self.path, kind[:-1].replace("_", " "), name))

    def table(self, name):
        return self._get("tables", name)

    def action(self, name):
        return self._get("actions", name)

    def action_profile(self, name):
        return self._get("action_profiles", name)

    def counter(self, name):
        return self._get("counters", name)

    def packet_metadata(self, name):
        return self._get("controller_packet_metadata", name)

    def name_of(self, id_):
        return self._ids.get(id_, (None, None))[1]

    @staticmethod
    def field(obj, name, attr="match_fields"):
        for f in getattr(obj, attr):
            if f.name == name:
                return f
        raise KeyError("%s has no %s %r" % (obj.preamble.name, attr, name))

    def check_ids(self, updates):
        """Names every ID in updates that this P4Info does not have (a state
        file written for another compilation of the program)."""
        bad = set()
        for u in updates:
            e = u.entity
            which = e.WhichOneof("entity")
            if which == "table_entry":
                ids = [e.table_entry.table_id]
                a = e.table_entry.action
                if a.WhichOneof("type") == "action":
                    ids.append(a.action.action_id)
            elif which == "action_profile_member":
                ids = [e.action_profile_member.action_profile_id, e.action_profile_member.action.action_id]
            else:
                ids = []
            bad.update(i for i in ids if i not in self._ids)
        return sorted(bad)


class Entities:
    """Builders of P4Runtime entities, named after the program's tables,
    actions, action profile and counters."""

    def __init__(self, p4info):
        self.p4info = p4info
        self.pb = import_protos()[0]

    # actions
    def _action(self, name, **params):
        a = self.p4info.action(name)
        act = self.pb.Action(action_id=a.preamble.id)
        for p in a.params:
            if p.name not in params:
                raise KeyError("action %s needs parameter %s" % (name, p.name))
            act.params.add(param_id=p.id, value=encode(params.pop(p.name), p.bitwidth))
        if params:
            raise KeyError("action %s has no parameter %s" % (name, ", ".join(params)))
        return act

    def set_port_role(self, role):
        return self._action(A_SET_PORT_ROLE, role=role)

    def set_group(self, group_id):
        return self._action(A_SET_GROUP, group_id=group_id)

    def send_to_tm(self, tm_id, port, tm_mac):
        return self._action(A_SEND_TO_TM, tm_id=tm_id, port=port, tm_mac=tm_mac)

    def forward(self, port):
        return self._action(A_FORWARD, port=port)

    def flood(self):
        return self._action(A_FLOOD)

    # tables
    def _entry(self, table, match, action=None, member_id=None, priority=0):
        t = self.p4info.table(table)
        e = self.pb.TableEntry(table_id=t.preamble.id, priority=priority)
        for name, m in match.items():
            f = self.p4info.field(t, name)
            fm = e.match.add(field_id=f.id)
            mt = import_protos()[2].MatchField.MatchType.Name(f.match_type)
            if mt == "EXACT":
                fm.exact.value = encode(m, f.bitwidth)
            elif mt == "TERNARY":  # (value, mask)
                fm.ternary.value = encode(m[0], f.bitwidth)
                fm.ternary.mask = encode(m[1], f.bitwidth)
            else:
                raise ValueError("match type %s of %s.%s not handled" % (mt, table, name))
        if member_id is not None:
            e.action.action_profile_member_id = member_id
        elif action is not None:
            e.action.action.CopyFrom(action)
        return self.pb.Entity(table_entry=e)

    def port_role(self, port, role=None):
        return self._entry(T_PORT_ROLE, {"ingress_port": port},
                           None if role is None else self.set_port_role(role))

    def group_classifier(self, group_id, priority, vlan_id=None, ip_version=None, ip_src=None,
                         ip_dst=None, ip_proto=None):
        """A classifier rule; ip_src/ip_dst are prefixes ('10.0.0.0/8',
        '2001:db8::/32'). Ternary keys left None are wildcards."""
        m = {}
        if vlan_id is not None:
            m["vlan_id"] = (vlan_id, 0xFFF)
        if ip_version is not None:
            m["ip_version"] = (ip_version, 0xF)
        for key, pfx in (("ip_src", ip_src), ("ip_dst", ip_dst)):
            if pfx is not None:
                net = ipaddress.ip_network(pfx)
                bits = net.max_prefixlen
                mask = ((1 << net.prefixlen) - 1) << (bits - net.prefixlen)
                m[key] = (int(net.network_address), mask)
        if ip_proto is not None:
            m["ip_proto"] = (ip_proto, 0xFF)
        return self._entry(T_GROUP_CLASSIFIER, m, self.set_group(group_id), priority=priority)

    def tm_address_v4(self, addr, tm_id=None, port=None, tm_mac=None):
        act = None if tm_id is None else self.send_to_tm(tm_id, port, tm_mac)
        return self._entry(T_TM_ADDRESS_V4, {"dst_addr": addr}, act)

    def tm_address_v6(self, addr, tm_id=None, port=None, tm_mac=None):
        act = None if tm_id is None else self.send_to_tm(tm_id, port, tm_mac)
        return self._entry(T_TM_ADDRESS_V6, {"dst_addr": addr}, act)

    def bucket_table(self, group_id, bucket, member_id=None):
        return self._entry(T_BUCKET_TABLE, {"group_id": group_id, "bucket": bucket}, member_id=member_id)

    def default_tm(self, group_id, tm_id=None, port=None, tm_mac=None):
        act = None if tm_id is None else self.send_to_tm(tm_id, port, tm_mac)
        return self._entry(T_DEFAULT_TM, {"group_id": group_id}, act)

    def l2_forward(self, dst_addr, port=None):
        return self._entry(T_L2_FORWARD, {"dst_addr": dst_addr}, None if port is None else self.forward(port))

    # action profile
    def tm_members(self, member_id, tm_id=None, port=None, tm_mac=None):
        ap = self.p4info.action_profile(AP_TM_MEMBERS)
        m = self.pb.ActionProfileMember(action_profile_id=ap.preamble.id, member_id=member_id)
        if tm_id is not None:
            m.action.CopyFrom(self.send_to_tm(tm_id, port, tm_mac))
        return self.pb.Entity(action_profile_member=m)

    # packet replication
    def flood_group(self, ports, group_id=FLOOD_GROUP):
        g = self.pb.MulticastGroupEntry(multicast_group_id=group_id)
        for p in ports:
            g.replicas.add(egress_port=p, instance=1)
        return self.pb.Entity(packet_replication_engine_entry=self.pb.PacketReplicationEngineEntry(multicast_group_entry=g))

    # counters
    def _counter(self, name, index):
        c = self.p4info.counter(name)
        return self.pb.Entity(counter_entry=self.pb.CounterEntry(counter_id=c.preamble.id, index=self.pb.Index(index=index)))

    def tm_counter(self, tm_id):
        return self._counter(C_TM_COUNTER, tm_id)

    def steer_reason_counter(self, reason):
        return self._counter(C_STEER_REASON_COUNTER, REASONS.get(reason, reason))

    def drop_counter(self, reason):
        return self._counter(C_DROP_COUNTER, DROPS.get(reason, reason))

    # packet-out
    def packet_out(self, payload, egress_port):
        cpm = self.p4info.packet_metadata(PKT_OUT)
        po = self.pb.PacketOut(payload=payload)
        for md in cpm.metadata:
            value = egress_port if md.name == "egress_port" else 0
            po.metadata.add(metadata_id=md.id, value=encode(value, md.bitwidth))
        return po


class P4RuntimeError(Exception):
    pass


def _describe_rpc_error(e, updates=None, p4info=None):
    """The gRPC error of a Write, with each failed update (P4Runtime puts
    one p4.v1.Error per update in the status details)."""
    p4runtime_pb2, _, _, status_pb2 = import_protos()
    msg = "%s: %s" % (e.code().name, e.details())
    try:
        md = dict(e.trailing_metadata() or ())
        raw = md.get("grpc-status-details-bin")
        if raw:
            st = status_pb2.Status.FromString(raw)
            lines = []
            for i, d in enumerate(st.details):
                err = p4runtime_pb2.Error()
                d.Unpack(err)
                if err.canonical_code != 0:
                    what = ""
                    if updates is not None and i < len(updates):
                        what = " (%s)" % str(updates[i]).replace("\n", " ")[:200]
                    lines.append("update %d: %s%s" % (i, err.message or err.canonical_code, what))
            if lines:
                msg += "\n  " + "\n  ".join(lines[:20])
    except Exception:
        pass
    return msg


class Switch:
    """A P4Runtime session with one switch: arbitration (primary), the
    pipeline, writes and reads."""

    def __init__(self, address, device_id=1, election_id=1, timeout=20):
        import grpc
        p4runtime_pb2, p4runtime_pb2_grpc, _, _ = import_protos()
        self.pb = p4runtime_pb2
        self.device_id = device_id
        self.election_id = election_id
        self.channel = grpc.insecure_channel(address, options=[
            ("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)])
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self._requests = queue.Queue()
        self.responses = queue.Queue()
        self._stream = self.stub.StreamChannel(iter(self._requests.get, None))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        arb = p4runtime_pb2.MasterArbitrationUpdate(device_id=device_id)
        arb.election_id.low = election_id
        self._requests.put(p4runtime_pb2.StreamMessageRequest(arbitration=arb))
        deadline = time.time() + timeout
        while True:
            try:
                r = self.responses.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                raise P4RuntimeError("%s: no arbitration answer in %ds" % (address, timeout))
            if r is None:
                raise P4RuntimeError("%s: stream closed during arbitration" % address)
            if r.WhichOneof("update") == "arbitration":
                if r.arbitration.status.code != 0:
                    raise P4RuntimeError("%s: not primary: %s" % (address, r.arbitration.status.message))
                break

    def _read(self):
        try:
            for r in self._stream:
                self.responses.put(r)
        except Exception:
            pass
        self.responses.put(None)

    def close(self):
        self._requests.put(None)
        try:
            self._stream.cancel()
        except Exception:
            pass
        self.channel.close()

    def _election(self, msg):
        msg.election_id.low = self.election_id
        msg.device_id = self.device_id

    def set_pipeline(self, p4info, device_config):
        req = self.pb.SetForwardingPipelineConfigRequest(
            action=self.pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        self._election(req)
        req.config.p4info.CopyFrom(p4info.info)
        req.config.p4_device_config = device_config
        req.config.cookie.cookie = 0x5D
        import grpc
        try:
            self.stub.SetForwardingPipelineConfig(req, timeout=60)
        except grpc.RpcError as e:
            raise P4RuntimeError("SetForwardingPipelineConfig: " + _describe_rpc_error(e))

    def _write(self, updates, p4info=None):
        import grpc
        req = self.pb.WriteRequest()
        self._election(req)
        req.updates.extend(updates)
        try:
            self.stub.Write(req, timeout=60)
        except grpc.RpcError as e:
            raise P4RuntimeError("Write: " + _describe_rpc_error(e, updates, p4info))

    def write(self, updates):
        """Writes Update messages (in one Write)."""
        self._write(list(updates))

    def insert(self, *entities):
        self._write([self.pb.Update(type=self.pb.Update.INSERT, entity=e) for e in entities])

    def modify(self, *entities):
        self._write([self.pb.Update(type=self.pb.Update.MODIFY, entity=e) for e in entities])

    def delete(self, *entities):
        self._write([self.pb.Update(type=self.pb.Update.DELETE, entity=e) for e in entities])

    def read(self, *entities):
        req = self.pb.ReadRequest(device_id=self.device_id)
        req.entities.extend(entities)
        out = []
        for resp in self.stub.Read(req, timeout=30):
            out.extend(resp.entities)
        return out

    def counter(self, entity):
        """(packets, bytes) of one counter index."""
        got = self.read(entity)
        if not got:
            return (0, 0)
        d = got[0].counter_entry.data
        return (d.packet_count, d.byte_count)

    def packet_out(self, po):
        self._requests.put(self.pb.StreamMessageRequest(packet=po))


def read_state(path):
    """The updates of a WriteRequest in text format (test/vectors/state.txtpb)."""
    from google.protobuf import text_format
    p4runtime_pb2 = import_protos()[0]
    req = p4runtime_pb2.WriteRequest()
    with open(path) as f:
        text_format.Merge(f.read(), req)
    return list(req.updates)


def main(argv):
    if argv[1:2] == ["--check"]:
        try:
            import_protos()
        except ImportError as e:
            print(e)
            return 1
        print("P4Runtime Python modules from %s" % protos_source())
        return 0
    print("usage: symdist_p4rt.py --check")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
