"""The teacher pages: the courses a person manages, and one course's form and history.

Built on the hub's own ``page.html`` (its navigation bar and styles), rendered with
autoescaping: every value a teacher typed is shown as text. Every form carries ``_xsrf``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader
from tornado import web

from ..compat import hub_templates
from ..i18n import size_label
from ..policy.course_edit import (
    ASSIGNMENT_FIELDS,
    form_change,
    offered_switches,
    switch_state,
)
from ..policy.problems import Problem
from ..policy.properties import COURSE_DESCRIPTION, COURSE_FOLDER, COURSE_PROFILES, COURSE_S3
from ..policy.quantities import format_cpu, format_memory
from ..policy.untrusted import shown
from .handlers import Refused, ServiceHandler
from .service import Course, CourseNotFound, NotAllowed, StudentServer

_PAGES = Environment(
    loader=ChoiceLoader(
        [PackageLoader("unilim_hub", "courses/templates"), FileSystemLoader(hub_templates())]
    ),
    autoescape=True,
)
_WAS = "was:"  # prefix of the hidden fields holding a value as the form showed it
REFUSALS_SHOWN = 100  # the hub keeps as many (unilim_hub/refusals.py LIMIT)


class PageHandler(ServiceHandler):
    def render_page(self, name: str, status: int = 200, **context: Any) -> None:
        hub_prefix = self.hub_auth.hub_prefix
        user = self.current_user or {}
        self.set_status(status)
        self.finish(
            _PAGES.get_template(name).render(
                t=self.text,
                lang=self.language,
                base_url=hub_prefix,
                prefix=self.settings["service_prefix"],
                static_url=lambda path, include_version=True: f"{hub_prefix}static/{path}",
                user={
                    "name": user.get("name", ""),
                    "json_escaped_name": json.dumps(user.get("name", ""))[1:-1],
                },
                no_spawner_check=True,
                parsed_scopes=(),
                services=(),
                xsrf_token=self.xsrf_token.decode("ascii"),
                xsrf_form_html=self.xsrf_form_html,
                logout_url=f"{hub_prefix}logout",
                login_url=f"{hub_prefix}login",
                **context,
            )
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = error.message if isinstance(error, Refused) else self._reason
        self.render_page("course_error.html", status_code, code=status_code, message=message)


class CoursesPage(PageHandler):
    @web.authenticated
    async def get(self) -> None:
        codes = await self.courses.courses(self.scopes)
        self.render_page("course_list.html", codes=codes)


class StatusPage(PageHandler):
    @web.authenticated
    async def get(self) -> None:
        try:
            status = await self.courses.status(self.scopes)
        except NotAllowed:
            raise Refused(403, self.text("status.forbidden")) from None
        problems = {
            group: [self.problem(problem) for problem in found]
            for group, found in status.problems.items()
        }
        self.render_page(
            "course_status.html",
            hub_status=status,
            problems=problems,
            capacity=self._capacity,
            refusals_limit=REFUSALS_SHOWN,
        )

    def _capacity(self, resources: Mapping[str, float]) -> str:
        """``12 servers, 3.5 CPU, 64G``: what a room's ready nodes hold, or have left."""
        return self.text(
            "status.capacity_value",
            servers=int(resources.get("servers", 0)),
            cpu=format_cpu(round(resources.get("cpu", 0) * 1000)),
            memory=format_memory(int(resources.get("memory", 0))),
        )


class CoursePage(PageHandler):
    async def _course(self, code: str) -> Course:
        try:
            return await self.courses.course(code, self.scopes)
        except (CourseNotFound, NotAllowed) as error:
            raise self.refused(error, code) from None

    @web.authenticated
    async def get(self, code: str) -> None:
        course = await self._course(code)
        servers = await self.courses.servers(code, self.scopes)
        self.show(course, saved=bool(self.get_argument("saved", "")), servers=servers)

    def show(
        self,
        course: Course,
        *,
        status: int = 200,
        saved: bool = False,
        problems: tuple[Problem, ...] = (),
        servers: list[StudentServer] | None = None,
        attempted: Mapping[str, Any] | None = None,
    ) -> None:
        """The course's page; after a refused save, the fields show what the teacher sent
        (``attempted``) while the hidden ``was:`` fields keep the stored values, so that
        fixing one field and saving again sends every field still changed."""
        settings = self.courses.settings
        values = course.settings if attempted is None else attempted
        self.render_page(
            "course_form.html",
            status,
            course=course,
            catalog=settings.catalog,
            assigned=_assigned(course.settings),
            checked=_assigned(values),
            values=values,
            stored=course.settings,
            size_label=lambda size: size_label(size, self.language),
            history=self.courses.history_of(course.code, self.scopes),
            saved=saved,
            problems=[self.problem(problem) for problem in problems or course.problems],
            refused=bool(problems),
            profiles_key=COURSE_PROFILES,
            description_key=COURSE_DESCRIPTION,
            fields=ASSIGNMENT_FIELDS,
            was=_WAS,
            servers=servers,
            switches=self._switches(course.settings, values),
        )

    def _switches(
        self, stored: Mapping[str, Any], values: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The course folder's and S3 data's switches: what the form shows, and when the
        admins offer neither, why (the field is then disabled and sends nothing)."""
        offered = offered_switches(self.courses.settings)
        labels = {COURSE_FOLDER: "courses.folder_switch", COURSE_S3: "courses.s3_switch"}
        why = {COURSE_FOLDER: "courses.folder_admin_off", COURSE_S3: "courses.s3_admin_off"}
        return [
            {
                "key": key,
                "label": self.text(label),
                "offered": offered[key],
                "stored": switch_state(stored, key),
                "value": switch_state(values, key) if offered[key] else "off",
                "why": "" if offered[key] else self.text(why[key]),
            }
            for key, label in labels.items()
        ]

    @web.authenticated
    async def post(self, code: str) -> None:
        await self._course(code)  # 403 / 404 before reading anything else
        edited, added, removed = self._form()
        try:
            course, result = await self.courses.change(
                code,
                self.scopes,
                self.author,
                lambda current: form_change(current, edited, added, removed),
            )
        except (CourseNotFound, NotAllowed) as error:
            raise self.refused(error, code) from None
        if result.problems:
            stored = await self._course(code)
            self.show(stored, status=400, problems=result.problems, attempted=course.settings)
        else:
            self.redirect(f"{self.settings['service_prefix']}courses/{code}?saved=1")

    def _form(self) -> tuple[dict[str, tuple[str, str]], tuple[str, ...], tuple[str, ...]]:
        """The fields the form sent: (shown, sent) per key, profiles added and removed."""
        arguments = self.request.body_arguments
        edited = {}
        for name in arguments:
            if name.startswith(_WAS) and name != f"{_WAS}{COURSE_PROFILES}":
                key = name.removeprefix(_WAS)
                edited[key] = (self.get_body_argument(name), self.get_body_argument(key, ""))
        shown_profiles = set(
            filter(None, self.get_body_argument(f"{_WAS}{COURSE_PROFILES}", "").split(","))
        )
        checked = self.get_body_arguments("profile")
        added = tuple(name for name in checked if name not in shown_profiles)
        removed = tuple(sorted(shown_profiles - set(checked)))
        return edited, added, removed


def _assigned(settings: Mapping[str, Any]) -> list[str]:
    value = str(settings.get(COURSE_PROFILES, ""))
    return [shown(name.strip()) for name in value.split(",") if name.strip()]
