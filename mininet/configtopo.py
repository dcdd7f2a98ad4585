# SPDX-License-Identifier: Apache-2.0
"""A deployment's controller config as a Mininet topology (run.py --config).

Each switch of the config is a P4Runtime distributor (figure3.P4RuntimeSwitch:
s1 for the first, s2 for the second), each TM a host named as in the config
with a leg sw0 (on s1) and sw1 (on s2) at the port and with the MAC the
config gives it, a host "client" (interface eth0) on the first edge port of
s1 and a host "server" (eth0) on the first edge port of s2, or on the second
edge port of s1 when the config has one switch; the first peer ports of the
two switches are linked. These are the names `symdist lab --attach` expects
(lab.Attachment): the Go lab then adds the addresses, the management
network, the server, the controller and the TMs, and runs the scenario.
"""

import yaml
from mininet.topo import Topo

from figure3 import P4RuntimeSwitch


def load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def edges(cfg):
    """((switch index, port) of the client, (switch index, port) of the server)."""
    found = []
    for si, sw in enumerate(cfg["switches"]):
        for p in sw.get("ports") or []:
            if p.get("role") == "edge":
                found.append((si, p["port"]))
                if len(cfg["switches"]) == 2:
                    break
    if len(found) < 2 or (len(cfg["switches"]) == 2 and found[1][0] != 1):
        raise ValueError("the lab needs an edge port for the clients and one for the servers "
                         "(the first edge port of each switch, or two on a single switch)")
    return found[0], found[1]


def switch_name(si):
    return "s%d" % (si + 1)


class ConfigTopo(Topo):
    """The topology of a controller config (a dict, as YAML loads it).

    switch_params: extra parameters for s1 and s2 (kind, grpc_port, ...),
    a dict per switch name."""

    def build(self, cfg=None, switch_params=None):
        sp = switch_params or {}
        n = len(cfg["switches"])
        if n not in (1, 2):
            raise ValueError("the lab builds one or two distributors, the config has %d switches" % n)
        switches = [self.addSwitch(switch_name(si), cls=P4RuntimeSwitch, **sp.get(switch_name(si), {}))
                    for si in range(n)]
        client, server = edges(cfg)
        hosts = {"client": self.addHost("client", ip=None), "server": self.addHost("server", ip=None)}
        self.addLink(switches[client[0]], hosts["client"], port1=client[1], intfName2="eth0")
        self.addLink(switches[server[0]], hosts["server"], port1=server[1], intfName2="eth0")
        for tm in cfg["tms"]:
            h = self.addHost(tm["name"], ip=None)
            for si, sw in enumerate(cfg["switches"]):
                at = (tm.get("ports") or {}).get(sw["name"])
                if at:
                    self.addLink(switches[si], h, port1=at["port"], intfName2="sw%d" % si, addr2=at["mac"])
        peers = [next((p["port"] for p in sw.get("ports") or [] if p.get("role") == "peer"), None)
                 for sw in cfg["switches"]]
        if n == 2 and peers[0] and peers[1]:
            self.addLink(switches[0], switches[1], port1=peers[0], port2=peers[1])
