"""The latest refused starts, kept by the hub for the admins' status page.

Their counts per reason are a Prometheus counter (``unilim_spawn_refusals_total``); the
status page also lists the latest ones: when (UTC), who, the reason code and the message
the person read. They happen in the hub's process and the course service is another, so
the hub keeps the last :data:`LIMIT` in memory (lost at a hub restart, like the counter)
and serves them on its REST API at ``/hub/api/unilim/refusals``, to holders of
:data:`REFUSALS_SCOPE` only (the course service's role): they name people.

The route is added through ``JupyterHub.extra_handlers`` (see
:func:`unilim_hub.courses.launch.add_course_service`), which JupyterHub 5 and 6 still
load while logging that it is deprecated: no other upstream mechanism lets a service read
what only the hub's process knows.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from tornado import web

from .metrics import REFUSALS

LIMIT = 100
REFUSALS_SCOPE = "custom:unilim:read:refusals"
REFUSALS_SCOPE_DESCRIPTION = "Read the hub's latest refused starts: when, who, why."
REFUSALS_ROUTE = r"/api/unilim/refusals"


@dataclass(frozen=True)
class Refused:
    at: datetime
    user: str
    reason: str  # the refusal's code, as the counter's label
    message: str  # what the person read, in their language

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(timespec="seconds"),
            "user": self.user,
            "reason": self.reason,
            "message": self.message,
        }


_latest: deque[Refused] = deque(maxlen=LIMIT)


def count(user: str, reason: str, message: str) -> None:
    """Count a refusal by its reason and keep it among the latest."""
    REFUSALS.labels(reason=reason).inc()
    _latest.appendleft(Refused(datetime.now(UTC), user, reason, message))


def latest() -> list[Refused]:
    """The latest refusals, the newest first."""
    return list(_latest)


class LatestRefusalsHandler(APIHandler):  # type: ignore[misc]  # upstream is untyped
    """``GET /hub/api/unilim/refusals``: ``{"limit": 100, "refusals": [...]}``."""

    def get(self) -> None:
        # Checked here, not with JupyterHub's @needs_scope: a custom scope is only
        # defined once the hub has read its configuration, after this module is imported.
        if REFUSALS_SCOPE not in self.parsed_scopes:
            raise web.HTTPError(403, f"Reading the refusals needs the scope {REFUSALS_SCOPE}")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"limit": LIMIT, "refusals": [item.as_json() for item in latest()]}))
