"""Which environments a user may pick: the catalog by group, then their courses' profiles.

One pure function, :func:`visible`, answers for the picker and again at spawn time, so
what a user cannot see they cannot start, whichever way the request comes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from .catalog import COURSE_SEPARATOR
from .models import GroupQuota, Profile, Settings, Size, Text
from .problems import Problem
from .properties import CourseAssignment, GroupProperties
from .quotas import charged_quota, effective_quota


@dataclass(frozen=True)
class Choice:
    """One entry of the picker: a profile, for a course or from the catalog."""

    slug: str  # unique in the list: "python", or "info101--python" for a course profile
    profile: Profile
    tag: str  # the image tag the server runs
    sizes: tuple[Size, ...]  # the sizes offered, the first preselected
    course: str | None = None
    default: bool = False

    @property
    def image(self) -> str:
        return f"{self.profile.image}:{self.tag}"

    def display_name(self, language: str) -> str:
        name = self.profile.display_name.get(language)
        return f"{self.course} — {name}" if self.course else name

    @property
    def description(self) -> Text:
        return self.profile.description


def course_slug(course: str, profile: str) -> str:
    return f"{course}{COURSE_SEPARATOR}{profile}"


def visible(
    groups: Collection[str],
    properties: Mapping[str, GroupProperties],
    settings: Settings,
    today: date,
    last_choice: str | None = None,
) -> tuple[Choice, ...]:
    """The profiles a member of ``groups`` may start today, in display order.

    Course profiles come first (courses by code), for the courses the user follows or
    teaches; then catalog profiles allowed to one of their groups. A course can only offer
    a profile its member may use anyway, or a ``course_only`` one. Sizes above the
    per-server ceiling of the user's charged group (and of the course) are not offered.
    Exactly one choice is the default: the last one used if still visible, else the first
    course profile, else the catalog default, else the first entry.
    """
    member_of = frozenset(groups)
    overrides = {group: parsed.quota for group, parsed in properties.items()}
    ceiling = _Ceiling.of(charged_quota(member_of, settings.quotas, overrides))
    choices = [
        *_course_choices(member_of, properties, settings, today, ceiling),
        *_catalog_choices(member_of, settings, ceiling),
    ]
    return _with_default(choices, last_choice)


@dataclass(frozen=True)
class _Ceiling:
    """The most one server may use; ``None`` for no limit."""

    cpu: int | None = None
    mem: int | None = None

    @classmethod
    def of(cls, quota: GroupQuota | None) -> _Ceiling:
        return cls(quota.server_cpu_limit, quota.server_mem_limit) if quota else cls()

    def tighter(self, other: _Ceiling) -> _Ceiling:
        return _Ceiling(_smallest(self.cpu, other.cpu), _smallest(self.mem, other.mem))

    def admits(self, size: Size) -> bool:
        return (self.cpu is None or size.cpu_limit <= self.cpu) and (
            self.mem is None or size.mem_limit <= self.mem
        )


def _smallest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _courses(groups: Collection[str], settings: Settings) -> list[tuple[str, str]]:
    """(course code, course group) for each course the user follows or teaches, by code."""
    naming = settings.groups
    courses: dict[str, str] = {}
    for group in groups:
        if (code := naming.course_of(group) or naming.taught_course_of(group)) is not None:
            courses[code] = naming.course_prefix + code
    return sorted(courses.items())


def _course_choices(
    member_of: frozenset[str],
    properties: Mapping[str, GroupProperties],
    settings: Settings,
    today: date,
    ceiling: _Ceiling,
) -> list[Choice]:
    choices = []
    for code, course_group in _courses(member_of, settings):
        course = properties.get(course_group, GroupProperties())
        course_quota = effective_quota(course_group, settings.quotas, course.quota)
        course_ceiling = ceiling.tighter(_Ceiling.of(course_quota))
        for assignment in course.course_profiles:
            profile = settings.profile(assignment.profile)
            if profile is None or not _offered(assignment, today):
                continue
            if profile.course_only or profile.groups & member_of:
                choice = _course_choice(code, profile, assignment, course_ceiling)
                choices.extend([choice] if choice else [])
    return choices


def _offered(assignment: CourseAssignment, today: date) -> bool:
    return (
        not assignment.withdrawn
        and (assignment.start is None or assignment.start <= today)
        and (assignment.end is None or today <= assignment.end)
    )


def _course_choice(
    code: str, profile: Profile, assignment: CourseAssignment, ceiling: _Ceiling
) -> Choice | None:
    """The course's choice, or ``None`` if its pinned tag or size is not the catalog's."""
    if assignment.tag is not None and assignment.tag not in profile.tags:
        return None
    pinned = profile.size(assignment.size) if assignment.size else None
    if assignment.size and pinned is None:
        return None
    sizes = tuple(size for size in ((pinned,) if pinned else profile.sizes) if ceiling.admits(size))
    if not sizes:
        return None
    tag = assignment.tag or profile.tags[0]
    return Choice(course_slug(code, profile.slug), profile, tag, sizes, course=code)


def _catalog_choices(
    member_of: frozenset[str], settings: Settings, ceiling: _Ceiling
) -> list[Choice]:
    choices = []
    for profile in settings.catalog:
        sizes = tuple(size for size in profile.sizes if ceiling.admits(size))
        if not profile.course_only and profile.groups & member_of and sizes:
            choices.append(
                Choice(profile.slug, profile, profile.tags[0], sizes, default=profile.default)
            )
    return choices


def _with_default(choices: list[Choice], last_choice: str | None) -> tuple[Choice, ...]:
    if not choices:
        return ()
    slugs = [choice.slug for choice in choices]
    if last_choice in slugs:
        chosen = slugs.index(last_choice)
    elif choices[0].course is not None:
        chosen = 0
    else:
        chosen = next((i for i, choice in enumerate(choices) if choice.default), 0)
    return tuple(
        Choice(c.slug, c.profile, c.tag, c.sizes, c.course, default=(i == chosen))
        for i, c in enumerate(choices)
    )


@dataclass(frozen=True)
class Chosen:
    """A start request that matches the user's list: the choice and the size it gets."""

    choice: Choice
    size: Size


