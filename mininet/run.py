#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mininet/run.py: the patent's figure 3 in Mininet (make mininet).

    python3 mininet/run.py [--config FILE] [--switch bmv2|soft] [--test] [--logs DIR]

Builds client - s1 - tm1..tm3 - s2 - server with the peer link s1:5-s2:5
(mininet/figure3.py), starts the two distributors (bmv2 simple_switch_grpc,
or the Go software switch with --switch soft) in the root namespace, writes
a controller config for them and starts `symdist controller`, `symdist tm`
on the three TM hosts (each reaches the controller's admin API over a
management veth on the bridge sdmn0, 198.18.1.0/24), an HTTP server on the
server host, and leaves you at the Mininet CLI with a guide.

--config FILE builds the deployment a controller config describes instead
(mininet/configtopo.py: its switches, TMs, client and server hosts) and hands
it to `symdist lab --config FILE --attach`, which adds the addresses, the
management network, the server, the controller and the TMs and, with --test,
runs the Go lab's scenario (lab/scenario.go): requests through every VIP
(IPv4 and IPv6), a TM killed, the TM joining again, a weight change, a drain
and an undrain.

--test runs the end-to-end scenario instead and exits 0 if it passed:
200 HTTP requests from the client through the VIP, each over its own
connection, all succeed, and every TM's /stats shows connections made from
its self-source ports; tm2 is killed, the controller moves its buckets, and
100 new connections all succeed; tm2 comes back, gets buckets, and 100 more
succeed.

Needs root, Debian's mininet package, iproute2, and bmv2 (or Go, or a built
symdist, for --switch soft). Where something is missing it says what in one
line and exits 0. Everything it starts is stopped on exit, also on failure,
Ctrl-C or SIGTERM.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# What make toolchain installed (bmv2, PI's Python bindings), found without
# PATH editing.
P4_PREFIX = os.environ.get("SYMDIST_P4_PREFIX", "/opt/p4")
if os.path.isdir(os.path.join(P4_PREFIX, "bin")):
    os.environ["PATH"] = os.path.join(P4_PREFIX, "bin") + os.pathsep + os.environ.get("PATH", "")


def _need_mininet():
    """Mininet is a Debian package: it is importable by /usr/bin/python3,
    which another python3 on PATH (pyenv, a venv) may not be."""
    try:
        import mininet.net  # noqa: F401
        return None
    except ImportError:
        deb = "/usr/bin/python3"
        if os.path.exists(deb) and os.path.realpath(sys.executable) != os.path.realpath(deb) \
                and not os.environ.get("SYMDIST_MININET_REEXEC"):
            os.environ["SYMDIST_MININET_REEXEC"] = "1"
            os.execv(deb, [deb] + sys.argv)
        return "Mininet (apt-get install mininet)"


import argparse  # noqa: E402
import fcntl  # noqa: E402
import json  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

MGMT = "198.18.1"          # management bridge: .1 the root namespace, .1N tmN
MGMT_BR = "sdmn0"
LOCK = "/run/lock/symdist-mininet.lock"
PIDS = "/run/lock/symdist-mininet.pids"
BIN = os.path.join(ROOT, "bin", "symdist")  # the only binary taken (find_symdist)


def mgmt_ip(i):
    return "%s.%d" % (MGMT, 10 + i)


def log(msg):
    print("mininet: " + msg, flush=True)


class Failed(Exception):
    pass


class TimedOut(Exception):
    pass


# --- prerequisites ---------------------------------------------------------

def newest_source():
    newest = 0.0
    for d, dirs, files in os.walk(ROOT):
        rel = os.path.relpath(d, ROOT)
        dirs[:] = [x for x in dirs if not x.startswith(".") and not (rel == "." and x in ("mininet", "ptf", "docs", "bin"))]
        for f in files:
            if f.endswith(".go") or f in ("go.mod", "go.sum") or (rel == "p4info" and f.startswith("symdist.")):
                newest = max(newest, os.path.getmtime(os.path.join(d, f)))
    return newest


