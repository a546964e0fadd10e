"""S3 (MinIO / SeaweedFS) credentials confined to what one user may touch.

The hub holds one admin key. For each user it asks the S3 server's STS endpoint for
temporary credentials (`AssumeRole` without a RoleArn, which both MinIO and SeaweedFS
accept from an admin identity) carrying an inline session policy: the server then
enforces that policy on every request made with those credentials. The policies themselves
are built by :mod:`unilim_hub.policy.storage`; this module only talks to the server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from xml.etree import ElementTree

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ConnectionClosedError
from botocore.httpsession import URLLib3Session

from .policy.storage import SessionPolicy


class STSError(RuntimeError):
    """The S3 server refused an STS request, or could not be reached."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class TemporaryCredentials:
    access_key: str
    secret_key: str
    session_token: str
    expiration: datetime


def assume_role(
    endpoint: str,
    access_key: str,
    secret_key: str,
    *,
    policy: SessionPolicy,
    duration_seconds: int,
    session_name: str = "unilim-hub",
    region: str = "us-east-1",
    timeout: float = 10,
) -> TemporaryCredentials:
    """Temporary credentials for `access_key`'s own identity, narrowed by `policy`.

    boto3's STS client insists on a RoleArn, which the S3 servers we target do not
    want here, so the request is signed (SigV4, service "sts") and sent by hand.
    """
    body = urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleSessionName": session_name,
            "DurationSeconds": str(duration_seconds),
            "Policy": policy.text,
        }
    )
    request = AWSRequest(
        method="POST",
        url=endpoint.rstrip("/") + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(access_key, secret_key), "sts", region).add_auth(request)
    status, text = _send(request, timeout)
    if status != 200:
        raise _error_from(status, text)
    return _parse_credentials(text)


_sessions: dict[float, URLLib3Session] = {}
_sessions_lock = threading.Lock()


def _session(timeout: float) -> URLLib3Session:
    """The process's session for STS requests with ``timeout``, shared by the worker
    threads (urllib3's pool is thread-safe): its connections are kept alive, so a class
    start does not open a connection (with HTTPS, a TLS handshake) per server. A bare
    session: no proxy from the environment, no retries hiding an error."""
    with _sessions_lock:
        if timeout not in _sessions:
            _sessions[timeout] = URLLib3Session(timeout=timeout, max_pool_connections=32)
        return _sessions[timeout]


def _send(request: AWSRequest, timeout: float) -> tuple[int, str]:
    prepared = request.prepare()
    try:
        try:
            response = _session(timeout).send(prepared)
        except ConnectionClosedError:
            # A kept-alive connection the server closed just as it was reused: once more,
            # on a new connection (AssumeRole twice only issues a second set of keys).
            response = _session(timeout).send(prepared)
    except BotoCoreError as error:
        raise STSError(f"STS endpoint {request.url} unreachable: {error}") from error
    return response.status_code, response.text


def _xml(text: str) -> ElementTree.Element:
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise STSError(f"STS answered something that is not XML: {text[:200]!r}") from error


def _child_text(root: ElementTree.Element, name: str) -> str:
    """Text of the first element named `name`, whatever its XML namespace."""
    for element in root.iter():
        if element.tag == name or element.tag.endswith("}" + name):
            return (element.text or "").strip()
    return ""


def _error_from(status: int, text: str) -> STSError:
    try:
        root = _xml(text)
    except STSError:
        return STSError(f"STS AssumeRole failed with HTTP {status}: {text[:200]!r}", status=status)
    code = _child_text(root, "Code")
    message = _child_text(root, "Message")
    return STSError(
        f"STS AssumeRole refused (HTTP {status}, {code or 'no code'}): {message}",
        code=code,
        status=status,
    )


def _parse_credentials(text: str) -> TemporaryCredentials:
    root = _xml(text)
    fields = {
        name: _child_text(root, name)
        for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    }
    missing = [name for name, value in fields.items() if not value]
    if missing:
        raise STSError(f"STS answer lacks {', '.join(missing)}: {text[:200]!r}")
    return TemporaryCredentials(
        access_key=fields["AccessKeyId"],
        secret_key=fields["SecretAccessKey"],
        session_token=fields["SessionToken"],
        expiration=datetime.fromisoformat(fields["Expiration"].replace("Z", "+00:00")),
    )
