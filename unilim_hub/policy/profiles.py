"""Which environments a user may pick: the catalog by group, then their courses' profiles.

One pure function, :func:`offer`, answers for the picker and again at spawn time, so
what a user cannot see they cannot start, whichever way the request comes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from .catalog import COURSE_SEPARATOR
from .models import Profile, Settings, Size, Text
from .problems import Problem
from .properties import CourseAssignment, GroupProperties
from .quantities import format_cpu, format_memory
from .quotas import Ceiling, Limit, course_ceiling, user_ceiling
from .refusal import Refusal
from .untrusted import shown


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


@dataclass(frozen=True)
class Hidden:
    """Something the user would see but for one cause, so that "nothing to offer" and a
    refused start can name that cause instead of blaming the user's groups.

    ``code`` names the message; ``params`` fill it; ``limit`` is the admin setting that
    hides it when that is the cause (the hub log names it).
    """

    slug: str
    code: str
    params: Mapping[str, str] = field(default_factory=dict)
    limit: Limit | None = None


@dataclass(frozen=True)
class Offer:
    """What a user may start today, and what is hidden from them and why."""

    choices: tuple[Choice, ...]
    hidden: tuple[Hidden, ...] = ()


def offer(
    groups: Collection[str],
    properties: Mapping[str, GroupProperties],
    settings: Settings,
    today: date,
    last_choice: str | None = None,
) -> Offer:
    """The profiles a member of ``groups`` may start today, and those hidden by one cause.

    Course profiles come first (courses by code), for the courses the user follows or
    teaches; then catalog profiles allowed to one of their groups. A course can only offer
    a profile its member may use anyway, or a ``course_only`` one. Sizes above the user's
    per-server ceiling (:func:`~.quotas.user_ceiling`; for a course profile,
    :func:`~.quotas.course_ceiling`) are not offered. Exactly one choice is the default:
    the last one used if still visible, else the first course profile, else the catalog
    default, else the first entry.
    """
    member_of = frozenset(groups)
    overrides = {group: parsed.quota for group, parsed in properties.items()}
    ceiling = user_ceiling(member_of, settings.quotas, overrides, settings.groups)
    hidden: list[Hidden] = []
    choices = [
        *_course_choices(member_of, properties, settings, today, ceiling, hidden=hidden),
        *_catalog_choices(member_of, settings, ceiling, hidden),
    ]
    return Offer(_with_default(choices, last_choice), tuple(hidden))


def _course_choices(
    member_of: frozenset[str],
    properties: Mapping[str, GroupProperties],
    settings: Settings,
    today: date,
    ceiling: Ceiling,
    *,
    hidden: list[Hidden],
) -> list[Choice]:
    choices = []
    for code, course_group in sorted(settings.groups.courses(member_of).items()):
        course = properties.get(course_group, GroupProperties())
        limits = course_ceiling(course_group, ceiling, settings.quotas, course.quota)
        for assignment in course.course_profiles:
            profile = settings.profile(assignment.profile)
            if profile is None or not (profile.course_only or profile.groups & member_of):
                continue
            slug = course_slug(code, profile.slug)
            if assignment.withdrawn or not _matches_catalog(profile, assignment):
                hidden.append(Hidden(slug, "spawn.course_setting_wrong", {"course": code}))
            elif not _offered(assignment, today):
                hidden.append(_outside_dates(slug, code, assignment))
            else:
                choice = _course_choice(code, profile, assignment, limits, hidden)
                choices.extend([choice] if choice else [])
    return choices


def _offered(assignment: CourseAssignment, today: date) -> bool:
    return (assignment.start is None or assignment.start <= today) and (
        assignment.end is None or today <= assignment.end
    )


def _outside_dates(slug: str, code: str, assignment: CourseAssignment) -> Hidden:
    dates = {
        "course": code,
        "start": assignment.start.isoformat() if assignment.start else "…",
        "end": assignment.end.isoformat() if assignment.end else "…",
    }
    return Hidden(slug, "spawn.outside_course_dates", dates)


def _matches_catalog(profile: Profile, assignment: CourseAssignment) -> bool:
    """Whether the course's pinned tag and size are the catalog's (see course_problems)."""
    tag_ok = assignment.tag is None or assignment.tag in profile.tags
    return tag_ok and (assignment.size is None or profile.size(assignment.size) is not None)


def _course_choice(
    code: str,
    profile: Profile,
    assignment: CourseAssignment,
    ceiling: Ceiling,
    hidden: list[Hidden],
) -> Choice | None:
    """The course's choice, or ``None`` if the ceiling admits none of its sizes."""
    pinned = profile.size(assignment.size) if assignment.size else None
    slug = course_slug(code, profile.slug)
    sizes = _sizes_below(slug, (pinned,) if pinned else profile.sizes, ceiling, hidden)
    if not sizes:
        return None
    tag = assignment.tag or profile.tags[0]
    return Choice(slug, profile, tag, sizes, course=code)


def _sizes_below(
    slug: str, sizes: tuple[Size, ...], ceiling: Ceiling, hidden: list[Hidden]
) -> tuple[Size, ...]:
    """The sizes the ceiling admits; if none, why the profile is hidden."""
    admitted = tuple(size for size in sizes if ceiling.blocking(size) is None)
    if not admitted and sizes:
        smallest = min(sizes, key=lambda size: (size.mem_limit, size.cpu_limit))
        limit = ceiling.blocking(smallest)
        assert limit is not None  # not admitted, so some limit blocks it
        hidden.append(Hidden(slug, "spawn.above_ceiling", ceiling_params(limit, smallest), limit))
    return admitted


