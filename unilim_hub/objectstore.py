"""S3 (MinIO / SeaweedFS) credentials confined to what one user may touch.

The hub holds one admin key. For each user it asks the S3 server's STS endpoint for
temporary credentials (`AssumeRole` without a RoleArn, which both MinIO and SeaweedFS
accept from an admin identity) carrying an inline session policy: the server then
enforces that policy on every request made with those credentials.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError
from botocore.httpsession import URLLib3Session

# AWS (and MinIO, SeaweedFS) refuse larger inline session policies.
MAX_SESSION_POLICY_CHARS = 2048

USERS_BUCKET = "unilim-users"

# Characters that would widen a policy (wildcards, policy variables) or break an ARN.
_FORBIDDEN_IN_NAMES = ("*", "?", "$", "{", "}", "\\")

_READ = ("s3:GetObject",)
_WRITE = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


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


@dataclass(frozen=True)
class Prefix:
    """A key prefix in a bucket: `""` is the whole bucket, otherwise it ends with `/`."""

    bucket: str
    prefix: str = ""

    def __post_init__(self) -> None:
        for part in (self.bucket, self.prefix):
            if any(char in part for char in _FORBIDDEN_IN_NAMES):
                raise ValueError(f"unsafe character in S3 bucket or prefix {part!r}")
        if not self.bucket or "/" in self.bucket:
            raise ValueError(f"invalid bucket name {self.bucket!r}")
        # Without the slash, "users/al" would also grant "users/alice/".
        if self.prefix and not self.prefix.endswith("/"):
            raise ValueError(f"prefix {self.prefix!r} must end with '/'")

    @property
    def objects_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.prefix}*"


def user_prefix(username: str, bucket: str = USERS_BUCKET) -> Prefix:
    """Where a user's own objects live: `users/<name>/` in the users bucket."""
    if not username or "/" in username:
        raise ValueError(f"invalid user name for an S3 prefix: {username!r}")
    return Prefix(bucket, f"users/{username}/")


def session_policy(
    *, read_write: Sequence[Prefix] = (), read_only: Sequence[Prefix] = ()
) -> dict[str, Any]:
    """An IAM policy allowing list+read on every prefix and write on `read_write` only."""
    readable = [*read_write, *read_only]
    if not readable:
        raise ValueError("a session policy needs at least one prefix")
    statements: list[dict[str, Any]] = [
        *_list_statements(readable),
        _allow(_READ, [p.objects_arn for p in readable]),
    ]
    if read_write:
        statements.append(_allow(_WRITE, [p.objects_arn for p in read_write]))
    return {"Version": "2012-10-17", "Statement": statements}


def user_session_policy(username: str, courses: Sequence[Prefix] = ()) -> dict[str, Any]:
    """The policy of one user: their own prefix read/write, their courses read-only."""
    return session_policy(read_write=[user_prefix(username)], read_only=courses)


def _allow(actions: Iterable[str], resources: list[str]) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resources}


def _list_statements(prefixes: Iterable[Prefix]) -> list[dict[str, Any]]:
    # ListBucket is a bucket-level action: the prefix is confined by a condition.
    by_bucket: dict[str, list[str]] = defaultdict(list)
    for p in prefixes:
        by_bucket[p.bucket].extend([p.prefix, f"{p.prefix}*"] if p.prefix else ["*"])
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": patterns}},
        }
        for bucket, patterns in by_bucket.items()
    ]


def assume_role(
    endpoint: str,
    access_key: str,
    secret_key: str,
    *,
    session_policy: dict[str, Any],
    duration_seconds: int,
    session_name: str = "unilim-hub",
    region: str = "us-east-1",
    timeout: float = 10,
) -> TemporaryCredentials:
    """Temporary credentials for `access_key`'s own identity, narrowed by `session_policy`.

    boto3's STS client insists on a RoleArn, which the S3 servers we target do not
    want here, so the request is signed (SigV4, service "sts") and sent by hand.
    """
    policy = json.dumps(session_policy, separators=(",", ":"))
    if len(policy) > MAX_SESSION_POLICY_CHARS:
        raise ValueError(
            f"session policy is {len(policy)} characters, the limit is {MAX_SESSION_POLICY_CHARS}"
        )
    body = urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleSessionName": session_name,
            "DurationSeconds": str(duration_seconds),
            "Policy": policy,
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


def _send(request: AWSRequest, timeout: float) -> tuple[int, str]:
    # A bare session: no proxy from the environment, no retries hiding an error.
    session = URLLib3Session(timeout=timeout)
    try:
        response = session.send(request.prepare())
    except BotoCoreError as error:
        raise STSError(f"STS endpoint {request.url} unreachable: {error}") from error
    finally:
        session.close()
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