@dataclass(frozen=True)
class Refused:
    """A start request for something not in the user's list; ``code`` names the message."""

    code: str
    profile: str = ""
    option: str = ""


SIZE_OPTION = "size"


def choose(choices: tuple[Choice, ...], options: Mapping[str, object]) -> Chosen | Refused:
    """Check a start request (form or REST API ``user_options``) against the visible choices.

    No profile named means the default one; anything not offered is refused, including
    KubeSpawner's free-form ``unlisted_choice`` values, which unilim-hub never offers.
    """
    if not choices:
        return Refused("spawn.no_profile")
    slug = options.get("profile")
    choice = next((c for c in choices if c.slug == slug or (not slug and c.default)), None)
    if choice is None:
        return Refused("spawn.profile_not_allowed", profile=str(slug))
    unlisted = options.get(f"{SIZE_OPTION}--unlisted-choice")
    size_slug = options.get(SIZE_OPTION) or choice.sizes[0].slug
    size = next((s for s in choice.sizes if s.slug == size_slug), None)
    if unlisted or size is None:
        return Refused(
            "spawn.option_not_allowed", profile=choice.slug, option=str(unlisted or size_slug)
        )
    return Chosen(choice, size)


def course_problems(properties: GroupProperties, settings: Settings) -> tuple[Problem, ...]:
    """What in a course's assignments does not match the catalog (each withdraws a profile)."""
    problems = []
    for assignment in properties.course_profiles:
        key = f"course.{assignment.profile}"
        profile = settings.profile(assignment.profile)
        if profile is None:
            problems.append(
                Problem(
                    "course.profiles", "course.unknown_profile", {"profile": assignment.profile}
                )
            )
        elif assignment.tag is not None and assignment.tag not in profile.tags:
            allowed = ", ".join(profile.tags)
            problems.append(
                Problem(
                    f"{key}.tag",
                    "course.tag_not_allowed",
                    {"tag": assignment.tag, "allowed": allowed},
                )
            )
        elif assignment.size is not None and profile.size(assignment.size) is None:
            sizes = ", ".join(size.slug for size in profile.sizes)
            problems.append(
                Problem(
                    f"{key}.size", "course.unknown_size", {"size": assignment.size, "sizes": sizes}
                )
            )
    return tuple(problems)
