#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""client.py: HTTP requests to the VIP, each over its own TCP connection.

    client.py [--vip 10.0.0.100:80] [--count 200] [--parallel 10]
              [--sources 10.1.0.1,10.1.0.2,...] [--timeout 5] [--json]

Connection i binds to source address i mod len(sources) (the kernel picks
the port), sends one GET, and succeeds on a 200 whose body starts with
"hello". Prints a summary line (or JSON) and exits 0 when every request
succeeded.
"""
import argparse
import json
import socket
import sys
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vip", default="10.0.0.100:80")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--parallel", type=int, default=10)
    ap.add_argument("--sources", default="10.1.0.1,10.1.0.2,10.1.0.3,10.1.0.4")
    ap.add_argument("--timeout", type=float, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    vip, _, port = a.vip.rpartition(":")
    sources = [x for x in a.sources.split(",") if x]
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
