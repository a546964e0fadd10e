"""Who may manage which course: JupyterHub's scopes, as the person's token to the service has them.

A teacher's role carries ``custom:courses:manage!group=course-<code>`` (the authenticator's
``teacher_scopes``); whoever may already write any group through the hub (``groups``,
which admins have) may manage every course. The service decides nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from jupyterhub.services.auth import check_scopes

from ..policy.models import COURSE_MANAGE_SCOPE, GroupNaming

# Scopes that allow managing any course.
ALL_COURSES = (COURSE_MANAGE_SCOPE, "groups")


def may_manage(scopes: Collection[str], course_group: str) -> bool:
    """Whether a person with ``scopes`` may manage the course of ``course_group``."""
    required = {f"{scope}!group={course_group}" for scope in ALL_COURSES}
    return bool(check_scopes(required, set(scopes)))


def manages_all(scopes: Collection[str]) -> bool:
    return any(scope in scopes for scope in ALL_COURSES)


def courses_of(scopes: Iterable[str], naming: GroupNaming) -> set[str]:
    """The course groups named by ``scopes``' group filters (a teacher's courses)."""
    groups = set()
    for scope in scopes:
        base, _, scope_filter = scope.partition("!")
        kind, _, group = scope_filter.partition("=")
        if base in ALL_COURSES and kind == "group" and naming.course_of(group) is not None:
            groups.add(group)
    return groups
