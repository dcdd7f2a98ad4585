#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""httpserver.py ADDRESS:PORT: the figure-3 server. Answers every GET with
"hello N from ADDRESS" (N counts the requests) and logs one line per request
with the peer's address and port (the TM's SNAT address and self-source
port)."""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global count
        with lock:
            count += 1
            n = count
            sys.stdout.write("%s %d %s %d\n" % (self.client_address[0], self.client_address[1], self.path, n))
            sys.stdout.flush()
        body = ("hello %d from %s\n" % (n, self.server.server_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # socketserver's 5 overflows: SYNs dropped, retransmitted a second later


def main(argv):
    host, _, port = argv[1].rpartition(":")
    srv = Server((host, int(port)), Handler)
    print("serving on %s:%s" % (host, port), flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
