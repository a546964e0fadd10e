"""S3 prefixes for people and courses: safe whatever the name, and never shared by two names.

Usernames come from the SSO (any Unicode, capitals, dots, very long) and course codes may
hold ``..``. A name that is already a plain lower-case word is its own prefix segment
(``alice`` -> ``users/alice/``), so that people recognise their folder; any other name
becomes a readable ASCII stem, ``--`` and a hash of the exact name (``Élodie.M`` ->
``elodie.m--<hash>``). Plain names never contain ``--`` and hashed ones always do, so a
plain name cannot collide with a hashed one; two hashed names collide only if 80 bits of
SHA-256 do.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from .models import GroupNaming, S3Settings
from .storage import PolicyTooLong, Prefix, SessionPolicy, course_prefix, session_policy
from .storage import user_prefix as _user_prefix

# Kept as written: lower-case ASCII letters and digits, single inner dots, `_` and `-`,
# never `--` (the mark of a hashed name), no dot at either end, at most 63 characters.
_PLAIN = re.compile(r"\A[a-z0-9](?:[a-z0-9_]|-(?!-)|\.(?![.-]))*(?<!\.)\Z")
_PLAIN_MAX = 63
_STEM_MAX = 40
_HASH_HEX = 20  # 80 bits
_NOT_STEM = re.compile(r"[^a-z0-9._]+")


def s3_segment(name: str) -> str:
    """The one-segment prefix (no ``/``) that stands for ``name``: safe and distinct."""
    if len(name) <= _PLAIN_MAX and _PLAIN.match(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_HEX]
    return f"{_stem(name)}--{digest}"


def _stem(name: str) -> str:
    """A readable, lower-case ASCII reminder of the name: no `--`, no `..`, no end dot."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    # One "-" for each run of other characters: the stem never holds "--".
    stem = re.sub(r"\.{2,}", ".", _NOT_STEM.sub("-", ascii_name.lower()))
    stem = stem[:_STEM_MAX].strip("-._")
    return re.sub(r"[-.]{2,}", "-", stem) or "x"


def user_prefix(settings: S3Settings, username: str) -> Prefix:
    """The user's own prefix: ``users/<segment>/`` in the users bucket."""
    return _user_prefix(settings.users_bucket, s3_segment(username))


def course_data(settings: S3Settings, course: str) -> Prefix:
    """A course's data: ``<segment>/`` in the courses bucket."""
    return course_prefix(settings.courses_bucket, s3_segment(course))


@dataclass(frozen=True)
class S3Grant:
    """What one server's credentials may touch, and the courses left out to fit the limit."""

    policy: SessionPolicy
    own: Prefix
    taught: tuple[str, ...]  # course codes, read-write
    followed: tuple[str, ...]  # course codes, read-only
    left_out: tuple[str, ...] = ()  # course codes that did not fit in the session policy


def server_grant(
    settings: S3Settings,
    naming: GroupNaming,
    username: str,
    groups: Iterable[str],
    switched_off: Collection[str] = (),
) -> S3Grant:
    """Own prefix read-write, taught courses read-write, followed courses read-only;
    none of the courses ``switched_off`` (their S3 data switched off by a teacher).

    A session policy has a size limit: when every course does not fit, courses are left
    out from the last (followed courses before taught ones, then by code), and the grant
    says which, so the person can be told. The user's own prefix always fits.
    """
    taught, followed = naming.course_roles(groups, switched_off)
    own = user_prefix(settings, username)
    courses = [*taught, *followed]
    for kept in range(len(courses), -1, -1):
        policy = _policy(settings, own, taught[:kept], followed[: max(0, kept - len(taught))])
        if isinstance(policy, SessionPolicy):
            return S3Grant(
                policy,
                own,
                tuple(taught[:kept]),
                tuple(followed[: max(0, kept - len(taught))]),
                tuple(courses[kept:]),
            )
    raise AssertionError("a user's own prefix always fits in a session policy")


def _policy(
    settings: S3Settings, own: Prefix, taught: Sequence[str], followed: Sequence[str]
) -> SessionPolicy | PolicyTooLong:
    return session_policy(
        read_write=[own, *(course_data(settings, c) for c in taught)],
        read_only=[course_data(settings, c) for c in followed],
    )
