"""Group properties: the run-time policy admins and the course service keep in the hub database.

The JupyterHub admin panel edits group properties as flat text, so every value may come
as a string (``"2"``, ``"4G"``, ``"python, r"``) or, through the REST API, as JSON.
Keys we own live under two prefixes:

``quota.<field>``
    overrides one field of the group's baseline quota (``quota.servers = 150``).
``course.profiles``, ``course.<profile>.<field>``
    the catalog profiles assigned to a course group, and per assignment an image
    ``tag``, a ``size``, and ``start``/``end`` dates.
``course.description``
    the teacher's free text about the course's environment (shown escaped, never parsed).
``course.folder``, ``course.s3``
    the course's switches: whether its members' servers mount the course folder, and
    whether their S3 credentials reach the course's data (``on``/``off``; unset is on,
    within what the admins' configuration allows).

Parsing never raises: a bad value is left out and reported as a :class:`Problem`, so
the spawn falls back to the baseline and the admin status page can show what is wrong.
Keys outside these prefixes belong to someone else and are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .models import GroupNaming
from .problems import InvalidValue, Problem
from .quantities import parse_date, parse_name, parse_names, parse_switch
from .quotas import QUOTA_FIELDS

QUOTA_PREFIX = "quota."
COURSE_PREFIX = "course."
COURSE_PROFILES = "course.profiles"
COURSE_DESCRIPTION = "course.description"
COURSE_FOLDER = "course.folder"
COURSE_S3 = "course.s3"
COURSE_SWITCHES = (COURSE_FOLDER, COURSE_S3)
# Keys of the course itself, not of one of its profiles' assignments.
_COURSE_KEYS = (COURSE_PROFILES, COURSE_DESCRIPTION, *COURSE_SWITCHES)
_ASSIGNMENT_FIELDS: Mapping[str, Callable[[object], object]] = {
    "tag": lambda value: str(value).strip(),
    "size": parse_name,
    "start": parse_date,
    "end": parse_date,
}


@dataclass(frozen=True)
class CourseAssignment:
    """A catalog profile assigned to a course, with the teacher's choices."""

    profile: str
    tag: str | None = None
    size: str | None = None
    start: date | None = None
    end: date | None = None
    withdrawn: bool = False  # one of its settings is wrong: offered to nobody until fixed


@dataclass(frozen=True)
class GroupProperties:
    """What our keys in one group's properties say, and what was wrong with them."""

    quota: Mapping[str, int] = field(default_factory=dict)  # only the fields that are set
    course_profiles: tuple[CourseAssignment, ...] = ()
    problems: tuple[Problem, ...] = ()
    # The course's switches; None: not set (on). A wrong value counts as not set.
    course_folder: bool | None = None
    course_s3: bool | None = None


def parse_group_properties(properties: Mapping[str, Any]) -> GroupProperties:
    problems: list[Problem] = []
    quota = _quota(properties, problems)
    assignments = _assignments(properties, problems)
    folder, s3 = (_switch(properties, key, problems) for key in COURSE_SWITCHES)
    return GroupProperties(quota, assignments, tuple(problems), folder, s3)


def _switch(properties: Mapping[str, Any], key: str, problems: list[Problem]) -> bool | None:
    value = properties.get(key)
    if value is None or value == "":
        return None
    parsed: bool | None = _parse(key, parse_switch, value, problems)
    return parsed


@dataclass(frozen=True)
class CourseSwitches:
    """The course codes whose teachers switched off the course folder, or the S3 data."""

    folder_off: frozenset[str] = frozenset()
    s3_off: frozenset[str] = frozenset()


def course_switches(
    properties: Mapping[str, GroupProperties], naming: GroupNaming
) -> CourseSwitches:
    """Read from the course groups among ``properties`` (group name -> parsed)."""
    folder_off, s3_off = set(), set()
    for group, parsed in properties.items():
        if (course := naming.course_of(group)) is None:
            continue
        if parsed.course_folder is False:
            folder_off.add(course)
        if parsed.course_s3 is False:
            s3_off.add(course)
    return CourseSwitches(frozenset(folder_off), frozenset(s3_off))


def _parse(
    key: str, parser: Callable[[object], Any], value: object, problems: list[Problem]
) -> Any:
    try:
        return parser(value)
    except InvalidValue as invalid:
        problems.append(invalid.at(key))
    except Exception:  # a parser bug must not break a spawn: report it like bad input
        problems.append(Problem(key, "value.type", {"value": repr(value)[:80]}))
    return None


def _quota(properties: Mapping[str, Any], problems: list[Problem]) -> dict[str, int]:
    quota = {}
    for key, value in properties.items():
        if not isinstance(key, str) or not key.startswith(QUOTA_PREFIX):
            continue
        name = key.removeprefix(QUOTA_PREFIX)
        if name not in QUOTA_FIELDS:
            problems.append(
                Problem(
                    key, "property.unknown", {"expected": _expected(QUOTA_PREFIX, QUOTA_FIELDS)}
                )
            )
            continue
        parsed = _parse(key, QUOTA_FIELDS[name], value, problems)
        if parsed is not None:
            quota[name] = parsed
    return quota


def _assignments(
    properties: Mapping[str, Any], problems: list[Problem]
) -> tuple[CourseAssignment, ...]:
    profiles = (
        _parse(COURSE_PROFILES, parse_names, properties.get(COURSE_PROFILES, ""), problems) or ()
    )
    fields: dict[str, dict[str, Any]] = {profile: {} for profile in profiles}
    for key, value in properties.items():
        if not isinstance(key, str) or not key.startswith(COURSE_PREFIX):
            continue
        if key in _COURSE_KEYS:
            continue
        profile, _, name = key.removeprefix(COURSE_PREFIX).rpartition(".")
        if name not in _ASSIGNMENT_FIELDS or not profile:
            expected = f"{COURSE_PROFILES}, " + _expected(
                f"{COURSE_PREFIX}<profile>.", _ASSIGNMENT_FIELDS
            )
            expected += ", " + ", ".join(_COURSE_KEYS[1:])
            problems.append(Problem(key, "property.unknown", {"expected": expected}))
        elif profile not in fields:
            problems.append(Problem(key, "property.profile_not_assigned", {"profile": profile}))
        else:
            parsed = _parse(key, _ASSIGNMENT_FIELDS[name], value, problems)
            # A value that cannot be read withdraws the assignment: better no course
            # profile than one offered outside its dates or with another size.
            fields[profile][name] = _BROKEN if parsed is None else parsed
    return tuple(_assignment(profile, values, problems) for profile, values in fields.items())


_BROKEN = object()


def _assignment(profile: str, values: dict[str, Any], problems: list[Problem]) -> CourseAssignment:
    values = {name: value for name, value in values.items() if value != ""}
    broken = _BROKEN in values.values()
    start, end = values.get("start"), values.get("end")
    if not broken and start and end and end < start:
        problems.append(
            Problem(
                f"{COURSE_PREFIX}{profile}.end",
                "dates.end_before_start",
                {"start": start.isoformat(), "end": end.isoformat()},
            )
        )
        broken = True
    if broken:
        return CourseAssignment(profile=profile, withdrawn=True)
    return CourseAssignment(profile=profile, **values)


def _expected(prefix: str, names: Mapping[str, object]) -> str:
    return ", ".join(prefix + name for name in names)
