"""KubeSpawner's event reflector, with the events indexed by the pod they are about.

KubeSpawner's ``events`` sorts every Pod event of the namespace on each call; a start calls
it twice, and the start page's progress stream once a second for each user waiting. With
hundreds of servers starting (three events or more each), that sort was the largest
single cost of the hub's CPU in a class start (docs/operators/performance.md). The index
keeps each pod's events apart as the watch brings them, so a spawner sorts only its own.
"""

from __future__ import annotations

from typing import Any

from kubespawner.spawner import EventReflector
from traitlets import validate

from .cluster import ResyncingReflector

Event = dict[str, Any]
PodKey = tuple[str, str]  # the pod's namespace and name


def _pod_of(event: Event) -> PodKey:
    involved = event.get("involvedObject") or {}
    return (involved.get("namespace") or "", involved.get("name") or "")


def _when(event: Event) -> str:
    # KubeSpawner's order: events carry one of the two times.
    return str(event.get("lastTimestamp") or event.get("eventTime") or "")


class EventIndex(dict[str, Event]):
    """The reflector's events by ``namespace/name``, and by the pod each is about.

    The reflector mutates this mapping at each watch event (``index[key] = event``,
    ``index.pop(key)``) and replaces it after each full list, when it is rebuilt.
    """

    def __init__(self, events: dict[str, Event]):
        super().__init__()
        self.by_pod: dict[PodKey, dict[str, Event]] = {}
        for key, event in events.items():
            self[key] = event

    def __setitem__(self, key: str, event: Event) -> None:
        self._forget(key)
        super().__setitem__(key, event)
        self.by_pod.setdefault(_pod_of(event), {})[key] = event

    def pop(self, key: str, default: Any = None) -> Any:
        self._forget(key)
        return super().pop(key, default)

    def _forget(self, key: str) -> None:
        old = self.get(key)
        if old is None:
            return
        pod = _pod_of(old)
        of_pod = self.by_pod.get(pod, {})
        of_pod.pop(key, None)
        if not of_pod:
            self.by_pod.pop(pod, None)

    def of_pod(self, namespace: str, name: str) -> list[Event]:
        """The pod's events, oldest first (KubeSpawner's order)."""
        return sorted(self.by_pod.get((namespace, name), {}).values(), key=_when)


class IndexedEventReflector(ResyncingReflector, EventReflector):  # type: ignore[misc]  # upstream is untyped
    """KubeSpawner's event reflector, keeping its resources in an :class:`EventIndex`,
    listed again every minute (:class:`~unilim_hub.cluster.ResyncingReflector`)."""

    @validate("resources")
    def _index(self, proposal: Any) -> EventIndex:
        # Runs at every assignment, so the resources are always an index.
        if isinstance(proposal.value, EventIndex):
            return proposal.value
        return EventIndex(proposal.value)

    def of_pod(self, namespace: str, name: str) -> list[Event]:
        resources = self.resources
        if not isinstance(resources, EventIndex):  # before the first list
            return []
        return resources.of_pod(namespace, name)


def since(events: list[Event], last_uid: str | None) -> list[Event]:
    """The events after the one with ``last_uid`` (the newest seen when this start began,
    so that a previous pod's events are not shown again); all of them if it is gone."""
    uids = [event.get("metadata", {}).get("uid") for event in events]
    if last_uid and last_uid in uids:
        return events[uids.index(last_uid) + 1 :]
    return events
