"""The typed configuration of unilim-hub, as the rest of the policy core sees it.

Built and validated from the traits by :mod:`unilim_hub.policy.config`; quantities are
integers (millicores, bytes) so that sums and comparisons are exact.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

LANGUAGES = ("fr", "en")
# The scope the course service checks; unilim-hub declares it (JupyterHub.custom_scopes).
COURSE_MANAGE_SCOPE = "custom:courses:manage"
# The key of the spawner's state (JupyterHub's server model ``state``) naming the room a
# running server was placed in: how the course service learns it.
ROOM_STATE = "unilim_room"


@dataclass(frozen=True)
class Text:
    """A text shown to people, in French and English."""

    fr: str
    en: str

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True)
class Size:
    """One size a profile offers: what the server is guaranteed and may use."""

    slug: str
    display_name: Text
    cpu_guarantee: int  # millicores
    cpu_limit: int
    mem_guarantee: int  # bytes
    mem_limit: int
    gpu: int = 0


@dataclass(frozen=True)
class Profile:
    """A catalog profile: an image with its allowed tags, its sizes and who may use it."""

    slug: str
    display_name: Text
    description: Text
    image: str  # repository, without tag
    tags: tuple[str, ...]  # allowed tags, the first is the default
    sizes: tuple[Size, ...]  # the first is the default
    groups: frozenset[str]  # groups allowed to use it outside courses
    default: bool = False
    course_only: bool = False

    def size(self, slug: str) -> Size | None:
        return next((size for size in self.sizes if size.slug == slug), None)


@dataclass(frozen=True)
class GroupQuota:
    """Limits for one group. ``None`` means no limit of that kind."""

    group: str
    servers: int | None = None  # concurrent servers
    cpu: int | None = None  # pooled CPU guarantees, millicores
    memory: int | None = None  # pooled memory guarantees, bytes
    server_cpu_limit: int | None = None  # ceiling for one server
    server_mem_limit: int | None = None
    server_gpu_limit: int | None = None  # GPUs one server may ask for
    named_servers: int | None = None  # named servers per user; 0: none
    priority: int = 0  # the highest-priority group of a user is the one charged
    home_size: int | None = None  # bytes; a user gets the largest among their groups


@dataclass(frozen=True)
class Room:
    """A server room: the nodes it holds and whether it takes new servers."""

    name: str
    display_name: Text
    node_selector: Mapping[str, str]
    maintenance: bool = False
    weight: int = 1  # its share of the servers, relative to the other rooms'

    def holds(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with these labels is one of this room's."""
        return all(labels.get(key) == value for key, value in self.node_selector.items())


class S3Mode(StrEnum):
    """How user pods get S3 credentials."""

    OFF = "off"
    STS = "sts"  # the hub asks the S3 server for scoped temporary credentials
    WEB_IDENTITY = "web-identity"  # pods exchange the user's SSO token themselves


@dataclass(frozen=True)
class S3Settings:
    mode: S3Mode = S3Mode.OFF
    endpoint: str = ""
    users_bucket: str = "unilim-users"
    courses_bucket: str = "unilim-courses"
    region: str = "us-east-1"  # signing region; MinIO's and SeaweedFS's default
    # How long the credentials of one issue last (STS allows 900 to 43,200 seconds), and
    # how often the hub issues new ones while the server runs (at most half of it).
    credentials_duration: int = 3600
    refresh_interval: int = 1800  # the configuration's 0 means half of the duration
    strict: bool = False  # no S3 credentials at start: fail the start instead of a notice


@dataclass(frozen=True)
class Storage:
    home_storage_class: str = ""  # "" means the cluster's default storage class
    home_size: int = 10 * 1024**3
    course_storage_class: str = ""
    course_size: int = 50 * 1024**3
    course_folders: bool = True  # the admins' ceiling of every course's folder switch
    s3: S3Settings = field(default_factory=S3Settings)


