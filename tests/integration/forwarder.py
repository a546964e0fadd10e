"""A TCP forwarder on a loopback port, to take the IdP's token service away and back in tests.

The hub is configured to reach Keycloak's token and userinfo endpoints through it: stopping
it is an IdP outage as the hub sees it (connection refused), without touching the Keycloak
the other tests share.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import select
import socket
import socketserver
import threading
from typing import Any


class Forwarder:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target``; ``stop()``/``start()`` at will."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self._server: socketserver.ThreadingTCPServer | None = None
        self._open: set[socket.socket] = set()

    def start(self) -> None:
        forwarder = self

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                upstream = socket.create_connection(("127.0.0.1", forwarder.target), timeout=30)
                forwarder._open.update({self.request, upstream})
                with contextlib.suppress(OSError):
                    forwarder._pipe(self.request, upstream)
                forwarder._open.discard(self.request)
                forwarder._open.discard(upstream)
                upstream.close()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Pipe)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @staticmethod
    def _pipe(client: Any, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        while True:
            readable, _, _ = select.select(list(peers), [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)

    def stop(self) -> None:
        """Refuse new connections and cut the open ones: the IdP is gone."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class DiscoveryDocument:
    """Serves an OIDC discovery document on a loopback port, ``start()``/``stop()`` at will.

    The devenv's Keycloak announces a fixed issuer, so its discovery cannot be taken away
    without stopping the Keycloak every test shares: a hub whose issuer is this address sees
    the IdP down at start (nothing listens) and back (the document), while tokens and claims
    still come from the real Keycloak through the endpoints the document names.
    """

    def __init__(self, port: int, endpoints: dict[str, str]) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}/realms/unilim"
        self.document = json.dumps({"issuer": self.issuer, **endpoints}).encode()
        self._server: http.server.HTTPServer | None = None

    def start(self) -> None:
        body = self.document

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        http.server.HTTPServer.allow_reuse_address = True
        self._server = http.server.HTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
