"""The REST API of the course service (JSON), and the handler base the pages share.

Every request is a person's (or an LMS's) through JupyterHub: a browser's OAuth cookie or
an ``Authorization: token ...`` header. Their token's scopes decide what they may manage.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from tornado import web

from ..i18n import negotiate, translate
from ..policy.course_edit import offered_switches, replacing
from ..policy.problems import Problem
from ..policy.untrusted import shown
from .openapi import openapi
from .service import Course, CourseNotFound, CourseService, NotAllowed


class ServiceHandler(HubOAuthenticated, web.RequestHandler):  # type: ignore[misc]
    @property
    def courses(self) -> CourseService:
        service: CourseService = self.settings["course_service"]
        return service

    @property
    def language(self) -> str:
        return negotiate(
            self.request.headers.get("Accept-Language"), self.courses.settings.default_language
        )

    def text(self, code: str, **params: object) -> str:
        return translate(code, self.language, **params)

    def problem(self, problem: Problem) -> dict[str, str]:
        return {
            "key": problem.key,
            "code": problem.code,
            "message": self.text(problem.code, **problem.params),
        }

    @property
    def scopes(self) -> set[str]:
        return set(self.current_user["scopes"]) if self.current_user else set()

    @property
    def author(self) -> str:
        user = self.current_user or {}
        return str(user.get("name", ""))

    async def prepare(self) -> None:
        """Identify the person without blocking (HubAuth's synchronous path runs in a
        thread of its own), then check ``_xsrf``: a token-authenticated request (an LMS)
        needs none, a browser's form does."""
        model = await self.hub_auth.get_user(self, sync=False)
        user = None
        if model:
            try:
                user = self.check_hub_user(model)
            except UserNotAllowed:
                user = None
        self._hub_auth_user_cache = user
        self.current_user = user
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            self.hub_auth.check_xsrf_cookie(self)

    def check_xsrf_cookie(self) -> None:
        """Checked in :meth:`prepare`, once the person is known (tornado asks earlier)."""

    def refused(self, error: Exception, code: str) -> Refused:
        if isinstance(error, NotAllowed):
            return Refused(403, self.text("courses.forbidden", course=shown(code)))
        return Refused(404, self.text("courses.unknown", course=shown(code)))


class Refused(web.HTTPError):
    """An answer other than success, with what the person reads (the status line stays
    ASCII: the message goes in the body) and, for a refused change, its problems."""

    def __init__(self, status: int, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(status)
        self.message = message
        self.problems = problems


class APIHandler(ServiceHandler):
    def get_login_url(self) -> str:
        raise Refused(403, self.text("courses.login_needed"))

    async def prepare(self) -> None:
        await super().prepare()
        if not self.current_user:
            raise Refused(403, self.text("courses.login_needed"))
        self.set_header("Content-Type", "application/json; charset=utf-8")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.message if isinstance(error, Refused) else self._reason
        body: dict[str, Any] = {"status": status_code, "message": message}
        if isinstance(error, Refused) and error.problems:
            body["problems"] = [self.problem(problem) for problem in error.problems]
        self.finish(json.dumps(body))

    def course_json(self, course: Course) -> dict[str, Any]:
        return {
            "course": course.code,
            "group": course.group,
            "settings": dict(course.settings),
            "problems": [self.problem(problem) for problem in course.problems],
            "offered": offered_switches(self.courses.settings),
        }

    def body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Refused(400, self.text("courses.body_not_object"))
        return body


class CoursesAPI(APIHandler):
    async def get(self) -> None:
        codes = await self.courses.courses(self.scopes)
        prefix = self.settings["service_prefix"]
        self.finish(
            {"courses": [{"course": code, "url": f"{prefix}api/courses/{code}"} for code in codes]}
        )


class CourseAPI(APIHandler):
    async def get(self, code: str) -> None:
        try:
            course = await self.courses.course(code, self.scopes)
        except (CourseNotFound, NotAllowed) as error:
            raise self.refused(error, code) from None
        self.finish(self.course_json(course))

    async def put(self, code: str) -> None:
        """The body is the course's whole settings: keys left out are removed."""
        wanted = self.body()
        await self._change(code, lambda current: replacing(current, wanted))

    async def patch(self, code: str) -> None:
        """The body names the keys to set; ``null`` removes one; others stay as they are."""
        await self._change(code, self.body())

    async def _change(self, code: str, change: Any) -> None:
        try:
            course, edited = await self.courses.change(code, self.scopes, self.author, change)
        except (CourseNotFound, NotAllowed) as error:
            raise self.refused(error, code) from None
        if edited.problems:
            raise Refused(400, self.text("courses.invalid", course=code), edited.problems)
        self.finish(self.course_json(course))


class HistoryAPI(APIHandler):
    async def get(self, code: str) -> None:
        try:
            entries = self.courses.history_of(code, self.scopes)
        except (CourseNotFound, NotAllowed) as error:
            raise self.refused(error, code) from None
        self.finish({"course": code, "history": [entry.as_json() for entry in entries]})


class ServersAPI(APIHandler):
    async def get(self, code: str) -> None:
        try:
            servers = await self.courses.servers(code, self.scopes)
        except (CourseNotFound, NotAllowed) as error:
            raise self.refused(error, code) from None
        self.finish({"course": code, "servers": [server.as_json() for server in servers]})


class StatusAPI(APIHandler):
    async def get(self) -> None:
        try:
            status = await self.courses.status(self.scopes)
        except NotAllowed:
            raise Refused(403, self.text("status.forbidden")) from None
        self.finish(
            {
                "usage": {
                    group: {
                        name: {"usage": use, "limit": limit}
                        for name, (use, limit) in resources.items()
                    }
                    for group, resources in status.usage.items()
                },
                "rooms": {name: room.as_json() for name, room in status.rooms.items()},
                "refusals": dict(status.refusals),
                "latest_refusals": None
                if status.latest is None
                else [asdict(refusal) for refusal in status.latest],
                "problems": {
                    group: [self.problem(problem) for problem in problems]
                    for group, problems in status.problems.items()
                },
            }
        )


class OpenAPIHandler(web.RequestHandler):
    """The API's description; public, like the hub's own REST API description."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(openapi(self.settings["service_prefix"])))
