"""The server rooms in the spawn path: where a user's home is bound, sending a pod to the
rooms its placement chose, and noticing the servers lost with their room.

The decisions are :mod:`unilim_hub.policy.placement`'s; the live view is
:mod:`unilim_hub.cluster`'s (watches, never a LIST per spawn). Reading where a home
volume is bound costs two GETs (its claim, its volume), only for servers that mount one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio.client import (
    V1Affinity,
    V1LabelSelector,
    V1LabelSelectorRequirement,
    V1NodeAffinity,
    V1NodeSelector,
    V1NodeSelectorRequirement,
    V1NodeSelectorTerm,
    V1PreferredSchedulingTerm,
    V1TopologySpreadConstraint,
)
from kubernetes_asyncio.client.exceptions import ApiException

from . import metrics
from .cluster import ROOM, ClusterView, NodeState
from .i18n import translate
from .kubeapi import FAILURES
from .policy.admission import Usage
from .policy.models import Room
from .policy.placement import Placed, Requirement, RoomView, bound_room, room_of
from .policy.untrusted import shown


async def home_room(spawner: Any, rooms: tuple[Room, ...], view: ClusterView) -> str | None:
    """The room the user's home volume is bound to: its PersistentVolume's node affinity
    selects nodes of one room only (a block volume). ``None`` when the server mounts no
    home, the claim is not bound yet (it will be bound where the server goes), the volume
    can be reached from several rooms (NFS), or it cannot be read (then logged)."""
    claim = _home_claim(spawner)
    if claim is None:
        return None
    timeout = spawner.k8s_api_request_timeout
    try:
        pvc = await spawner.api.read_namespaced_persistent_volume_claim(
            claim, spawner.namespace, _request_timeout=timeout
        )
        if not pvc.spec.volume_name:
            return None
        volume = await spawner.api.read_persistent_volume(
            pvc.spec.volume_name, _request_timeout=timeout
        )
    except FAILURES as error:
        if not (isinstance(error, ApiException) and error.status == 404):
            language = spawner.settings.default_language
            spawner.log.warning(
                "%s",
                translate(
                    "log.home_room_unknown",
                    language,
                    claim=claim,
                    user=shown(spawner.user.name),
                    error=shown(str(error)),
                ),
            )
        return None
    labels = {name: state.labels for name, state in view.node_watch.nodes.items()}
    room = bound_room(_requirements(volume), labels, rooms)
    return room.name if room else None


def _home_claim(spawner: Any) -> str | None:
    """KubeSpawner's claim for the server (``pvc_name``), if the server mounts it."""
    if spawner.storage_pvc_ensure:
        return str(spawner.pvc_name)
    volumes = spawner.volumes.values() if isinstance(spawner.volumes, dict) else spawner.volumes
    names = {spawner.pvc_name, spawner.pvc_name_template}
    for volume in volumes:
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim in names:
            return str(spawner.pvc_name)
    return None


def _requirements(volume: Any) -> list[list[Requirement]]:
    affinity = volume.spec.node_affinity
    required = affinity.required if affinity else None
    return [
        [
            Requirement(item.key, item.operator, tuple(item.values or ()))
            for item in term.match_expressions or []
        ]
        for term in (required.node_selector_terms if required else None) or []
    ]


def send_to(pod: Any, placed: Placed, spread_key: str | None) -> None:
    """Node affinity (required: the rooms allowed; preferred: the chosen one) and a
    topology spread over the rooms, so the kube-scheduler makes the final binding."""
    pod.metadata.labels = {**(pod.metadata.labels or {}), ROOM: placed.room.name}
    ours = [_term(room) for room in placed.allowed]
    affinity = pod.spec.affinity = pod.spec.affinity or V1Affinity()
    node = affinity.node_affinity = affinity.node_affinity or V1NodeAffinity()
    required = node.required_during_scheduling_ignored_during_execution
    node.required_during_scheduling_ignored_during_execution = V1NodeSelector(
        node_selector_terms=_both(required.node_selector_terms if required else [], ours)
    )
    node.preferred_during_scheduling_ignored_during_execution = [
        *(node.preferred_during_scheduling_ignored_during_execution or []),
        V1PreferredSchedulingTerm(weight=100, preference=ours[0]),
    ]
    if spread_key is not None:
        everyone_placed = V1LabelSelector(
            match_expressions=[V1LabelSelectorRequirement(key=ROOM, operator="Exists")]
        )
        pod.spec.topology_spread_constraints = [
            *(pod.spec.topology_spread_constraints or []),
            # ScheduleAnyway: a hard constraint would count a lost room as a domain to
            # balance against; the required node affinity already excludes it.
            V1TopologySpreadConstraint(
                max_skew=1,
                topology_key=spread_key,
                when_unsatisfiable="ScheduleAnyway",
                label_selector=everyone_placed,
            ),
        ]


