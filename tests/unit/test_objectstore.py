"""STS answers, without a server (the real one: tests/integration)."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from unilim_hub import objectstore
from unilim_hub.policy.models import GroupNaming, S3Settings
from unilim_hub.policy.s3names import server_grant

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def test_credentials_are_parsed_from_the_sts_answer() -> None:
    answer = f"""<AssumeRoleResponse xmlns="{STS_NS}"><AssumeRoleResult><Credentials>
      <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sec</SecretAccessKey>
      <SessionToken>tok</SessionToken><Expiration>2026-01-02T03:04:05Z</Expiration>
    </Credentials></AssumeRoleResult></AssumeRoleResponse>"""
    credentials = objectstore._parse_credentials(answer)
    assert credentials == objectstore.TemporaryCredentials(
        "ASIAX", "sec", "tok", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )


def test_sts_errors_carry_code_status_and_message() -> None:
    answer = f"""<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type>
      <Code>AccessDenied</Code><Message>not for you</Message></Error></ErrorResponse>"""
    error = objectstore._error_from(403, answer)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "not for you" in str(error)
    assert objectstore._error_from(502, "<html>bad gateway").status == 502


def test_unreachable_endpoint_is_an_sts_error() -> None:
    with pytest.raises(objectstore.STSError, match="unreachable"):
        objectstore.assume_role(
            "http://127.0.0.1:9",
            "k",
            "s",
            policy=server_grant(S3Settings(), GroupNaming(), "alice", []).policy,
            duration_seconds=900,
            timeout=2,
        )


CREDENTIALS = f"""<AssumeRoleResponse xmlns="{STS_NS}"><AssumeRoleResult><Credentials>
  <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sec</SecretAccessKey>
  <SessionToken>tok</SessionToken><Expiration>2026-01-02T03:04:05Z</Expiration>
</Credentials></AssumeRoleResult></AssumeRoleResponse>""".encode()


class KeepAliveSTS(http.server.BaseHTTPRequestHandler):
    """Answers AssumeRole on kept-alive connections; hangs up on the second request of the
    first connection without answering, as a server closing an idle connection would."""

    protocol_version = "HTTP/1.1"  # keep-alive
    connections: ClassVar[list[int]] = []  # requests seen on each connection

    def setup(self) -> None:
        super().setup()
        self.connections.append(0)
        self.mine = len(self.connections) - 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.connections[self.mine] += 1
        if self.mine == 0 and self.connections[0] == 2:
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(CREDENTIALS)))
        self.end_headers()
        self.wfile.write(CREDENTIALS)

    def log_message(self, *args: object) -> None:
        pass


def test_sts_connections_are_kept_alive_and_a_closed_one_is_retried_once() -> None:
    KeepAliveSTS.connections = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveSTS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    policy = server_grant(S3Settings(), GroupNaming(), "alice", []).policy
    try:
        for _ in range(3):
            issued = objectstore.assume_role(
                endpoint, "k", "s", policy=policy, duration_seconds=900, timeout=2.5
            )
            assert issued.access_key == "ASIAX"
    finally:
        server.shutdown()
        server.server_close()
    # The first connection served one request and was hung up on at its second, which
    # the second connection answered, then the third request too: no connection per request.
    assert KeepAliveSTS.connections == [2, 2]
