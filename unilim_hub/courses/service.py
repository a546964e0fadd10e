"""What the course service does, whichever way it is asked (REST API or teacher pages).

It reads and writes the course group's ``course.*`` properties through the hub's API,
checks every change with the policy core, and keeps the history of saved changes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..policy.course_edit import Change, Edited, apply_change, course_settings
from ..policy.models import ROOM_STATE, Settings
from ..policy.problems import Problem
from ..policy.profiles import course_problems
from ..policy.properties import parse_group_properties
from .access import courses_of, manages_all, may_manage
from .history import Entry, History
from .hubapi import HubAPI
from .status import Status, latest_refusals, may_see_status, property_problems, read_metrics


class CourseNotFound(Exception):
    """No course of that code on this hub (no valid name, or no group)."""


class NotAllowed(Exception):
    """The person's scopes do not let them manage that course."""


@dataclass(frozen=True)
class Course:
    code: str
    group: str
    settings: Mapping[str, Any]  # the course.* keys
    problems: tuple[Problem, ...]  # what is wrong in them now (each withdraws a profile)


@dataclass(frozen=True)
class StudentServer:
    """One member of the course and one of their servers (``server`` "" is the default one)."""

    student: str
    server: str | None = None  # None: no server running or starting
    profile: str | None = None
    started: str | None = None  # ISO time, as the hub says it
    ready: bool = False
    room: str | None = None  # the room placement chose (None: no rooms configured)

    def as_json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "server": self.server,
            "profile": self.profile,
            "started": self.started,
            "ready": self.ready,
            "room": self.room,
        }


class CourseService:
    def __init__(self, settings: Settings, hub: HubAPI, history: History) -> None:
        self.settings = settings
        self.hub = hub
        self.history = history

    def group_of(self, code: str) -> str:
        group = f"{self.settings.groups.course_prefix}{code}"
        if self.settings.groups.course_of(group) != code:
            raise CourseNotFound(code)
        return group

    async def courses(self, scopes: Collection[str]) -> list[str]:
        """The codes of the courses a person with ``scopes`` may manage, sorted."""
        naming = self.settings.groups
        if manages_all(scopes):
            groups = set(await self.hub.group_names())
        else:
            groups = courses_of(scopes, naming)
        return sorted(code for group in groups if (code := naming.course_of(group)) is not None)

    def _allowed_group(self, code: str, scopes: Collection[str]) -> str:
        group = self.group_of(code)
        if not may_manage(scopes, group):
            raise NotAllowed(code)
        return group

    async def course(self, code: str, scopes: Collection[str]) -> Course:
        group = self._allowed_group(code, scopes)
        model = await self.hub.group(group)
        if model is None:
            raise CourseNotFound(code)
        return self._course(code, group, model.get("properties") or {})

    def _course(self, code: str, group: str, properties: Mapping[str, Any]) -> Course:
        parsed = parse_group_properties(properties)
        problems = [problem for problem in parsed.problems if problem.key.startswith("course.")]
        problems += course_problems(parsed, self.settings)
        return Course(code, group, course_settings(properties), tuple(problems))

    async def servers(self, code: str, scopes: Collection[str]) -> list[StudentServer]:
        """The course's members, each with their running or starting servers."""
        group = self._allowed_group(code, scopes)
        model = await self.hub.group(group)
        if model is None:
            raise CourseNotFound(code)
        active = await self.hub.active_servers()
        found = []
        for student in sorted(model.get("users") or []):
            servers = active.get(student) or {}
            found += [
                StudentServer(
                    student,
                    name,
                    (server.get("user_options") or {}).get("profile"),
                    server.get("started"),
                    bool(server.get("ready")),
                    (server.get("state") or {}).get(ROOM_STATE),
                )
                for name, server in sorted(servers.items())
            ] or [StudentServer(student)]
        return found

    async def status(self, scopes: Collection[str]) -> Status:
        """The admins' status; raises :class:`NotAllowed` for anyone else."""
        if not may_see_status(scopes):
            raise NotAllowed("status")
        status = read_metrics(await self.hub.metrics())
        problems = property_problems(await self.hub.groups(), self.settings)
        latest = latest_refusals(await self.hub.refusals())
        return replace(status, problems=problems, latest=latest)

    async def change(
        self,
        code: str,
        scopes: Collection[str],
        author: str,
        change: Change | Callable[[Mapping[str, Any]], Change],
    ) -> tuple[Course, Edited]:
        """Apply ``change`` (or the change it computes from the current properties) and
        record it; nothing is written when the change has problems."""
        group = self._allowed_group(code, scopes)

        def edit(current: Mapping[str, Any]) -> Edited:
            wanted = change(current) if callable(change) else change
            return apply_change(current, wanted, group, self.settings)

        edited = await self.hub.edit_properties(group, edit)
        if edited is None:
            raise CourseNotFound(code)
        if edited.changed and not edited.problems:
            self.history.record(code, author, edited.changed)
        return self._course(code, group, edited.properties), edited

    def history_of(self, code: str, scopes: Collection[str]) -> list[Entry]:
        self._allowed_group(code, scopes)
        return self.history.of(code)
