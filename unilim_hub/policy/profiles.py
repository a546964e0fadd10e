"""Which environments a user may pick: the catalog by group, then their courses' profiles.

One pure function, :func:`visible`, answers for the picker and again at spawn time, so
what a user cannot see they cannot start, whichever way the request comes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from .models import GroupQuota, Profile, Settings, Size, Text
from .properties import CourseAssignment, GroupProperties

COURSE_SEPARATOR = "--"


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
    teaches; then catalog profiles allowed to one of their groups. Exactly one choice is
    the default: the last one used if still visible, else the first course profile, else
    the catalog default, else the first entry.
    """
    choices = [
        *_course_choices(groups, properties, settings, today),
        *_catalog_choices(groups, settings),
    ]
    return _with_default(choices, last_choice)


def _courses(groups: Collection[str], settings: Settings) -> list[tuple[str, str]]:
    """(course code, course group) for each course the user follows or teaches, by code."""
    naming = settings.groups
    courses: dict[str, str] = {}
    for group in groups:
        if (code := naming.course_of(group) or naming.taught_course_of(group)) is not None:
            courses[code] = naming.course_prefix + code
    return sorted(courses.items())


def _course_choices(
    groups: Collection[str],
    properties: Mapping[str, GroupProperties],
    settings: Settings,
    today: date,
) -> list[Choice]:
    choices = []
    for code, course_group in _courses(groups, settings):
        course = properties.get(course_group, GroupProperties())
        ceiling = _ceiling(settings.quotas.get(course_group), course.quota)
        for assignment in course.course_profiles:
            choice = _course_choice(code, assignment, settings, today, ceiling)
            if choice is not None:
                choices.append(choice)
    return choices


@dataclass(frozen=True)
class _Ceiling:
    """The most one server of a course may use; ``None`` for no limit."""

    cpu: int | None
    mem: int | None

    def admits(self, size: Size) -> bool:
        return (self.cpu is None or size.cpu_limit <= self.cpu) and (
            self.mem is None or size.mem_limit <= self.mem
        )


def _ceiling(baseline: GroupQuota | None, override: Mapping[str, int]) -> _Ceiling:
    return _Ceiling(
        cpu=override.get("server_cpu_limit", baseline.server_cpu_limit if baseline else None),
        mem=override.get("server_mem_limit", baseline.server_mem_limit if baseline else None),
    )


def _course_choice(
    code: str, assignment: CourseAssignment, settings: Settings, today: date, ceiling: _Ceiling
) -> Choice | None:
    profile = settings.profile(assignment.profile)
    if profile is None or not _in_dates(assignment, today):
        return None
    tag = assignment.tag if assignment.tag in profile.tags else profile.tags[0]
    pinned = profile.size(assignment.size) if assignment.size else None
    sizes = tuple(size for size in ((pinned,) if pinned else profile.sizes) if ceiling.admits(size))
    if not sizes:
        return None
    return Choice(course_slug(code, profile.slug), profile, tag, sizes, course=code)


def _in_dates(assignment: CourseAssignment, today: date) -> bool:
    return (assignment.start is None or assignment.start <= today) and (
        assignment.end is None or today <= assignment.end
    )


def _catalog_choices(groups: Collection[str], settings: Settings) -> list[Choice]:
    member_of = set(groups)
    return [
        Choice(profile.slug, profile, profile.tags[0], profile.sizes, default=profile.default)
        for profile in settings.catalog
        if not profile.course_only and profile.groups & member_of
    ]


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