@dataclass(frozen=True)
class GroupNaming:
    """How the university's SSO groups are named, shared by every part of unilim-hub."""

    affiliations: frozenset[str] = frozenset({"student", "staff", "faculty"})
    course_prefix: str = "course-"
    teacher_prefix: str = "teacher-"
    admin_groups: frozenset[str] = frozenset()

    def course_of(self, group: str) -> str | None:
        """The course code of a course group (``course-info101`` -> ``info101``)."""
        return _suffix(group, self.course_prefix)

    def taught_course_of(self, group: str) -> str | None:
        """The course code of a teacher-of-course group (``teacher-info101`` -> ``info101``)."""
        return _suffix(group, self.teacher_prefix)

    def course_roles(
        self, groups: Iterable[str], left_out: Collection[str] = ()
    ) -> tuple[list[str], list[str]]:
        """The course codes ``groups`` teach, and those they only follow (a teacher who
        is also in the course group teaches it), each sorted, none of ``left_out``."""
        names = set(groups)
        taught = {c for g in names if (c := self.taught_course_of(g)) is not None}
        followed = {c for g in names if (c := self.course_of(g)) is not None} - taught
        off = set(left_out)
        return sorted(taught - off), sorted(followed - off)

    def courses(self, groups: Iterable[str]) -> dict[str, str]:
        """Course code -> course group, for each course ``groups`` follow or teach."""
        found = {}
        for group in groups:
            if (code := self.course_of(group) or self.taught_course_of(group)) is not None:
                found[code] = self.course_prefix + code
        return found

    def property_groups(self, groups: Iterable[str]) -> frozenset[str]:
        """The groups whose properties shape a person's profiles and quotas.

        Their own groups, and the course group of each course they teach: a teacher is
        usually not a member of the course group, yet teaches with its profiles.
        """
        names = frozenset(groups)
        return names | frozenset(self.courses(names).values())

    def is_known(self, group: str) -> bool:
        return (
            group in self.affiliations
            or group in self.admin_groups
            or self.course_of(group) is not None
            or self.taught_course_of(group) is not None
        )


@dataclass(frozen=True)
class ClaimRules:
    """Which SSO claims say what, and how their values become groups and teacher roles."""

    groups_claim: str = "groups"
    affiliation_claim: str = "affiliation"
    # Affiliation value -> group. A value absent here maps to the group of the same name
    # when that is an affiliation group; any other value is ignored.
    affiliation_map: Mapping[str, str] = field(default_factory=dict)
    # Scopes of a teacher's role for one course: ``{course}`` is the course code,
    # ``{course_group}`` the course group's name.
    # The access scope lets teachers open the course service (admins have access:services).
    teacher_scopes: tuple[str, ...] = (
        COURSE_MANAGE_SCOPE + "!group={course_group}",
        "access:services!service=courses",
    )
    # Groups whose members may log in; empty: the affiliation groups.
    allowed_groups: frozenset[str] = frozenset()


_COURSE_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")


def _suffix(group: str, prefix: str) -> str | None:
    code = group.removeprefix(prefix)
    if prefix and code != group and _COURSE_CODE.match(code):
        return code
    return None


@dataclass(frozen=True)
class Settings:
    """Everything unilim-hub's policy needs from the baseline configuration."""

    groups: GroupNaming
    catalog: tuple[Profile, ...]
    quotas: Mapping[str, GroupQuota]
    rooms: tuple[Room, ...]
    storage: Storage
    # Servers the rooms that take new servers may hold while another room does not (down
    # or in maintenance); ``None``: only their capacity limits them.
    degraded_server_limit: int | None = None
    default_language: str = "fr"
    timezone: str = "Europe/Paris"  # an IANA name, checked by the adapter (it needs tzdata)
    claims: ClaimRules = field(default_factory=ClaimRules)

    def profile(self, slug: str) -> Profile | None:
        return next((profile for profile in self.catalog if profile.slug == slug), None)
