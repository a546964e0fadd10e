"""A plain HTTP echo server the pod runner starts for `unilim.fr/podrunner=http-echo` pods.

Usage: python -m devenv.echo IP PORT NAME. Answers every GET with JSON naming the
pod, the address it serves and its own pid, so a test can tell who answered.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def handler_for(name: str) -> type[BaseHTTPRequestHandler]:
    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host, port = self.server.server_address[:2]
            body = json.dumps(
                {"pod": name, "ip": host, "port": port, "pid": os.getpid(), "path": self.path}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Echo


def main(argv: list[str]) -> None:
    ip, port, name = argv[0], int(argv[1]), argv[2]
    if not ipaddress.ip_address(ip).is_loopback:
        raise SystemExit(f"refusing to bind non-loopback address {ip}")
    ThreadingHTTPServer((ip, port), handler_for(name)).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
