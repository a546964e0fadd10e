"""A teacher's change to a course's settings, checked before the course service writes it.

The course settings are the ``course.*`` keys of the course group's properties (see
:mod:`.properties`). The service reads the group's properties, asks :func:`apply_change`
for the new dict, and writes it back only when there is no problem. Every key outside
``course.*`` is someone else's (admins' quotas, their notes) and comes back untouched.

A change names only the keys it sets (``None`` removes one), so that two teachers who
save different keys at the same moment both keep theirs; :func:`replacing` turns a full
set of course settings into such a change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import S3Mode, Settings
from .problems import InvalidValue, Problem
from .profiles import ceiling_params, course_problems
from .properties import (
    COURSE_DESCRIPTION,
    COURSE_FOLDER,
    COURSE_PREFIX,
    COURSE_PROFILES,
    COURSE_S3,
    COURSE_SWITCHES,
    GroupProperties,
    parse_group_properties,
)
from .quantities import parse_switch
from .quotas import Ceiling, course_ceiling
from .untrusted import shown

ASSIGNMENT_FIELDS = ("tag", "size", "start", "end")
MAX_DESCRIPTION_LENGTH = 2000
MAX_VALUE_LENGTH = 200
_ASSIGNMENT_KEY = re.compile(r"^course\.([a-z0-9][a-z0-9_.-]*)\.(tag|size|start|end)\Z")

Change = Mapping[str, object]  # key -> new text, or None to remove the key


@dataclass(frozen=True)
class Edited:
    """The group's whole new properties, what changed (key -> before, after), the problems."""

    properties: Mapping[str, Any]
    changed: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def course_settings(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a group's properties the course service owns."""
    return {key: value for key, value in properties.items() if _owned(key)}


def _owned(key: object) -> bool:
    return isinstance(key, str) and key.startswith(COURSE_PREFIX)


def replacing(current: Mapping[str, Any], wanted: Mapping[str, object]) -> dict[str, object]:
    """The change that makes ``wanted`` the course's whole settings (a REST ``PUT``)."""
    removed: dict[str, object] = {
        key: None for key in course_settings(current) if key not in wanted
    }
    return removed | dict(wanted)


def apply_change(
    current: Mapping[str, Any], change: Change, course_group: str, settings: Settings
) -> Edited:
    """The properties after ``change``, checked as a spawn would read them.

    An empty text removes the key, like ``None``. Assignment keys of a profile taken out
    of ``course.profiles`` go with it. Any problem in the course's settings afterwards
    (a wrong key or value, a tag or size the catalog does not allow, a pinned size above
    the course's per-server ceiling) refuses the whole change.
    """
    problems = [problem for key, value in change.items() if (problem := _entry_problem(key, value))]
    if problems:
        return Edited(current, problems=tuple(problems))
    merged = dict(current)
    for key, value in change.items():
        text = value.strip() if isinstance(value, str) and key != COURSE_DESCRIPTION else value
        if text is None or text == "":
            merged.pop(key, None)
        else:
            merged[key] = text
    _drop_unassigned(merged)
    changed = {
        key: (current.get(key), merged.get(key))
        for key in sorted(set(current) | set(merged))
        if current.get(key) != merged.get(key)
    }
    found = _problems(merged, course_group, settings) + _above_admins(changed, settings)
    return Edited(merged, changed, found)


_COURSE_KEYS = (COURSE_PROFILES, COURSE_DESCRIPTION, *COURSE_SWITCHES)


def _entry_problem(key: str, value: object) -> Problem | None:
    if not (key in _COURSE_KEYS or _ASSIGNMENT_KEY.match(key)):
        expected = ", ".join(
            [
                COURSE_PROFILES,
                *(f"{COURSE_PREFIX}<profile>.{name}" for name in ASSIGNMENT_FIELDS),
                *_COURSE_KEYS[1:],
            ]
        )
        return Problem(shown(key), "property.unknown", {"expected": expected})
    if value is not None and not isinstance(value, str):
        return Problem(key, "value.not_text", {"value": shown(value)})
    limit = MAX_DESCRIPTION_LENGTH if key == COURSE_DESCRIPTION else MAX_VALUE_LENGTH
    if value is not None and len(value) > limit:
        return Problem(key, "course.value_too_long", {"max": str(limit)})
    return None


def _drop_unassigned(properties: dict[str, Any]) -> None:
    """Remove the assignment keys of profiles no longer in ``course.profiles``."""
    assigned = {assignment.profile for assignment in _parsed(properties).course_profiles}
    for key in list(properties):
        found = _ASSIGNMENT_KEY.match(key) if isinstance(key, str) else None
        if found and found.group(1) not in assigned:
            del properties[key]


def _parsed(properties: Mapping[str, Any]) -> GroupProperties:
    return parse_group_properties(course_settings(properties))


def _problems(
    properties: Mapping[str, Any], course_group: str, settings: Settings
) -> tuple[Problem, ...]:
    parsed = parse_group_properties(properties)
    found = [problem for problem in parsed.problems if _owned(problem.key)]
    found += course_problems(parsed, settings)
    found += _above_ceiling(parsed, course_group, settings)
    return tuple(found)


# Per switch, the refusal of turning it on when the admins' configuration offers it to no course.
NOT_OFFERED = {COURSE_FOLDER: "course.folder_not_offered", COURSE_S3: "course.s3_not_offered"}


def offered_switches(settings: Settings) -> dict[str, bool]:
    """Which course switches the admins' configuration lets teachers turn on: course
    folders (``course_folders``) and course S3 data (``s3_mode`` other than off)."""
    return {
        COURSE_FOLDER: settings.storage.course_folders,
        COURSE_S3: settings.storage.s3.mode is not S3Mode.OFF,
    }


def switch_state(settings: Mapping[str, Any], key: str) -> str:
    """A switch as the teacher page shows it: ``on`` (also when unset), ``off``, or the
    stored text when it is no switch (then any save writes a valid one)."""
    value = settings.get(key)
    if value is None or value == "":
        return "on"
    try:
        return "on" if parse_switch(value) else "off"
    except InvalidValue:
        return str(value)


def _above_admins(
    changed: Mapping[str, tuple[Any, Any]], settings: Settings
) -> tuple[Problem, ...]:
    """A switch turned on that the admins' configuration offers to no course. Only a
    change is refused: a stored ``on`` does no harm (the admins' setting wins) and must
    not block the teacher's other edits."""
    return tuple(
        Problem(key, NOT_OFFERED[key])
        for key, offered in offered_switches(settings).items()
        if not offered and key in changed and _switched_on(changed[key][1])
    )


def _switched_on(value: object) -> bool:
    try:
        return value is not None and parse_switch(value)
    except InvalidValue:
        return False  # reported with the other wrong values


def _above_ceiling(parsed: GroupProperties, course_group: str, settings: Settings) -> list[Problem]:
    """Pinned sizes above the per-server ceiling the admins set for the course's group."""
    ceiling = course_ceiling(course_group, Ceiling(), settings.quotas, parsed.quota)
    problems = []
    for assignment in parsed.course_profiles:
        profile = settings.profile(assignment.profile)
        size = profile.size(assignment.size) if profile and assignment.size else None
        limit = ceiling.blocking(size) if size else None
        if size is not None and limit is not None:
            key = f"{COURSE_PREFIX}{assignment.profile}.size"
            problems.append(Problem(key, "course.size_above_ceiling", ceiling_params(limit, size)))
    return problems


def form_change(
    current: Mapping[str, Any],
    edited: Mapping[str, tuple[str, str]],
    added: tuple[str, ...],
    removed: tuple[str, ...],
) -> dict[str, object]:
    """The change a saved form asks for, against the properties as they are now.

    ``edited`` is key -> (value when the form was shown, value sent): only the fields the
    teacher changed are part of the change, and profiles are added to or taken out of the
    current ``course.profiles``, so a colleague's save in the meantime is kept.
    """
    change: dict[str, object] = {
        key: sent for key, (shown_, sent) in edited.items() if sent != shown_
    }
    assigned = [assignment.profile for assignment in _parsed(current).course_profiles]
    profiles = [name for name in assigned if name not in removed]
    profiles += [name for name in added if name not in profiles]
    if profiles != assigned:
        change[COURSE_PROFILES] = ", ".join(profiles) or None
    return change
