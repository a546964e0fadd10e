"""The hub's REST API as the course service uses it: course groups and their properties.

JupyterHub's ``PUT /groups/{name}/properties`` replaces the whole dict, so every change
is a read-modify-write, one at a time per group in this process (the service is the
only writer of ``course.*`` keys): the group is read again right before the write, under
the lock, and the keys the change does not touch come back as they were.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..policy.course_edit import Edited

_PAGE = "application/jupyterhub-pagination+json"
# The hub's route of its latest refusals (unilim_hub/refusals.py REFUSALS_ROUTE, which the
# service does not import: it would load JupyterHub's API handlers).
REFUSALS_PATH = "/unilim/refusals"


class HubAPI:
    """Calls the hub's REST API with the service's own token."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def _request(
        self, method: str, path: str, body: object = None, accept: str = "application/json"
    ) -> Any:
        request = HTTPRequest(
            f"{self.api_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}", "Accept": accept},
            body=None if body is None else json.dumps(body),
            request_timeout=30,
        )
        response = await AsyncHTTPClient().fetch(request)
        return json.loads(response.body) if response.body else None

    async def group(self, name: str) -> dict[str, Any] | None:
        """The group's model (``properties``, ``users``), ``None`` if there is none."""
        try:
            group: dict[str, Any] = await self._request("GET", f"/groups/{quote(name, safe='')}")
        except HTTPClientError as error:
            if error.code == 404:
                return None
            raise
        return group

    async def groups(self) -> list[dict[str, Any]]:
        """Every group's model (name, properties, members), page by page."""
        return await self._pages("/groups", {})

    async def group_names(self) -> list[str]:
        return [group["name"] for group in await self.groups()]

    async def _pages(self, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            arguments = urlencode(query | {"offset": str(offset), "limit": "200"})
            page = await self._request("GET", f"{path}?{arguments}", accept=_PAGE)
            items += page["items"]
            following = (page.get("_pagination") or {}).get("next")
            if not following:
                return items
            offset = following["offset"]

    async def metrics(self) -> str:
        """The hub's Prometheus metrics (``/hub/metrics``), as text."""
        hub = self.api_url.removesuffix("/api")
        request = HTTPRequest(
            f"{hub}/metrics", headers={"Authorization": f"token {self.token}"}, request_timeout=30
        )
        response = await AsyncHTTPClient().fetch(request)
        return response.body.decode("utf-8")

    async def refusals(self) -> list[dict[str, Any]] | None:
        """The hub's latest refused starts, the newest first (unilim_hub/refusals.py);
        ``None`` when the hub does not serve them (its route was not added)."""
        try:
            answer = await self._request("GET", REFUSALS_PATH)
        except HTTPClientError as error:
            if error.code == 404:
                return None
            raise
        refusals: list[dict[str, Any]] = answer["refusals"]
        return refusals

    async def active_servers(self) -> dict[str, dict[str, Any]]:
        """Per user with a running or starting server, their server models by name."""
        users = await self._pages("/users", {"state": "active"})
        return {user["name"]: user.get("servers") or {} for user in users}

    async def edit_properties(
        self, name: str, edit: Callable[[Mapping[str, Any]], Edited]
    ) -> Edited | None:
        """Apply ``edit`` to the group's current properties and write the result.

        Nothing is written when the edit has problems or changes nothing. ``None``: there
        is no such group.
        """
        async with self._locks[name]:
            group = await self.group(name)
            if group is None:
                return None
            edited = edit(group.get("properties") or {})
            if edited.changed and not edited.problems:
                await self._request(
                    "PUT", f"/groups/{quote(name, safe='')}/properties", dict(edited.properties)
                )
            return edited
