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
import sys
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web

from ..i18n import describe
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


def settings_from_environment() -> Settings:
    """unilim-hub's settings as the hub passed them; exits, naming each problem, if wrong."""
    settings, problems = build_settings(json.loads(os.environ[SETTINGS_VARIABLE]))
    if settings is None:
        for problem in problems:
            logging.critical(describe(problem, "en"))
        sys.exit(1)
    return settings


async def serve() -> None:
    settings = settings_from_environment()
    state = Path(os.environ.get(STATE_VARIABLE, "."))
    hub = HubAPI(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    service = CourseService(settings, hub, History(state / HISTORY_FILE))
    app = make_app(service, os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/courses/"))
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
