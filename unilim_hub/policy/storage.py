"""What each person may touch in S3: key prefixes, and the session policy that confines them.

The hub asks the S3 server for temporary credentials carrying an inline session policy
(see :mod:`unilim_hub.objectstore`); the server enforces it on every request. A name that
widens a policy (``*``, ``..``, a look-alike asterisk, a newline) must never reach it, so
:class:`Prefix` accepts only a short alphabet, whatever the caller checked before.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# AWS, MinIO and SeaweedFS refuse larger inline session policies (characters of the JSON).
MAX_SESSION_POLICY_CHARS = 2048
# S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens.
BUCKET_NAME = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
# One segment of a prefix: ASCII only (no look-alike of `*`), no leading dot (no `.`, `..`).
_SEGMENT = re.compile(r"\A[A-Za-z0-9_@-][A-Za-z0-9._@-]{0,127}\Z")

_READ = ("s3:GetObject",)
_WRITE = (
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


class UnsafeName(ValueError):
    """A bucket or prefix that could widen a policy: a bug in the caller, never user input."""


@dataclass(frozen=True)
class Prefix:
    """A key prefix in a bucket: ``""`` is the whole bucket, otherwise ``a/b/`` (ends with ``/``).

    Raises :class:`UnsafeName` for anything outside the safe alphabet.
    """

    bucket: str
    prefix: str = ""

    def __post_init__(self) -> None:
        if not BUCKET_NAME.fullmatch(self.bucket):
            raise UnsafeName(f"invalid S3 bucket name {self.bucket!r}")
        if not self.prefix:
            return
        # Without the final slash, "users/al" would also grant "users/alice/".
        if not self.prefix.endswith("/"):
            raise UnsafeName(f"S3 prefix {self.prefix!r} must end with '/'")
        for segment in self.prefix[:-1].split("/"):
            if not _SEGMENT.fullmatch(segment):
                raise UnsafeName(f"unsafe segment {segment!r} in S3 prefix {self.prefix!r}")

    @property
    def objects_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.prefix}*"


def user_prefix(bucket: str, username: str) -> Prefix:
    """Where a user's own objects live: ``users/<name>/`` in the users bucket."""
    return Prefix(bucket, f"users/{_one_segment(username)}/")


def course_prefix(bucket: str, course: str) -> Prefix:
    """Where a course's data lives: ``<course>/`` in the courses bucket."""
    return Prefix(bucket, f"{_one_segment(course)}/")


def _one_segment(name: str) -> str:
    if not _SEGMENT.fullmatch(name):
        raise UnsafeName(f"{name!r} cannot name an S3 prefix")
    return name


@dataclass(frozen=True)
class SessionPolicy:
    """An IAM policy short enough to be sent as an inline session policy."""

    document: Mapping[str, Any]
    text: str = field(repr=False)  # the compact JSON sent to the S3 server


@dataclass(frozen=True)
class PolicyTooLong:
    """The policy would exceed the S3 server's limit: grant fewer prefixes (e.g. courses)."""

    chars: int
    limit: int
    prefixes: int  # how many prefixes it tried to grant


def session_policy(
    *, read_write: Sequence[Prefix] = (), read_only: Sequence[Prefix] = ()
) -> SessionPolicy | PolicyTooLong:
    """List and read on every prefix, write on ``read_write`` only.

    Raises ``ValueError`` when given no prefix at all (a policy that grants nothing).
    """
    readable = [*read_write, *read_only]
    if not readable:
        raise ValueError("a session policy needs at least one prefix")
    statements: list[dict[str, Any]] = [
        *_list_statements(readable),
        _allow(_READ, [p.objects_arn for p in readable]),
    ]
    if read_write:
        statements.append(_allow(_WRITE, [p.objects_arn for p in read_write]))
    document = {"Version": "2012-10-17", "Statement": statements}
    text = json.dumps(document, separators=(",", ":"))
    if len(text) > MAX_SESSION_POLICY_CHARS:
        return PolicyTooLong(len(text), MAX_SESSION_POLICY_CHARS, len(readable))
    return SessionPolicy(document, text)


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
