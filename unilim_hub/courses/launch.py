"""The course service as the hub starts it: its service entry, its role, its settings.

Called at the end of ``jupyterhub_config.py`` (after every unilim-hub setting is set):

    from unilim_hub.courses.launch import add_course_service
    add_course_service(c, url="http://127.0.0.1:10101", state_dir="/srv/jupyterhub/courses")

The service validates courses against the same settings as the hub: they travel to it
as JSON in its environment, so that it needs neither the hub's configuration file nor
its environment.
"""

from __future__ import annotations

import json
from typing import Any

from traitlets.config import Config
from traitlets.config.loader import LazyConfigValue

from ..configuration import raw_settings, secret_settings
from ..policy.models import COURSE_MANAGE_SCOPE
from ..refusals import (
    REFUSALS_ROUTE,
    REFUSALS_SCOPE,
    REFUSALS_SCOPE_DESCRIPTION,
    LatestRefusalsHandler,
)
from . import BIND_VARIABLE, SERVICE_NAME, SETTINGS_VARIABLE, STATE_VARIABLE

ROLE_NAME = "unilim-course-service"
# The hub's rights of the service itself: read every group (the course groups, their
# members and properties) and write group properties (JupyterHub has no narrower scope
# that allows PUT /groups/{name}/properties, and no filter "course groups only"); list the
# users with a running server and read those servers, for the course's page; read the
# hub's metrics for the admins' status page. `admin:server_state` adds the spawners' state
# to the server models: the room a server was placed in is there (the spawner's
# get_state), and no field of the models `read:servers` gives can carry it (user_options
# are the user's request, reused by their next start). The state holds no secret (pod
# name, namespace, room); the REST API has no call that writes it. The hub's latest
# refused starts (unilim_hub/refusals.py), for the status page: a scope of their own,
# since they name people and no JupyterHub scope is about them.
SERVICE_SCOPES = (
    "groups",
    "list:users",
    "read:servers",
    "admin:server_state",
    "read:metrics",
    REFUSALS_SCOPE,
)
# What a person's OAuth token for the service may carry: the course scopes of teachers'
# roles, `groups` for those who may already edit any group's properties, and
# `read:metrics` for those who may see the status page (both: admins).
OAUTH_SCOPES = (COURSE_MANAGE_SCOPE, "groups", "read:metrics")


def _json(value: object) -> object:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def service_settings(config: Config) -> str:
    """unilim-hub's settings of ``config`` as JSON; a value that is not JSON is left out,
    and so are the secrets (the hub's S3 keys): the service needs none of them."""
    raw: dict[str, Any] = {}
    secrets = secret_settings()
    for key, value in raw_settings(config).items():
        if key in secrets:
            continue
        try:
            raw[key] = json.loads(json.dumps(value, default=_json))
        except (TypeError, ValueError):
            continue  # e.g. a callable: the settings reader then reports the key
    return json.dumps(raw)


def course_service(
    config: Config, *, url: str, state_dir: str, command: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service entry for ``JupyterHub.services`` and its role for ``load_roles``."""
    service = {
        "name": SERVICE_NAME,
        "url": url,
        "command": command or ["unilim-hub-courses"],
        "environment": {
            SETTINGS_VARIABLE: service_settings(config),
            STATE_VARIABLE: state_dir,
        },
        "oauth_client_allowed_scopes": list(OAUTH_SCOPES),
        "display": True,
        "oauth_no_confirm": True,  # part of the hub: no extra consent page
    }
    role = {"name": ROLE_NAME, "scopes": list(SERVICE_SCOPES), "services": [SERVICE_NAME]}
    return service, role


def add_course_service(
    c: Config,
    *,
    url: str,
    state_dir: str,
    command: list[str] | None = None,
    bind: str | None = None,
) -> None:
    """Add the service and its role to the hub's configuration ``c``. ``bind``: the address
    it listens on when not ``url``'s host (``0.0.0.0`` in a hub pod reached as ``hub``)."""
    service, role = course_service(c, url=url, state_dir=state_dir, command=command)
    if bind:
        service["environment"][BIND_VARIABLE] = bind
    c.JupyterHub.services.append(service)
    c.JupyterHub.load_roles.append(role)
    _serve_refusals(c)


def _serve_refusals(c: Config) -> None:
    """The hub's route of its latest refusals, and the scope that guards it."""
    scopes = _value(c, "custom_scopes", {})
    c.JupyterHub.custom_scopes = {
        **scopes,
        REFUSALS_SCOPE: {"description": REFUSALS_SCOPE_DESCRIPTION},
    }
    handlers = _value(c, "extra_handlers", [])
    c.JupyterHub.extra_handlers = [*handlers, (REFUSALS_ROUTE, LatestRefusalsHandler)]


def _value(c: Config, name: str, empty: Any) -> Any:
    """A JupyterHub setting as set so far (a plain value, even if set by ``.update()``)."""
    value = c.JupyterHub.get(name, empty)
    return value.get_value(empty) if isinstance(value, LazyConfigValue) else value
