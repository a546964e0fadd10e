"""The course service's process: ``unilim-hub-courses``, started by the hub as a managed service.

JupyterHub gives it, in its environment, its URL and prefix (``JUPYTERHUB_SERVICE_URL``,
``JUPYTERHUB_SERVICE_PREFIX``), the hub's API and its token; the hub's configuration
(:mod:`.launch`) adds unilim-hub's settings and the state folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.escape import xhtml_escape

from ..i18n import describe, negotiate, translate
from ..policy.models import Settings
from ..policy.settings import build_settings
from . import BIND_VARIABLE, SETTINGS_VARIABLE, STATE_VARIABLE, pages
from .handlers import CourseAPI, CoursesAPI, HistoryAPI, OpenAPIHandler, ServersAPI, StatusAPI
from .history import History
from .hubapi import HubAPI
from .service import CourseService

HISTORY_FILE = "course-history.sqlite"
_CODE = r"([^/]+)"


def make_app(service: CourseService, prefix: str) -> web.Application:
    def route(path: str) -> str:
        return str(url_path_join(prefix, path))

    return web.Application(
        [
            (route("oauth_callback"), HubOAuthCallbackHandler),
            (route("api/openapi.json"), OpenAPIHandler),
            (route("api/courses"), CoursesAPI),
            (route(f"api/courses/{_CODE}"), CourseAPI),
            (route(f"api/courses/{_CODE}/history"), HistoryAPI),
            (route(f"api/courses/{_CODE}/servers"), ServersAPI),
            (route("api/status"), StatusAPI),
            (route(""), pages.CoursesPage),
            (route("status"), pages.StatusPage),
            (route(f"courses/{_CODE}"), pages.CoursePage),
        ],
        course_service=service,
        service_prefix=prefix,
        cookie_secret=os.urandom(32),
        xsrf_cookies=True,
        template_path=None,
    )


class Misconfigured(web.RequestHandler):
    """Every request, while the hub's configuration has a mistake: a 503 that says so; the
    service's front page only answers 200, as the hub waits for that before it goes on."""

    def get(self, path: str = "") -> None:
        language = negotiate(self.request.headers.get("Accept-Language"), "en")
        message = translate("courses.misconfigured", language)
        if path:
            self.set_status(503)
            self.finish({"message": message})
        else:
            self.finish(f"<!doctype html><title>unilim-hub</title><p>{xhtml_escape(message)}</p>")

    post = put = patch = delete = get


def settings_from_environment() -> Settings | None:
    """unilim-hub's settings as the hub passed them; None, each problem logged, if wrong
    (the hub then runs on, its starts say what is wrong: the service must not stop it)."""
    settings, problems = build_settings(json.loads(os.environ[SETTINGS_VARIABLE]))
    for problem in problems if settings is None else ():
        logging.critical(describe(problem, "en"))
    return settings


async def serve() -> None:
    settings = settings_from_environment()
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/courses/")
    state = Path(os.environ.get(STATE_VARIABLE, "."))
    if settings is None:
        app = web.Application([(url_path_join(prefix, "(.*)"), Misconfigured)])
    else:
        hub = HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
        service = CourseService(settings, hub, History(state / HISTORY_FILE))
        app = make_app(service, prefix)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    address = os.environ.get(BIND_VARIABLE) or url.hostname or "127.0.0.1"
    app.listen(url.port or 80, address, xheaders=True)
    logging.info("Course service at %s, history in %s", url.geturl(), state / HISTORY_FILE)
    await _until_the_hub_is_gone()


async def _until_the_hub_is_gone(interval: float = 2) -> None:
    """Return when the hub that started this process has exited: a hub killed without its
    clean-up must not leave the service holding its port for the next hub."""
    hub = os.getppid()
    while os.getppid() == hub:
        await asyncio.sleep(interval)
    logging.warning("The hub (process %d) is gone: the course service stops", hub)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="[courses %(levelname)s %(asctime)s] %(message)s"
    )
    asyncio.run(serve())
