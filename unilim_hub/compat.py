"""Every use of a private JupyterHub or KubeSpawner internal, in one place.

Upstream may change these without notice: each one is pinned by a test in
``tests/unit/test_compat.py`` that fails loudly on the supported versions (JupyterHub 5.5
and 6.x, KubeSpawner 7.1) when it disappears or changes meaning.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from jupyterhub import scopes

try:  # JupyterHub >= 6: policy refusals are not counted as hub failures
    from jupyterhub.spawner import SpawnException
except ImportError:  # JupyterHub 5
    SpawnException = None

__all__ = [
    "PickerHook",
    "PodCreationHook",
    "SpawnException",
    "declare_custom_scope",
    "forgive_in_failure_count",
    "hub_templates",
    "named_server_request",
    "start_kubespawner_reflectors",
    "waiting_for_response",
]


class PickerHook:
    """Replaces KubeSpawner's form rendering (``_render_options_form``) with ours.

    KubeSpawner renders its form without autoescaping and in one language; the spawner
    provides :meth:`render_picker` instead, given the initialized profile list.
    """

    def _render_options_form(self, profile_list: list[dict[str, Any]]) -> str:
        profiles = self._get_initialized_profile_list(profile_list)  # type: ignore[attr-defined]
        picker: str = self.render_picker(profiles)  # type: ignore[attr-defined]
        return picker


class PodCreationHook:
    """Routes KubeSpawner's pod creation through ``self.create_pod``.

    KubeSpawner 7.1's ``_start`` creates the pod by calling the private
    ``_make_create_pod_request(pod, request_timeout)`` under ``exponential_backoff`` for
    ``k8s_api_request_retry_timeout``; it returns True once created, False to be called
    again (a timeout, or a conflicting pod it has deleted), and raises on other errors.
    UnilimSpawner puts that call behind the hub's pod-creation queue.
    """

    create_pod: Callable[[Any, Callable[[], Awaitable[bool]]], Awaitable[bool]]

    async def _make_create_pod_request(self, pod: Any, request_timeout: int) -> bool:
        parent: Any = super()

        async def attempt() -> bool:
            created: bool = await parent._make_create_pod_request(pod, request_timeout)
            return created

        return await self.create_pod(pod, attempt)


def waiting_for_response(spawner: object) -> bool:
    """Whether JupyterHub is still waiting for the server to answer (``_waiting_for_response``)."""
    # No getattr default: a rename upstream must fail loudly, not read as "not waiting".
    return bool(spawner._waiting_for_response)  # type: ignore[attr-defined]


def forgive_in_failure_count(handler: object) -> None:
    """Keep a policy refusal from counting as a failed spawn on JupyterHub 5.

    JupyterHub 5 counts every failed start towards ``consecutive_failure_limit`` (Zero to
    JupyterHub sets 5) and exits the hub when it is reached: five refused starts in a row,
    a forged request or a full course, would stop the hub for everyone. JupyterHub 6 does
    not count a ``SpawnException``. On 5 the count is kept in the handler's settings and
    raised by one after the failure: lower it first so that a refusal leaves it unchanged.
    """
    settings = getattr(handler, "settings", None)
    if SpawnException is None and isinstance(settings, dict):
        settings["failure_count"] = settings.get("failure_count", 0) - 1


def named_server_request(handler: Any) -> tuple[Any, str]:
    """The user a request is about, and the named server it names ("" when none).

    JupyterHub calls ``named_server_limit_per_user`` with the request's handler only. The
    handlers that create a named server take the user's name and the server's as their
    two path arguments (REST ``/users/<user>/servers/<server>``, the spawn page
    ``/spawn/<user>/<server>``); the pages that only show the limit (home, admin) have
    none, and are about the current user (a ``User``, or a service, which has no servers).
    """
    args = [arg or "" for arg in getattr(handler, "path_args", None) or ()]
    user = handler.find_user(args[0]) if args and args[0] else handler.current_user
    return user, args[1] if len(args) > 1 else ""


def declare_custom_scope(name: str, description: str) -> None:
    """Declare a ``custom:`` scope, as ``JupyterHub.custom_scopes`` would, once.

    The authenticator's managed roles use the course service's scope before the hub has
    read any configuration that could declare it; JupyterHub keeps the known scopes in
    ``jupyterhub.scopes.scope_definitions``.
    """
    if name not in scopes.scope_definitions:
        scopes.define_custom_scopes({name: {"description": description}})


async def start_kubespawner_reflectors(spawner: Any) -> None:
    """Start KubeSpawner 7.1's shared pod and event reflectors, replacing a broken one.

    KubeSpawner starts them in ``_start`` (private ``_start_watching_pods`` and
    ``_start_watching_events``) and keeps a reflector whose first list failed (the API
    server away at that moment) registered in ``KubeSpawner.reflectors``: every later
    start then fails on it, each one counted towards ``consecutive_failure_limit``.
    Called before ``_start`` does, this replaces a reflector that failed or gave up.
    Raises what the first list raised.
    """
    starts = {"pods": spawner._start_watching_pods}
    if spawner.events_enabled:
        starts["events"] = spawner._start_watching_events
    for kind, start in starts.items():
        reflector = type(spawner).reflectors.get(spawner._get_reflector_key(kind))
        await start(replace=reflector is not None and _broken(reflector))


def _broken(reflector: Any) -> bool:
    loaded = reflector.first_load_future
    if loaded.done() and (loaded.cancelled() or loaded.exception() is not None):
        return True
    task = reflector.watch_task
    return loaded.done() and (task is None or task.done())


def hub_templates() -> str:
    """The folder of JupyterHub's own page templates (``page.html``), which the course
    service's pages extend, as JupyterHub finds them (``jupyterhub._data``)."""
    from jupyterhub._data import DATA_FILES_PATH  # noqa: PLC0415 (private: only here)

    return os.path.join(DATA_FILES_PATH, "templates")
