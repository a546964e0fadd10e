"""Every use of a private KubeSpawner or JupyterHub internal, each in one named place.

Check these against each upgrade of KubeSpawner (7.1.0 today) or JupyterHub (5.5, 6.1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


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
