#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""client.py: HTTP requests to the VIP, each over its own TCP connection.

    client.py [--vip 10.0.0.100:80] [--count 200] [--parallel 10]
              [--sources 10.1.0.1,10.1.0.2,...] [--timeout 5] [--json]
              [--hold]

Connection i binds to source address i mod len(sources) (the kernel picks
the port), sends one GET, and succeeds on a 200 whose body starts with
"hello". Prints a summary line (or JSON) and exits 0 when every request
succeeded.

With --hold, the connections are long-lived instead: all --count open at
once, each sends a GET every 100 ms on the same connection (keep-alive)
until SIGINT or SIGTERM; a request unanswered within --timeout breaks its
connection. It prints "open" once all are open, and at the end how many
lasted (the established step: planned moves must break none).
"""
import argparse
import json
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def one(i, vip, port, src, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    local = None
    try:
        if src:
            s.bind((src, 0))
        s.connect((vip, port))
        local = "%s:%d" % s.getsockname()
        s.sendall(("GET /%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (i, vip)).encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if not status.startswith(b"HTTP/1.1 200") or not body.startswith(b"hello"):
            return (False, local, "bad answer %r" % data[:80])
        return (True, local, None)
    except OSError as e:
        return (False, local, "%s: %s" % (type(e).__name__, e))
    finally:
        s.close()


def read_response(f):
    """One HTTP/1.1 response with a Content-Length, from file f."""
    status = f.readline()
    length = None
    while True:
        line = f.readline()
        if not line:
            raise OSError("connection closed")
        if line in (b"\r\n", b"\n"):
            break
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    body = f.read(length or 0)
    if not status.startswith(b"HTTP/1.1 200") or not body.startswith(b"hello"):
        raise OSError("bad answer %r %r" % (status, body[:40]))


def hold(a, vip, port, sources):
    """The long-lived connections of --hold."""
    stop = threading.Event()
    conns = []
    for i in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        if sources:
            s.bind((sources[i % len(sources)], 0))
        s.connect((vip, port))
        conns.append({"sock": s, "local": "%s:%d" % s.getsockname(), "ok": 0, "err": None})

    def run(c):
        f = c["sock"].makefile("rb")
        n = 0
        while not stop.is_set():
            try:
                c["sock"].sendall(("GET /held/%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (n, vip)).encode())
                read_response(f)
            except (OSError, ValueError) as e:
                c["err"] = "%s: %s after %d requests" % (type(e).__name__, e, c["ok"])
                return
            c["ok"] += 1
            n += 1
            stop.wait(0.1)

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in conns]
    for t in threads:
        t.start()
    print("open", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.2)
    for t in threads:
        t.join(a.timeout + 1)
    broke = [c for c in conns if c["err"]]
    out = {"connections": len(conns), "broke": len(broke), "requests": sum(c["ok"] for c in conns),
           "errors": ["%s: %s" % (c["local"], c["err"]) for c in broke][:10]}
    print(json.dumps(out), flush=True)
    return 0 if not broke else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vip", default="10.0.0.100:80")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--parallel", type=int, default=10)
    ap.add_argument("--sources", default="10.1.0.1,10.1.0.2,10.1.0.3,10.1.0.4")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--hold", action="store_true", help="long-lived connections until SIGINT or SIGTERM")
    a = ap.parse_args()
    vip, _, port = a.vip.rpartition(":")
    sources = [x for x in a.sources.split(",") if x]
    if a.hold:
        return hold(a, vip, int(port), sources)
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=a.parallel) as ex:
        results = list(ex.map(lambda i: one(i, vip, int(port), sources[i % len(sources)] if sources else None, a.timeout),
                              range(a.count)))
    ok = sum(1 for r in results if r[0])
    errors = ["%s: %s" % (r[1] or "not connected", r[2]) for r in results if not r[0]]
    out = {"requests": a.count, "ok": ok, "failed": a.count - ok, "seconds": round(time.time() - t0, 2),
           "errors": errors[:10]}
    if a.json:
        print(json.dumps(out))
    else:
        print("%d of %d requests to %s succeeded in %.1fs" % (ok, a.count, a.vip, out["seconds"]))
        for e in errors[:10]:
            print("  " + e)
    return 0 if ok == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
