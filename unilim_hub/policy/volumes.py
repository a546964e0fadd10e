"""Volumes of a user's server: the home and the course folders, their names, paths and sizes.

Usernames come from the SSO and course codes from group names: either may hold capitals,
dots, accents or be very long. A Kubernetes object name must be a lower-case DNS label,
and a mount path must never climb out of the home (``..``) or into another folder (``/``).
:func:`safe_name` maps any text to a valid DNS label, keeping a name that is already one
as it is (``alice`` -> ``alice``) and otherwise adding a hash of the exact text, so two
different names never share a volume. It follows KubeSpawner's "safe" slug scheme, so a
home keeps KubeSpawner's name for simple usernames (``claim-alice``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from .models import GroupNaming, GroupQuota

# A DNS label (RFC 1035): what every Kubernetes object and label value accepts.
DNS_LABEL = re.compile(r"\A[a-z]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_HASH_CHARS = 8
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
# A folder name kept as it is under ~/courses: starts with a letter or digit, so never
# `.` or `..`, and no `/`.
_FOLDER = re.compile(r"\A[a-z0-9][a-z0-9_.-]{0,62}\Z")

HOME_CLAIM_PREFIX = "claim-"  # KubeSpawner's, kept so that existing homes stay attached
COURSE_CLAIM_PREFIX = "course-"
HOME_PATH = "/home/jovyan"  # the home of the Jupyter Docker Stacks images
COURSES_FOLDER = "courses"
# Room for the prefixes within a DNS label (63 characters).
MAX_SLUG = 48


def safe_name(name: str, max_length: int = MAX_SLUG) -> str:
    """A DNS label for ``name``: itself when already one, else a slug and a hash of it.

    A name kept as it is never holds ``--``; a hashed one always holds ``---``: the two
    kinds never collide, and two hashed names differ unless their SHA-256 prefixes do not.
    """
    if "--" not in name and len(name) <= max_length and DNS_LABEL.match(name):
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    room = max_length - _HASH_CHARS - 3
    slug = _NOT_ALPHANUMERIC.sub("-", name.lower()).strip("-")[:room].rstrip("-")
    if not slug[:1].isalpha():
        slug = ("x-" + slug)[:room].rstrip("-")
    return f"{slug}---{digest}"


def home_claim_name(username: str) -> str:
    """The name of a user's home volume (one per user, shared by their named servers)."""
    return HOME_CLAIM_PREFIX + safe_name(username)


def course_claim_name(course: str) -> str:
    """The name of a course's shared folder volume."""
    return COURSE_CLAIM_PREFIX + safe_name(course)


def course_folder(course: str) -> str:
    """The folder of a course under ``~/courses``: the course code when it is a safe
    folder name, else its safe name (never ``.``, ``..`` or a path with ``/``)."""
    if "--" not in course and _FOLDER.match(course):
        return course
    return safe_name(course)


def course_mount_path(course: str, home: str = HOME_PATH) -> str:
    """Where a course's folder appears in the server: ``~/courses/<course>``."""
    return f"{home}/{COURSES_FOLDER}/{course_folder(course)}"


@dataclass(frozen=True)
class CourseVolume:
    """One course folder in a server: which volume, where, and whether it may be written."""

    course: str
    claim: str
    mount_path: str
    read_only: bool


def course_volumes(
    groups: Iterable[str], naming: GroupNaming, switched_off: Collection[str] = ()
) -> tuple[CourseVolume, ...]:
    """The course folders a person sees: read-write where they teach, read-only where
    they study. A teacher who is also in the course group still writes. The courses
    ``switched_off`` (their folder switched off by a teacher) are left out, for teachers
    and students alike: the volume stays, it is only no longer mounted."""
    taught, followed = naming.course_roles(groups, switched_off)
    return tuple(
        CourseVolume(
            course=course,
            claim=course_claim_name(course),
            mount_path=course_mount_path(course),
            read_only=course not in taught,
        )
        for course in sorted([*taught, *followed])
    )


def home_size(
    groups: Iterable[str],
    baseline: Mapping[str, GroupQuota],
    overrides: Mapping[str, Mapping[str, int]],
    default: int,
) -> int:
    """The size of a user's home: the most generous ``home_size`` among their groups
    (``group_quotas`` or the property ``quota.home_size``), else ``default``."""
    sizes = []
    for group in set(groups):
        override = overrides.get(group, {})
        if "home_size" in override:
            sizes.append(override["home_size"])
        elif (value := getattr(baseline.get(group), "home_size", None)) is not None:
            sizes.append(value)
    return max(sizes, default=default)


def needs_expansion(requested: int | None, wanted: int) -> bool:
    """Whether to ask for a larger volume. Volumes only grow: a smaller size is ignored."""
    return requested is None or wanted > requested
