# SPDX-License-Identifier: Apache-2.0
"""The patent's figure 3 as a Mininet topology, with P4Runtime switches.

    client (10.1.0.1-4)                                   server (10.2.0.10:8080)
       | port 1                                               | port 1
     [s1: client-side distributor] 5 ===== 5 [s2: server-side distributor]
       | ports 2,3,4                              ports 2,3,4 |
       +------------- tm1, tm2, tm3 (one leg on each) --------+
             VIP 10.0.0.100:80 on lo, one shared SNAT 10.3.0.1

The addressing is the Go lab's (lab/lab.go): the TMs' client legs are
10.0.1.N/8 with MAC 02:00:00:00:01:0N, their server legs hold the shared
SNAT address 10.3.0.1/16 with MAC 02:00:00:00:02:0N and route 10.2.0.0/16
through it from the SNAT address; the server has 10.3.0.0/16 on-link.

The switches run in the root namespace: bmv2 `simple_switch_grpc` with no
program (the controller pushes p4info/symdist.json), or the Go software
switch `symdist switch`. No Open vSwitch and no OpenFlow controller are
involved (Mininet(controller=None)).
"""

import os
import socket
import subprocess
import time

from mininet.node import Switch
from mininet.topo import Topo

VIP = "10.0.0.100"
SNAT = "10.3.0.1"
SERVER = "10.2.0.10"
SERVER_PORT = 8080
CLIENTS = ["10.1.0.%d" % i for i in range(1, 5)]
NUM_TMS = 3
CPU_PORT = 255
PEER_PORT = 5
# The client's and the server's MACs (the Go lab's), in the switches' l2
# entries so that frames to them are not flooded to every port.
CLIENT_MAC = "02:00:00:00:c1:01"
SERVER_MAC = "02:00:00:00:5e:01"


def tm_mac(side, i):
    """MAC of TM i's leg on side 1 (client side) or 2 (server side)."""
    return "02:00:00:00:%02x:%02x" % (side, i)


def tm_port(i):
    """TM i's port on both distributors: 2, 3, 4."""
    return i + 1


class P4RuntimeSwitch(Switch):
    """A switch served over P4Runtime, started on the Mininet ports it has.

    kind: "bmv2" runs simple_switch_grpc --no-p4 (gRPC on 127.0.0.1:grpc_port,
    its Thrift port thrift_port, CPU port 255, a log file per switch);
    "soft" runs `symdist switch` (the Go pipeline on AF_PACKET).
    Port numbers are the Mininet port numbers of the links (port1/port2 of
    addLink), which are the numbers of the controller config.
    """

    def __init__(self, name, kind="bmv2", grpc_port=9559, thrift_port=None, device_id=1, log_dir="/tmp",
                 symdist=None, log_level="info", on_start=None, **params):
        params.setdefault("dpid", "%x" % device_id)
        Switch.__init__(self, name, **params)
        self.kind = kind
        self.grpc_port = grpc_port
        self.thrift_port = thrift_port
        self.device_id = device_id
        self.log_dir = log_dir
        self.symdist = symdist
        self.log_level = log_level
        self.proc = None
        self.on_start = on_start  # called once the process exists (run.py records its PID)
        # bmv2 appends .txt to its --log-file.
        self.logfile = os.path.join(log_dir, name + (".txt" if kind == "bmv2" else ".log"))
        self.outfile = os.path.join(log_dir, name + ".out")

    @property
    def grpc_addr(self):
        return "127.0.0.1:%d" % self.grpc_port

    def port_map(self):
        """[(port, interface name)] of the data ports."""
        return sorted((port, intf.name) for intf, port in self.ports.items() if port > 0 and intf.name != "lo")

    def command(self):
        if self.kind == "bmv2":
            args = ["simple_switch_grpc", "--device-id", str(self.device_id), "--no-p4",
                    "--log-file", os.path.join(self.log_dir, self.name), "--log-flush", "--log-level", self.log_level]
            if self.thrift_port is not None:
                args += ["--thrift-port", str(self.thrift_port)]
            for port, name in self.port_map():
                args += ["-i", "%d@%s" % (port, name)]
            return args + ["--", "--grpc-server-addr", self.grpc_addr, "--cpu-port", str(CPU_PORT)]
        args = [self.symdist, "switch", "--grpc", self.grpc_addr, "--device-id", str(self.device_id)]
        for port, name in self.port_map():
            args += ["--port", "%d=%s" % (port, name)]
        return args

    def start(self, controllers):
        # The kernel must send nothing of its own on the switch's ports.
        for _, name in self.port_map():
            try:
                with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name, "w") as f:
                    f.write("1")
            except OSError:
                pass
        args = self.command()
        out = open(self.outfile if self.kind == "bmv2" else self.logfile, "w")
        out.write("# %s\n" % " ".join(args))
        out.flush()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        if self.on_start:
            self.on_start()
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("%s: %s exited with %s; see %s" % (self.name, args[0], self.proc.returncode, out.name))
            try:
                socket.create_connection(("127.0.0.1", self.grpc_port), timeout=0.5).close()
                return
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("%s: no P4Runtime server on %s after 30s; see %s" % (self.name, self.grpc_addr, out.name))
            time.sleep(0.1)

    def stop_process(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self, deleteIntfs=True):
        self.stop_process()
        Switch.stop(self, deleteIntfs)

    def connected(self):
        return self.proc is not None and self.proc.poll() is None


