#!/usr/bin/env python3
"""A small HTTP service whose heap is bounded, or grows by one rendered page per request (--leak).

Standard library only (Python 3.8+). Used by leakproof's runtime-agent tests and benchmarks:

    python3 examples/py_service.py --port 8080            # keeps the last 32 pages: Stable
    python3 examples/py_service.py --port 8080 --leak     # keeps every page: the heap grows
    python3 examples/py_service.py --port 0 --workers 3   # pre-forked workers on one socket

It prints `listening on PORT` once it accepts connections (port 0 picks a free port).
"""

import argparse
import collections
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

HISTORY = collections.deque(maxlen=32)


def remember(n):
    """Keeps a rendered page per request: every page with --leak, the last 32 otherwise."""
    HISTORY.append(("<li>request %06d</li>\n" % n) * 40)  # the growing line with --leak


class Handler(BaseHTTPRequestHandler):
    count = 0

    def do_GET(self):
        Handler.count += 1
        remember(Handler.count)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def main():
    global HISTORY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--leak", action="store_true", help="keep every rendered page")
    parser.add_argument("--workers", type=int, default=1, help="processes serving the socket")
    options = parser.parse_args()
    if options.leak:
        HISTORY = collections.deque()
    server = HTTPServer(("127.0.0.1", options.port), Handler)
    for _ in range(options.workers - 1):
        if os.fork() == 0:
            break
    else:
        print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