def find_symdist():
    """The repository's bin/symdist when newer than the Go sources and
    p4info/, else `go build` into it (a binary elsewhere, /tmp's, may be
    from another checkout). Returns (path, note) or (None, why)."""
    if os.path.isfile(BIN) and os.access(BIN, os.X_OK) and os.path.getmtime(BIN) >= newest_source():
        return BIN, "up to date"
    if not shutil.which("go"):
        return None, "Go, to build bin/symdist (older than the sources or absent)"
    os.makedirs(os.path.dirname(BIN), exist_ok=True)
    log("building %s (go build ./cmd/symdist)" % BIN)
    r = subprocess.run(["go", "build", "-buildvcs=false", "-o", BIN, "./cmd/symdist"], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    if r.returncode != 0:
        return None, "a symdist binary (go build failed: %s)" % r.stdout.strip()[-300:]
    return BIN, "built"


def missing(args):
    why = []
    if os.geteuid() != 0:
        why.append("root (Mininet makes namespaces and veths)")
    m = _need_mininet()
    if m:
        why.append(m)
    for tool in ("ip", "mnexec"):
        if not shutil.which(tool) and not (tool == "mnexec" and m):
            why.append("%s (%s)" % (tool, "iproute2" if tool == "ip" else "the mininet package"))
    if args.switch == "bmv2" and not shutil.which("simple_switch_grpc"):
        why.append("bmv2 simple_switch_grpc in %s/bin or on PATH (make toolchain, or use --switch soft)" % P4_PREFIX)
    return why


def free_port(prefer, host="0.0.0.0"):
    for port in [prefer, 0]:
        s = socket.socket()
        # As the Go and gRPC listeners do: TIME_WAIT leftovers do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise Failed("no free TCP port")


def sh(*args, check=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise Failed("%s: %s" % (" ".join(args), r.stdout.strip()))
    return r


def proc_start(pid):
    """The start time of a process (field 22 of /proc/PID/stat): with the
    PID it names the process, whatever it has exec'd since."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def link_exists(name):
    return os.path.exists("/sys/class/net/" + name)


# --- the run ---------------------------------------------------------------

class Figure3Run:
    def __init__(self, args, binary):
        self.args = args
        self.bin = binary
        self.py = sys.executable
        self.net = None
        self.procs = {}  # name -> Popen (controller, server, tm1..)
        self.logs = args.logs or tempfile.mkdtemp(prefix="symdist-mininet-")
        os.makedirs(self.logs, exist_ok=True)
        self.token = secrets.token_hex(16)
        self.admin = None
        self.created_links = []

    # process bookkeeping: a killed run's leftovers are found by PID and
    # start time
    def record_pids(self):
        pids = []
        for p in self.procs.values():
            pids.append(p.pid)
        if self.net:
            for n in self.net.hosts + self.net.switches:
                if n.pid:
                    pids.append(n.pid)
                proc = getattr(n, "proc", None)
                if proc is not None:
                    pids.append(proc.pid)
        entries = [[pid, proc_start(pid)] for pid in pids]
        entries = [e for e in entries if e[1] is not None]
        with open(PIDS, "w") as f:
            json.dump(entries, f)

    @staticmethod
    def clean_leftovers():
        """Processes and links a killed earlier run left (by recorded PID
        and start time, and by our fixed link names)."""
        try:
            with open(PIDS) as f:
                entries = json.load(f)
        except (OSError, ValueError):
            entries = []
        for pid, start in entries:
            try:
                if proc_start(pid) != start:
                    continue  # gone, or the PID is another process now
                os.kill(pid, signal.SIGKILL)
                log("killed pid %d left by an earlier run" % pid)
            except OSError:
                pass
        try:
            os.unlink(PIDS)
        except OSError:
            pass
        names = [MGMT_BR] + ["sdmn-tm%d" % i for i in range(1, 4)] + \
                ["s%d-eth%d" % (s, p) for s in (1, 2) for p in range(1, 6)]
        for n in names:
            if link_exists(n):
                sh("ip", "link", "del", n, check=False)

    def up(self):
        from mininet.net import Mininet
        from mininet.log import setLogLevel
        import figure3 as f3

        setLogLevel("warning" if self.args.test else "info")
        kind = self.args.switch
        thrift = kind == "bmv2" and "thrift-port" in sh("simple_switch_grpc", "--help", check=False).stdout
        sp = {}
        for n, (grpc, th, dev) in (("s1", (9559, 9190, 1)), ("s2", (9560, 9191, 2))):
            g = free_port(grpc, "127.0.0.1")
            sp[n] = dict(kind=kind, grpc_port=g, device_id=dev, log_dir=self.logs, symdist=self.bin,
                         on_start=self.record_pids,
                         thrift_port=free_port(th) if thrift else None, log_level=self.args.bmv2_log_level)
        log("building figure 3: client, s1, tm1-tm3, s2, server (%s switches)" % kind)
        self.net = Mininet(topo=f3.Figure3(switch_params=sp), controller=None, build=True,
                           autoSetMacs=False, autoStaticArp=False, waitConnected=False)
        self.record_pids()
        self.net.start()
        self.record_pids()
        for s in self.net.switches:
            log("%s: %s on %s, P4Runtime %s, device id %d%s; log %s" % (
                s.name, "simple_switch_grpc" if kind == "bmv2" else "symdist switch",
                ",".join("%d=%s" % pm for pm in s.port_map()), s.grpc_addr, s.device_id,
                ", thrift %d" % s.thrift_port if s.thrift_port else "", s.logfile))
        self.configure_hosts(f3)
        self.management()
        self.admin_port = free_port(9090, "%s.1" % MGMT)
        self.start_server(f3)
        self.start_controller(f3)
        for i in range(1, f3.NUM_TMS + 1):
            self.start_tm(i)
        self.record_pids()
        self.wait_ready(60)

    def hrun(self, host, argv):
        p = host.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, _ = p.communicate(timeout=30)
        if p.returncode != 0:
            raise Failed("%s: %s: %s" % (host.name, " ".join(argv), out.decode(errors="replace").strip()))
        return out.decode(errors="replace")

    def configure_hosts(self, f3):
        ethtool = shutil.which("ethtool")
        for h in self.net.hosts:
            self.hrun(h, f3.sysctl_cmd("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"))
            for intf in h.intfNames():
                if intf == "lo":
                    continue
                self.hrun(h, f3.sysctl_cmd("net.ipv6.conf.%s.disable_ipv6=1" % intf))
                # TX checksum offload off, or AF_PACKET/bmv2 forwards packets
                # whose checksums the kernel left for hardware.
                if ethtool:
                    self.hrun(h, [ethtool, "-K", intf, "tx", "off"])
                else:
                    self.hrun(h, [self.py, os.path.join(HERE, "txoff.py"), intf])
            for c in f3.host_commands(h.name):
                self.hrun(h, c)

    def management(self):
        """The bridge sdmn0 (198.18.1.1/24) in the root namespace and a veth
        from it to mgmt0 (198.18.1.1N/24) on each TM: the admin API and the
        health checks."""
        import figure3 as f3

        sh("ip", "link", "add", MGMT_BR, "type", "bridge")
        self.created_links.append(MGMT_BR)
        self._noipv6(MGMT_BR)
        sh("ip", "addr", "add", "%s.1/24" % MGMT, "dev", MGMT_BR)
        sh("ip", "link", "set", MGMT_BR, "up")
        for i in range(1, 4):
            tm = self.net.get("tm%d" % i)
            root = "sdmn-tm%d" % i
            sh("ip", "link", "add", root, "type", "veth", "peer", "name", "mgmt0", "netns", str(tm.pid))
            self.created_links.append(root)
            self._noipv6(root)
            sh("ip", "link", "set", root, "master", MGMT_BR, "up")
            for c in (f3.sysctl_cmd("net.ipv6.conf.mgmt0.disable_ipv6=1"),
                      ["ip", "addr", "add", mgmt_ip(i) + "/24", "dev", "mgmt0"],
                      ["ip", "link", "set", "mgmt0", "up"]):
                self.hrun(tm, c)

    @staticmethod
    def _noipv6(name):
        try:
            with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name, "w") as f:
                f.write("1")
        except OSError:
            pass

    def _popen(self, name, host, argv):
        out = open(os.path.join(self.logs, name + ".log"), "a")
        out.write("# %s\n" % " ".join(argv))
        out.flush()
        if host is None:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        else:
            p = host.popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs[name] = p
        self.record_pids()
        return p

    def start_server(self, f3):
        self._popen("server", self.net.get("server"),
                    [self.py, "-u", os.path.join(HERE, "httpserver.py"), "%s:%d" % (f3.SERVER, f3.SERVER_PORT)])

    def config_yaml(self, f3):
        """The controller config: like lab.configYAML (lab/run.go), for the
        two switches of this run."""
        b = ["# written by mininet/run.py for this run",
             "election_id: 10",
             "admin: {listen: \"%s.1:%d\", token: \"%s\"}" % (MGMT, self.admin_port, self.token),
             "switches:"]
        for s, name in ((self.net.get("s1"), "client-side"), (self.net.get("s2"), "server-side")):
            b += ["  - name: %s" % name,
                  "    address: \"%s\"" % s.grpc_addr,
                  "    device_id: %d" % s.device_id,
                  "    ports:",
                  "      - {port: 1, role: edge}"]
            b += ["      - {port: %d, role: tm}" % f3.tm_port(i) for i in range(1, f3.NUM_TMS + 1)]
            b += ["      - {port: %d, role: peer}" % f3.PEER_PORT,
                  "    l2:",
                  "      - {mac: \"%s\", port: 1}   # the edge host" % (f3.CLIENT_MAC if name == "client-side" else f3.SERVER_MAC)]
        b += ["groups:",
              "  - name: web",
              "    id: 1",
              "    default_tm: tm1",
              "    rules:",
              "      - {priority: 10, ip_version: 4, dst: %s/32}   # the VIP" % f3.VIP,
              "      - {priority: 10, ip_version: 4, dst: %s/32}     # the shared SNAT address" % f3.SNAT,
              "tms:"]
        for i in range(1, f3.NUM_TMS + 1):
            b += ["  - name: tm%d" % i,
                  "    id: %d" % i,
                  "    group: web",
                  "    addresses: [10.0.1.%d]" % i,
                  "    snat: [%s]" % f3.SNAT,
                  "    ports:",
                  "      client-side: {port: %d, mac: \"%s\"}" % (f3.tm_port(i), f3.tm_mac(1, i)),
                  "      server-side: {port: %d, mac: \"%s\"}" % (f3.tm_port(i), f3.tm_mac(2, i)),
                  "    health: {type: http, target: \"http://%s:8081/healthz\", interval: 200ms, timeout: 150ms, rise: 2, fall: 2}"
                  % mgmt_ip(i)]
        return "\n".join(b) + "\n"

    def start_controller(self, f3):
        path = os.path.join(self.logs, "controller.yaml")
        with open(path, "w") as f:
            f.write(self.config_yaml(f3))
        os.chmod(path, 0o600)
        r = sh(self.bin, "config", "check", path, check=False)
        if r.returncode != 0:
            raise Failed("controller config: " + r.stdout.strip())
        self.admin = "http://%s.1:%d" % (MGMT, self.admin_port)
        self._popen("controller", None, [self.bin, "controller", "--config", path])
        # symdist tm reads its bucket table at start: the API must answer.
        self.wait_for("the controller's admin API at " + self.admin, lambda: (bool(self.status()), None), 15)

    def tm_argv(self, i):
        import figure3 as f3
        return [self.bin, "tm", "--name", "tm%d" % i, "--listen", "%s:80" % f3.VIP,
                "--backend", "%s:%d" % (f3.SERVER, f3.SERVER_PORT), "--snat", f3.SNAT,
                "--controller", self.admin, "--token", self.token, "--http", "0.0.0.0:8081",
                "--connect-timeout", "3s", "--grace", "1s"] + (["--chain=false"] if self.args.no_chain else [])

    def start_tm(self, i):
        self._popen("tm%d" % i, self.net.get("tm%d" % i), self.tm_argv(i))

    def stop_proc(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(sig)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    # --- the controller's view --------------------------------------------

    def get(self, url, timeout=2):
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)

    def status(self):
        return self.get(self.admin + "/api/status")

    def tms(self):
        """{name: {healthy, buckets, ...}} of group web."""
        return {t["name"]: t for g in self.status()["groups"] for t in g["tms"]}

    def tm_stats(self, i):
        return self.get("http://%s:8081/stats" % mgmt_ip(i), timeout=1)

    def check_alive(self):
        for name, p in self.procs.items():
            if p.poll() is not None and name != "tm2":
                raise Failed("%s exited with %s; see %s" % (name, p.returncode, os.path.join(self.logs, name + ".log")))
        for s in self.net.switches:
            if not s.connected():
                raise Failed("%s's switch process exited; see %s" % (s.name, s.logfile))

    def wait_for(self, what, cond, timeout):
        deadline = time.time() + timeout
        last = None
        while True:
            try:
                self.check_alive()
                ok, last = cond()
                if ok:
                    return
            except Failed:
                raise
            except Exception as e:  # not up yet
                last = "%s: %s" % (type(e).__name__, e)
            if time.time() > deadline:
                raise Failed("%s: not after %ds (%s); logs in %s" % (what, timeout, last, self.logs))
            time.sleep(0.2)

    def wait_ready(self, timeout):
        t0 = time.time()

        def ready():
            st = self.status()
            sw = [(s["name"], s["in_sync"]) for s in st["switches"]]
            tms = {t["name"]: t for g in st["groups"] for t in g["tms"]}
            running = [n for n in tms if n in self.procs]
            ok = all(x for _, x in sw) and all(tms[n]["healthy"] and tms[n]["buckets"] > 0 for n in running)
            # Each TM has fetched its bucket table: it has self ports.
            owned = {n: self.tm_stats(int(n[2:]))["buckets"]["owned"] for n in running}
            ok = ok and all(owned.values())
            return ok, "switches %s, TMs (healthy, buckets) %s, buckets the TMs know they own %s" % (
                sw, {n: (t["healthy"], t["buckets"]) for n, t in tms.items()}, owned)

        self.wait_for("switches programmed and TMs healthy", ready, timeout)
        log("ready in %.1fs: both switches in sync, tm1-tm3 healthy with buckets" % (time.time() - t0))

    def tcp_counters(self, name):
        """TCP counters of a host's namespace: SYN retransmissions and all
        retransmitted segments (packet loss shows here)."""
        text = self.hrun(self.net.get(name), ["cat", "/proc/net/snmp", "/proc/net/netstat"])
        out, lines = {}, text.splitlines()
        for head, vals in zip(lines[0::2], lines[1::2]):
            for k, v in zip(head.split()[1:], vals.split()[1:]):
                out[head.split(":")[0] + "." + k] = int(v)
        return {"syn_retrans": out.get("TcpExt.TCPSynRetrans", 0), "retrans_segs": out.get("Tcp.RetransSegs", 0),
                "loss_probes": out.get("TcpExt.TCPLossProbes", 0)}

    # --- traffic -------------------------------------------------------------

    def requests(self, count, parallel=10, timeout=5):
        client = self.net.get("client")
        p = client.popen([self.py, os.path.join(HERE, "client.py"), "--count", str(count), "--parallel", str(parallel),
                          "--timeout", str(timeout), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=count * timeout + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Failed("client.py did not finish")
        try:
            return json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failed("client.py: %s %s" % (out.decode(errors="replace"), err.decode(errors="replace")))

    # --- the scenario of --test ---------------------------------------------

    def scenario(self):
        results = []

        def step(ok, text):
            results.append(ok)
            log(("PASS " if ok else "FAIL ") + text)
            return ok

        stats0 = {i: self.tm_stats(i) for i in (1, 2, 3)}
        hosts = ["client", "tm1", "tm2", "tm3", "server"]
        tcp0 = {h: self.tcp_counters(h) for h in hosts}
        r = self.requests(self.args.requests)
        tcp1 = {h: self.tcp_counters(h) for h in hosts}
        step(r["failed"] == 0, "%d of %d HTTP requests through the VIP, one connection each, succeeded (%.1fs)%s"
             % (r["ok"], r["requests"], r["seconds"], "" if r["failed"] == 0 else ": " + "; ".join(r["errors"][:3])))
        log("     TCP retransmissions meanwhile (SYNs/segments/of which tail-loss probes): %s" % ", ".join(
            "%s %d/%d/%d" % (h, tcp1[h]["syn_retrans"] - tcp0[h]["syn_retrans"],
                             tcp1[h]["retrans_segs"] - tcp0[h]["retrans_segs"],
                             tcp1[h]["loss_probes"] - tcp0[h]["loss_probes"]) for h in hosts))
        for i in (1, 2, 3):
            st = self.tm_stats(i)
            acc = st["connections"]["accepted"] - stats0[i]["connections"]["accepted"]
            selfc = st["self_ports"]["connections"] - stats0[i]["self_ports"]["connections"]
            other = st["self_ports"]["other_connections"]
            step(acc > 0 and selfc > 0 and other == 0,
                 "tm%d /stats: %d connections accepted, %d backend connections from self ports, %d from other ports "
                 "(self-port table %d ports, %d buckets owned)" % (i, acc, selfc, other, st["self_ports"]["table"],
                                                                   st["buckets"]["owned"]))
        served = sum(1 for line in open(os.path.join(self.logs, "server.log")) if line.startswith("10.3.0.1 "))
        step(served >= r["ok"] > 0, "the server saw %d requests, all from the shared SNAT address 10.3.0.1" % served)

        # tm2 dies (as a crash would); the controller moves its buckets.
        before = self.tms()
        t0 = time.time()
        self.stop_proc("tm2", signal.SIGKILL)

        def moved():
            t = self.tms()
            sync = all(s["in_sync"] for s in self.status()["switches"])
            return (not t["tm2"]["healthy"] and t["tm2"]["buckets"] == 0 and sync), \
                {n: (x["healthy"], x["buckets"]) for n, x in t.items()}

        self.wait_for("the controller taking tm2 out", moved, 20)
        after = self.tms()
        step(after["tm1"]["buckets"] + after["tm3"]["buckets"] == 4096 and
             after["tm1"]["buckets"] >= before["tm1"]["buckets"] and after["tm3"]["buckets"] >= before["tm3"]["buckets"],
             "tm2 killed: %.1fs later the controller had moved its %d buckets (tm1 %d -> %d, tm3 %d -> %d) "
             "and both switches were in sync" % (time.time() - t0, before["tm2"]["buckets"], before["tm1"]["buckets"],
                                                after["tm1"]["buckets"], before["tm3"]["buckets"], after["tm3"]["buckets"]))
        r = self.requests(100)
        step(r["failed"] == 0, "after tm2 failed: %d of %d new connections succeeded%s"
             % (r["ok"], r["requests"], "" if r["failed"] == 0 else ": " + "; ".join(r["errors"][:3])))

        # tm2 comes back: a planned move (a join). Long-lived connections
        # opened before it, all on tm1 and tm3, must last through it: those
        # whose bucket moves to tm2 are chained by tm2's agent to the TM
        # that holds them (docs/design.md, "Chaining").
        held = self.hold_start(self.args.held)
        chained0 = self.chained(2)
        t0 = time.time()
        self.start_tm(2)
        self.record_pids()

        def back():
            t = self.tms()
            owned = self.tm_stats(2)["buckets"]["owned"]
            # Its whole share (equal weights): a join moves buckets in
            # steps, and connections sent between them can be reset as
            # their client bucket moves (docs/operations.md).
            share = sum(x["buckets"] for x in t.values()) // len(t)
            return t["tm2"]["healthy"] and t["tm2"]["buckets"] >= share > 0 and owned == t["tm2"]["buckets"] and \
                all(s["in_sync"] for s in self.status()["switches"]), \
                {n: (x["healthy"], x["buckets"]) for n, x in t.items()}

        # tm2 knows its buckets once it has fetched the table again (--refresh 1s).
        self.wait_for("tm2 back with buckets", back, 20)
        t = self.tms()
        r = self.requests(100)
        st2 = self.tm_stats(2)
        step(r["failed"] == 0 and st2["connections"]["accepted"] > 0,
             "tm2 restarted: healthy with %d buckets after %.1fs; %d of %d new connections succeeded, %d through tm2"
             % (t["tm2"]["buckets"], time.time() - t0, r["ok"], r["requests"], st2["connections"]["accepted"]))
        h = self.hold_end(held)
        chained = self.chained(2) - chained0
        step(h["broke"] == 0 and chained > 0,
             "established: %d of %d long-lived connections (a request every 100 ms, %d in all) lasted through tm2's join; "
             "tm2's agent chained %d of their packets to the TM holding them%s"
             % (h["connections"] - h["broke"], h["connections"], h["requests"], chained,
                "" if h["broke"] == 0 else ": " + "; ".join(h["errors"][:3])))
        return all(results)

    def hold_start(self, count):
        """client.py --hold: count long-lived connections, open when it returns."""
        p = self.net.get("client").popen([self.py, os.path.join(HERE, "client.py"), "--hold", "--count", str(count),
                                          "--timeout", "15"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline().decode()
        if line.strip() != "open":
            p.kill()
            raise Failed("client.py --hold: %s %s" % (line, p.communicate()[1].decode(errors="replace")))
        return p

    def hold_end(self, p):
        p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failed("client.py --hold did not end")
        try:
            return json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failed("client.py --hold: %s %s" % (out.decode(errors="replace"), err.decode(errors="replace")))

    def chained(self, i):
        """Packets TM i's agent sent to a previous owner (0 while it is down)."""
        try:
            req = urllib.request.Request("http://%s:8081/metrics" % mgmt_ip(i))
            with urllib.request.urlopen(req, timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith('symdist_chain_packets_total{reason="chained"}'):
                        return int(float(line.split()[-1]))
        except OSError:
            pass
        return 0

    # --- the CLI -----------------------------------------------------------

    def guide(self):
        import figure3 as f3
        s1, s2 = self.net.get("s1"), self.net.get("s2")
        kind = "bmv2 simple_switch_grpc" if self.args.switch == "bmv2" else "symdist switch (Go)"
        thrift = ""
        if s1.thrift_port:
            thrift = "\n                 simple_switch_CLI --thrift-port %d   (s1; s2: %d)" % (s1.thrift_port, s2.thrift_port)
        return """
Figure 3 is up (distributors: %(kind)s).

  client         10.1.0.1-4     try:  client curl -s http://%(vip)s/
                                      client %(py)s %(here)s/client.py --count 200
  s1, s2         client-side and server-side distributors, P4Runtime %(g1)s and %(g2)s%(thrift)s
  tm1 tm2 tm3    symdist tm: VIP %(vip)s:80, shared SNAT %(snat)s
                 stats: sh curl -s http://%(m1)s:8081/stats   (tm2: .12, tm3: .13)
  server         %(server)s:%(sport)d (mininet/httpserver.py; it logs each request's source port)
  controller     admin API %(admin)s, token %(token)s
                 status   (or: sh %(bin)s status --controller %(admin)s --token %(token)s)
  verify         verify          (s1 and s2 against the config and the controller's view, read-only:
                                 sh %(bin)s verify state --config %(cfg)s --controller %(admin)s --token %(token)s
                                 one switch: sh %(bin)s verify state --switch %(g1)s --device-id %(d1)d --config %(cfg)s)
  fail a TM      failtm tm2      (kills its symdist tm, as a crash would; the controller moves its buckets)
  bring it back  starttm tm2
  logs           %(logs)s  (%(swlogs)s, controller.log, tm1.log ..., server.log)

'exit' (or Ctrl-D) takes everything down.
""" % dict(kind=kind, vip=f3.VIP, py=self.py, here=HERE, g1=s1.grpc_addr, g2=s2.grpc_addr, thrift=thrift,
           snat=f3.SNAT, m1=mgmt_ip(1), server=f3.SERVER, sport=f3.SERVER_PORT, admin=self.admin,
           token=self.token, bin=self.bin, logs=self.logs, d1=s1.device_id,
           cfg=os.path.join(self.logs, "controller.yaml"),
           swlogs=", ".join(os.path.basename(s.logfile) for s in (s1, s2)))

    def cli(self):
        from mininet.cli import CLI

        run = self

        class Figure3CLI(CLI):
            prompt = "figure3> "

            def do_failtm(self, line):
                "failtm tmN: kill tmN's symdist tm (SIGKILL, as a crash would)."
                name = line.strip()
                if name not in run.procs or not name.startswith("tm"):
                    print("failtm: no running TM %r (running: %s)" % (name, ", ".join(n for n in run.procs if n.startswith("tm"))))
                    return
                run.stop_proc(name, signal.SIGKILL)
                print("%s killed; the controller takes it out after its health check fails (about 0.5s)" % name)

            def do_starttm(self, line):
                "starttm tmN: start tmN's symdist tm again."
                name = line.strip()
                if name not in ("tm1", "tm2", "tm3") or name in run.procs:
                    print("starttm: want a stopped tm1, tm2 or tm3")
                    return
                run.start_tm(int(name[2:]))
                run.record_pids()
                print("%s started (log %s)" % (name, os.path.join(run.logs, name + ".log")))

            def do_status(self, line):
                "status: the controller's view of switches, groups and TMs."
                subprocess.run([run.bin, "status", "--controller", run.admin, "--token", run.token])

            def do_verify(self, line):
                "verify: symdist verify state of s1 and s2 (read-only; exit 0 ok, 1 differences, 2 could not check)."
                subprocess.run([run.bin, "verify", "state", "--config", os.path.join(run.logs, "controller.yaml"),
                                "--controller", run.admin, "--token", run.token])

            def do_guide(self, line):
                "guide: print the guide again."
                print(run.guide())

        print(self.guide())
        Figure3CLI(self.net)

    # --- down ----------------------------------------------------------------

    def down(self):
        signal.alarm(0)
        for name in list(self.procs):
            self.stop_proc(name)
        if self.net is not None:
            for s in self.net.switches:
                try:
                    s.stop_process()
                except Exception as e:
                    log("stopping %s: %s" % (s.name, e))
            try:
                self.net.stop()
            except Exception as e:
                log("mininet stop: %s" % e)
        for n in reversed(self.created_links):
            if link_exists(n):
                sh("ip", "link", "del", n, check=False)
        left = [n for n in [MGMT_BR] + ["s%d-eth%d" % (s, p) for s in (1, 2) for p in range(1, 6)] if link_exists(n)]
        for n in left:
            sh("ip", "link", "del", n, check=False)
        try:
            os.unlink(PIDS)
        except OSError:
            pass


class ConfigRun(Figure3Run):
    """--config FILE: the deployment FILE describes (mininet/configtopo.py),
    built in Mininet; `symdist lab --config FILE --attach` adds the
    addresses, the management network, the server, the controller and the
    TMs to its hosts and runs the scenario (the Go lab's, lab/scenario.go)."""

    def __init__(self, args, binary):
        Figure3Run.__init__(self, args, binary)
        self.lab = None
        self.guide_text = ""

    def up(self):
        from mininet.net import Mininet
        from mininet.log import setLogLevel
        import configtopo

        setLogLevel("warning" if self.args.test else "info")
        cfg = configtopo.load(self.args.config)
        kind = self.args.switch
        thrift = kind == "bmv2" and "thrift-port" in sh("simple_switch_grpc", "--help", check=False).stdout
        sp = {}
        for si in range(len(cfg["switches"])):
            sp[configtopo.switch_name(si)] = dict(
                kind=kind, grpc_port=free_port(9559 + si, "127.0.0.1"), device_id=si + 1, log_dir=self.logs,
                symdist=self.bin, on_start=self.record_pids,
                thrift_port=free_port(9190 + si) if thrift else None, log_level=self.args.bmv2_log_level)
        log("building %s: %d switches, %d TMs (%s switches)" % (self.args.config, len(cfg["switches"]), len(cfg["tms"]), kind))
        self.net = Mininet(topo=configtopo.ConfigTopo(cfg=cfg, switch_params=sp), controller=None, build=True,
                           autoSetMacs=False, autoStaticArp=False, waitConnected=False)
        self.record_pids()
        self.net.start()
        self.record_pids()
        ethtool = shutil.which("ethtool")
        for h in self.net.hosts:
            for intf in h.intfNames():
                if intf != "lo":  # TX checksum offload off (see configure_hosts)
                    self.hrun(h, [ethtool, "-K", intf, "tx", "off"] if ethtool else
                              [self.py, os.path.join(HERE, "txoff.py"), intf])
        attach = {"hosts": {h.name: h.pid for h in self.net.hosts},
                  "switches": {sw["name"]: {"address": self.net.get(configtopo.switch_name(si)).grpc_addr,
                                            "device_id": si + 1} for si, sw in enumerate(cfg["switches"])}}
        path = os.path.join(self.logs, "attach.json")
        with open(path, "w") as f:
            json.dump(attach, f)
        argv = [self.bin, "lab", "--config", self.args.config, "--attach", path, "--prefix", "mn",
                "--switch", kind, "--dir", self.logs] + (["--test"] if self.args.test else [])
        self.lab = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, start_new_session=True)
        self.procs["lab"] = self.lab
        self.record_pids()
        if not self.args.test:
            for line in self.lab.stdout:  # up to the end of its guide
                self.guide_text += line
                if line.startswith("Ctrl-C takes it down"):
                    break
            if self.lab.poll() is not None or "Ctrl-C" not in self.guide_text:
                raise Failed("symdist lab --attach: %s" % self.guide_text.strip())
            threading.Thread(target=self.lab.stdout.read, daemon=True).start()

    def scenario(self):
        for line in self.lab.stdout:
            print(line, end="", flush=True)
        return self.lab.wait() == 0

    def cli(self):
        from mininet.cli import CLI
        print(self.guide_text.replace("Ctrl-C takes it down.", "'exit' (or Ctrl-D) takes everything down."))
        CLI(self.net)

    def down(self):
        if self.lab is not None and self.lab.poll() is None:
            self.lab.send_signal(signal.SIGINT)  # it takes its part down
            try:
                self.lab.wait(60)
            except subprocess.TimeoutExpired:
                self.lab.kill()
                self.lab.wait()
        self.procs.pop("lab", None)
        Figure3Run.down(self)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--switch", choices=["bmv2", "soft"], default="bmv2",
                    help="bmv2 simple_switch_grpc (default) or the Go software switch")
    ap.add_argument("--config", help="build the deployment this controller config describes (default: figure 3)")
    ap.add_argument("--test", action="store_true", help="run the end-to-end scenario and exit with its result")
    ap.add_argument("--requests", type=int, default=200, help="requests of the first --test step (200)")
    ap.add_argument("--held", type=int, default=60,
                    help="long-lived connections kept open through tm2's join in --test (60)")
    ap.add_argument("--no-chain", action="store_true",
                    help="TMs without chaining (symdist tm --chain=false): the control run, whose established step must fail")
    ap.add_argument("--logs", help="log directory (default: a new /tmp/symdist-mininet-*)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the logs of a --test run that passed")
    ap.add_argument("--timeout", type=int, default=600, help="bound of a --test run in seconds (600)")
    ap.add_argument("--bmv2-log-level", default="info", help="simple_switch_grpc --log-level (info; debug logs every packet)")
    args = ap.parse_args()

    why = missing(args)
    binary = None
    if not why:
        binary, note = find_symdist()
        if binary is None:
            why.append(note)
    if why:
        print("mininet: not run: missing %s (see docs/mininet.md)" % "; ".join(why))
        return 0
    sys.path.insert(0, HERE)

    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    lockf = open(LOCK, "w")
    try:
        fcntl.flock(lockf, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("mininet: another mininet/run.py is running (lock %s)" % LOCK)
        return 1
    Figure3Run.clean_leftovers()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    def on_alarm(signum, frame):
        raise TimedOut()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    log("symdist binary %s (%s)" % (binary, note))
    run = (ConfigRun if args.config else Figure3Run)(args, binary)
    ok = False
    signalled = None
    try:
        if args.test:
            signal.alarm(args.timeout)
        run.up()
        if args.test:
            ok = run.scenario()
        else:
            run.cli()
            ok = True
    except TimedOut:
        log("FAIL: timed out after %ds; logs in %s" % (args.timeout, run.logs))
    except Failed as e:
        log("FAIL: %s" % e)
    except KeyboardInterrupt:
        log("interrupted")
    except SystemExit as e:
        log("terminated by a signal")
        signalled = e.code
    finally:
        run.down()
        if args.test and ok and not args.keep_logs and not args.logs:
            shutil.rmtree(run.logs, ignore_errors=True)
            log("stopped everything it started; logs removed (--keep-logs keeps them)")
        else:
            log("stopped everything it started; logs in %s" % run.logs)
    if args.test:
        log("%s (%s switches)" % ("PASSED" if ok else "FAILED", args.switch))
    if signalled is not None:
        return signalled
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
