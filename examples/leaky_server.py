#!/usr/bin/env python3
"""A tiny HTTP server with a leak switch, to try `leakproof drive` on a non-Rust service.

The same switches as examples/leaky_server.rs (standard library only):

    python3 examples/leaky_server.py --port 8080                # bounded cache: Stable
    python3 examples/leaky_server.py --port 8080 --leak         # cache never evicts: RSS leaks
    python3 examples/leaky_server.py --port 8080 --leak-fds     # a socket per request: fds leak
    python3 examples/leaky_server.py --port 8080 --leak-threads # a blocked thread per request

    leakproof drive --target 'python3 examples/leaky_server.py --port 8080 --leak' \
        --http http://127.0.0.1:8080/item -n 300
"""

import argparse
import collections
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--leak", action="store_true", help="the cache never evicts")
    parser.add_argument("--leak-fds", action="store_true", help="keep a socket per request")
    parser.add_argument("--leak-threads", action="store_true", help="keep a blocked thread per request")
    parser.add_argument("--entry-bytes", type=int, default=64 * 1024)
    parser.add_argument("--cache", type=int, default=64, help="entries kept when not leaking")
    parser.add_argument("--crash-after", type=int, default=None)
    options = parser.parse_args()

    cache = collections.deque()
    sockets = []
    never = threading.Event()
    state = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the Rust server
        disable_nagle_algorithm = True  # headers and body are separate writes

        def do_GET(self):
            if self.path != "/healthz":
                state["requests"] += 1
                n = state["requests"]
                if options.crash_after is not None and n > options.crash_after:
                    print(f"leaky_server.py: simulated crash at request {n}", file=sys.stderr, flush=True)
                    sys.stderr.flush()
                    import os
                    os._exit(101)
                # The response, cached by request number: bytes(...) of a fresh value is resident.
                cache.append(bytes([n % 251]) * options.entry_bytes)
                if not options.leak:
                    while len(cache) > options.cache:
                        cache.popleft()
                if options.leak_fds:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.bind(("127.0.0.1", 0))
                    sockets.append(s)
                if options.leak_threads:
                    threading.Thread(target=never.wait, daemon=True).start()
                body = f"request {n}\n".encode()
            else:
                body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # quiet: one line per request would be noise
            pass

    server = HTTPServer(("127.0.0.1", options.port), Handler)
    print(f"leaky_server.py: listening on http://127.0.0.1:{options.port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
