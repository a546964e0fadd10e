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

Parsing never raises: a bad value is left out and reported as a :class:`Problem`, so
the spawn falls back to the baseline and the admin status page can show what is wrong.
Keys outside these prefixes belong to someone else and are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .problems import InvalidValue, Problem
from .quantities import parse_date, parse_name, parse_names
from .quotas import QUOTA_FIELDS

QUOTA_PREFIX = "quota."
COURSE_PREFIX = "course."
COURSE_PROFILES = "course.profiles"
COURSE_DESCRIPTION = "course.description"
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


def parse_group_properties(properties: Mapping[str, Any]) -> GroupProperties:
    problems: list[Problem] = []
    quota = _quota(properties, problems)
    assignments = _assignments(properties, problems)
    return GroupProperties(quota, assignments, tuple(problems))


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
        if key in (COURSE_PROFILES, COURSE_DESCRIPTION):
            continue
        profile, _, name = key.removeprefix(COURSE_PREFIX).rpartition(".")
        if name not in _ASSIGNMENT_FIELDS or not profile:
            expected = f"{COURSE_PROFILES}, " + _expected(
                f"{COURSE_PREFIX}<profile>.", _ASSIGNMENT_FIELDS
            )
            expected += f", {COURSE_DESCRIPTION}"
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