def _term(room: Room) -> V1NodeSelectorTerm:
    return V1NodeSelectorTerm(
        match_expressions=[
            V1NodeSelectorRequirement(key=key, operator="In", values=[value])
            for key, value in sorted(room.node_selector.items())
        ]
    )


def _both(
    theirs: Iterable[V1NodeSelectorTerm], ours: list[V1NodeSelectorTerm]
) -> list[V1NodeSelectorTerm]:
    """Terms are ORed: the admins' required terms AND one of the rooms, for each pair."""
    theirs = list(theirs)
    if not theirs:
        return ours
    return [
        V1NodeSelectorTerm(
            match_expressions=[*(mine.match_expressions or []), *room.match_expressions],
            match_fields=mine.match_fields,
        )
        for mine in theirs
        for room in ours
    ]


def lost_node(view: ClusterView, pod: Mapping[str, Any] | None, grace: float) -> NodeState | None:
    """The node of a running server if it has been down (not Ready) for ``grace`` seconds,
    or deleted: the server is lost. ``None``: running, starting, or not known."""
    node = (pod or {}).get("spec", {}).get("nodeName")
    if not node or not view.node_watch.loaded:
        return None
    state = view.node_watch.nodes.get(node)
    if state is None:  # deleted with its room
        return NodeState(node, False, Usage(), {}, datetime.now(UTC))
    if state.down_since is None:
        return None
    down_for = time.time() - state.down_since.timestamp()
    return state if down_for >= grace else None


def report_lost(spawner: Any, state: NodeState, rooms: tuple[Room, ...]) -> None:
    room = room_of(state.labels, rooms)
    name = room.name if room else ""
    metrics.LOST_SERVERS.labels(room=name).inc()
    spawner.log.warning(
        "%s",
        translate(
            "log.server_lost",
            spawner.settings.default_language,
            user=shown(spawner.user.name),
            node=state.name,
            room=name or "?",
            since=(state.down_since or datetime.now(UTC)).isoformat(timespec="seconds"),
        ),
    )


def record(
    placed: Placed | None,
    views: Sequence[RoomView],
    nodes: Mapping[str, tuple[int, Usage]],
) -> None:
    """The metrics of the rooms, as of this start; ``nodes``: per room, its nodes (ready
    or not) and what its ready nodes hold (:meth:`ClusterView.room_nodes`)."""
    if placed is not None:
        metrics.PLACEMENTS.labels(room=placed.room.name).inc()
    for room_view in views:
        name = room_view.room.name
        metrics.ROOM_SERVERS.labels(room=name).set(room_view.servers)
        metrics.ROOM_OPEN.labels(room=name).set(int(room_view.open))
        total, capacity = nodes[name]
        metrics.ROOM_NODES.labels(room=name, state="total").set(total)
        metrics.ROOM_NODES.labels(room=name, state="ready").set(len(room_view.nodes))
        for gauge, usage in (
            (metrics.ROOM_CAPACITY, capacity),
            (metrics.ROOM_FREE, room_view.free()),
        ):
            for resource, value in _resources(usage).items():
                gauge.labels(room=name, resource=resource).set(value)


def _resources(usage: Usage) -> dict[str, float]:
    """As the group gauges count them: servers, cpu in cores, memory in bytes."""
    return {"servers": usage.servers, "cpu": usage.cpu / 1000, "memory": usage.memory}