# How each ceiling and the size's wish for it read: "2" CPU, "4G", "1" GPU.
_SHOWN_LIMITS: Mapping[str, tuple[Callable[[int], str], Callable[[Size], int]]] = {
    "server_cpu_limit": (format_cpu, lambda size: size.cpu_limit),
    "server_mem_limit": (format_memory, lambda size: size.mem_limit),
    "server_gpu_limit": (lambda gpus: f"{gpus} GPU", lambda size: size.gpu),
}


def ceiling_params(limit: Limit, size: Size) -> dict[str, str]:
    show, wanted = _SHOWN_LIMITS[limit.field]
    return {
        "group": limit.group,
        "setting": limit.setting,
        "value": show(limit.value),
        "needed": show(wanted(size)),
        "size": size.slug,
    }


def _catalog_choices(
    member_of: frozenset[str], settings: Settings, ceiling: Ceiling, hidden: list[Hidden]
) -> list[Choice]:
    choices = []
    for profile in settings.catalog:
        if profile.course_only or not profile.groups & member_of:
            continue
        sizes = _sizes_below(profile.slug, profile.sizes, ceiling, hidden)
        if sizes:
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


# Why nothing is offered, most telling first: an admin's limit or a course's setting can
# be fixed, dates pass; "none of your groups" is left for when nothing else explains it.
_NOTHING = {
    "spawn.above_ceiling": "spawn.nothing_above_ceiling",
    "spawn.course_setting_wrong": "spawn.nothing_course_setting_wrong",
    "spawn.outside_course_dates": "spawn.nothing_outside_course_dates",
}


def nothing_offered(hidden: tuple[Hidden, ...]) -> Hidden:
    """The reason given when no profile is offered: the first hidden cause by importance."""
    for code, nothing in _NOTHING.items():
        cause = next((item for item in hidden if item.code == code), None)
        if cause is not None:
            return replace(cause, code=nothing)
    return Hidden("", "spawn.no_profile")


@dataclass(frozen=True)
class Chosen:
    """A start request that matches the user's list: the choice and the size it gets."""

    choice: Choice
    size: Size


SIZE_OPTION = "size"
UNLISTED_SIZE = f"{SIZE_OPTION}--unlisted-choice"
# The options a start request may carry: the form's (through KubeSpawner) and the REST API's.
START_OPTIONS = ("profile", SIZE_OPTION, UNLISTED_SIZE)
# Far longer than any slug (63 characters): longer texts are not names of anything.
MAX_OPTION_LENGTH = 200


def malformed(options: object) -> Refusal | None:
    """Why a start request's options are not a request we understand, or ``None``.

    The REST API passes any JSON body: the expected shape is an object whose only keys are
    START_OPTIONS, with texts as values.
    """
    expected = {"expected": ", ".join(START_OPTIONS[:2])}
    if not isinstance(options, Mapping):
        return Refusal("spawn.options_not_object", {"value": shown(options)} | expected, status=400)
    for key, value in options.items():
        if key not in START_OPTIONS:
            return Refusal("spawn.option_unknown", {"key": shown(key)} | expected, status=400)
        if value is not None and not isinstance(value, str):
            return Refusal("spawn.option_not_text", {"key": key, "value": shown(value)}, status=400)
        if value is not None and len(value) > MAX_OPTION_LENGTH:
            limit = {"key": key, "max": str(MAX_OPTION_LENGTH)}
            return Refusal("spawn.option_too_long", limit, status=400)
    return None


def choose(offered: Offer | tuple[Choice, ...], options: object) -> Chosen | Refusal:
    """Check a start request (form or REST API ``user_options``) against what is offered.

    No profile named means the default one; anything not offered is refused, including
    KubeSpawner's free-form ``unlisted_choice`` values, which unilim-hub never offers. A
    refusal names the real cause: a malformed request, a limit, a course's dates or setting,
    and only when nothing else explains it, the user's groups.
    """
    found = offered if isinstance(offered, Offer) else Offer(offered)
    if (wrong := malformed(options)) is not None:
        return wrong
    assert isinstance(options, Mapping)  # malformed() refuses anything else
    slug = options.get("profile")
    choice = next((c for c in found.choices if c.slug == slug or (not slug and c.default)), None)
    if choice is None:
        hidden = next((item for item in found.hidden if slug and item.slug == slug), None)
        if hidden is not None:
            return _refusal(hidden, profile=shown(slug))
        if not found.choices:
            return _refusal(nothing_offered(found.hidden))
        return Refusal("spawn.profile_not_allowed", {"profile": shown(slug)})
    unlisted = options.get(UNLISTED_SIZE)
    size_slug = options.get(SIZE_OPTION) or choice.sizes[0].slug
    size = next((s for s in choice.sizes if s.slug == size_slug), None)
    if unlisted or size is None:
        option = shown(unlisted or size_slug)
        return Refusal("spawn.option_not_allowed", {"profile": choice.slug, "option": option})
    return Chosen(choice, size)


def _refusal(hidden: Hidden, **params: str) -> Refusal:
    return Refusal(hidden.code, {**hidden.params, **params}, hidden.limit)


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