class Figure3(Topo):
    """client - s1 - tm1..tm3 - s2 - server, and the peer link s1:5 - s2:5.

    switch_params: extra parameters for s1 and s2 (kind, grpc_port, ...),
    a dict per switch name."""

    def build(self, switch_params=None):
        sp = switch_params or {}
        s1 = self.addSwitch("s1", cls=P4RuntimeSwitch, **sp.get("s1", {}))
        s2 = self.addSwitch("s2", cls=P4RuntimeSwitch, **sp.get("s2", {}))
        client = self.addHost("client", ip=None)
        server = self.addHost("server", ip=None)
        self.addLink(s1, client, port1=1, intfName2="client-eth0", addr2=CLIENT_MAC)
        self.addLink(s2, server, port1=1, intfName2="server-eth0", addr2=SERVER_MAC)
        for i in range(1, NUM_TMS + 1):
            tm = self.addHost("tm%d" % i, ip=None)
            self.addLink(s1, tm, port1=tm_port(i), intfName2="tm%d-cli" % i, addr2=tm_mac(1, i))
            self.addLink(s2, tm, port1=tm_port(i), intfName2="tm%d-srv" % i, addr2=tm_mac(2, i))
        self.addLink(s1, s2, port1=PEER_PORT, port2=PEER_PORT)


def host_commands(name):
    """The commands that give host `name` its addresses and routes (run in
    its namespace), after IPv6 and TX checksum offload are off."""
    if name == "client":
        return [["ip", "addr", "add", "%s/8" % a, "dev", "client-eth0"] for a in CLIENTS]
    if name == "server":
        return [["ip", "addr", "add", "%s/16" % SERVER, "dev", "server-eth0"],
                ["ip", "route", "add", "10.3.0.0/16", "dev", "server-eth0"]]
    i = int(name[2:])
    cli, srv = "tm%d-cli" % i, "tm%d-srv" % i
    return [["ip", "addr", "add", "10.0.1.%d/8" % i, "dev", cli],
            ["ip", "addr", "add", "%s/32" % VIP, "dev", "lo"],
            ["ip", "addr", "add", "%s/16" % SNAT, "dev", srv],
            ["ip", "route", "add", "10.2.0.0/16", "dev", srv, "src", SNAT],
            sysctl_cmd("net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                       "net.ipv4.conf.%s.rp_filter=0" % cli, "net.ipv4.conf.%s.rp_filter=0" % srv)]


def sysctl_cmd(*settings):
    """`sysctl -qw KEY=VALUE ...` as a command writing /proc/sys (in the
    namespace it runs in): procps may be missing. Fails on the first key
    it cannot write."""
    writes = []
    for s in settings:
        key, value = s.split("=", 1)
        writes.append("echo %s > /proc/sys/%s" % (value, key.replace(".", "/")))
    return ["sh", "-c", " && ".join(writes)]
