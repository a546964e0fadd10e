"""The admission ledger, shared by every spawner of the hub, and the steps of a start.

The ledger makes quotas race-free: the check and the reservation happen in one step of
the event loop (no ``await`` in between), so 300 starts in the same second see each
other's reservations. A reservation counts while its pod is not in the live view (not
yet created, or not yet seen by the watch); once the pod is seen the pod counts instead,
so nothing is counted twice, and after a hub restart the pods alone give the usage.

Pod creations then go through the hub's queue (:mod:`unilim_hub.podqueue`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from kubernetes_asyncio.client.exceptions import ApiException
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily

from . import compat, metrics, refusals, rooms
from .cluster import (
    CHARGED_GROUP,
    RESERVATION,
    ClusterView,
    IndexedPodReflector,
    NodeState,
    charged_label,
    current_view,
    shared_view,
)
from .compat import forgive_in_failure_count
from .errors import spawn_error
from .i18n import translate
from .kubeapi import Backoff, transient
from .podqueue import ApiUnavailable, Ticket, create_until, shared_queue
from .policy.admission import (
    Admitted,
    Charge,
    NoRoom,
    Usage,
    admit,
    charge,
    one_server,
    room_left,
)
from .policy.models import LANGUAGES, Room
from .policy.placement import NotPlaced, Placed, RoomView, place
from .policy.profiles import Choice, Chosen
from .policy.properties import GroupProperties
from .policy.quantities import format_cpu, format_memory

log = logging.getLogger("unilim_hub.admission")


@dataclass
class Reservation:
    key: str  # namespace/pod name
    group: str | None
    request: Usage
    token: str  # written on the pod, so a retried creation can recognise its own pod
    counted: bool  # its pod is not in the live view: the reservation counts instead
    placed: Placed | None = None  # the rooms it may go to, when rooms are configured


@dataclass(frozen=True)
class RoomRequest:
    """What placement needs besides the live view (see policy.placement.place)."""

    rooms: tuple[Room, ...]
    home: str | None = None
    degraded_limit: int | None = None


class Ledger:
    """Reservations of the servers this hub starts, against the live view of the cluster."""

    def __init__(self, view: ClusterView) -> None:
        self.view = view
        self.reservations: dict[str, Reservation] = {}
        self.pending: dict[str | None, Usage] = {}  # counted reservations, by group
        self.pending_total = Usage()
        self.pending_rooms: dict[str, int] = {}  # counted reservations, by chosen room
        self.rooms_now: list[RoomView] = []  # the rooms as the last reservation left them
        view.listeners.append(self._pod_changed)

    def usage(self, group: str | None) -> Usage:
        """The group's live servers and its reservations in flight."""
        return self.view.index.group_usage(group) + self.pending.get(group, Usage())

    def usage_by_group(self) -> dict[str, Usage]:
        """Every charged group's live servers and reservations in flight, by name."""
        usage = self.view.index.usage_by_group()
        for group, pending in self.pending.items():
            if group:
                usage[group] = usage.get(group, Usage()) + pending
        return usage

    def reserve(
        self,
        key: str,
        charged: Charge,
        request: Usage,
        capacity: bool = True,
        rooms: RoomRequest | None = None,
    ) -> tuple[Admitted | NoRoom | NotPlaced, Reservation | None]:
        """Admit, place and reserve, or refuse; synchronous, so no other start interleaves."""
        nodes = self.view.free_nodes() if capacity else None
        placed: Placed | None = None
        in_flight = dict(self.pending_rooms)
        views = self.view.rooms(rooms.rooms, in_flight) if rooms else None
        if rooms and views is not None:
            outcome = place(views, request, rooms.home, rooms.degraded_limit, capacity)
            if isinstance(outcome, NotPlaced):
                return outcome, None
            placed = outcome
            if nodes is not None:  # only the nodes of the rooms it may go to
                nodes = (
                    node for view in views if view.room in placed.allowed for node in view.nodes
                )
        unplaced = self.view.unscheduled() + self.pending_total
        usage = self.usage(charged.group) - self._replaced(key, charged.group)
        decision = admit(charged, usage, request, nodes, unplaced)
        if isinstance(decision, NoRoom):
            return decision, None
        self.release(key)  # a new start of the same server replaces its reservation
        live = self.view.index.live(key)
        token = secrets.token_hex(8)
        reservation = Reservation(key, charged.group, request, token, not live, placed)
        self.reservations[key] = reservation
        if reservation.counted:
            self._count(reservation, +1)
        self.rooms_now = _in_flight_now(views, in_flight, self.pending_rooms)
        return decision, reservation

    def _replaced(self, key: str, group: str | None) -> Usage:
        """What this server already counts for (its reservation, or its pod left by a hub
        that stopped while starting it): the new start replaces it, so count it once."""
        entry = self.view.index.entries.get(key)
        reservation = self.reservations.get(key)
        if reservation is not None and reservation.counted and reservation.group == group:
            return reservation.request
        if entry is None or not group or entry.group != charged_label(group):
            return Usage()
        return entry.usage

    def release(self, key: str, token: str | None = None) -> None:
        """Forget a reservation (its start failed, or its server stopped)."""
        reservation = self.reservations.get(key)
        if reservation is None or (token is not None and reservation.token != token):
            return
        del self.reservations[key]
        if reservation.counted:
            self._count(reservation, -1)

    def _pod_changed(self, key: str, live: bool) -> None:
        reservation = self.reservations.get(key)
        if reservation is not None and reservation.counted == live:
            # Seen: the pod counts now. Gone while reserved (deleted and created again
            # after a conflict, or a relist): the reservation counts again.
            self._count(reservation, -1 if live else +1)
            reservation.counted = not live

    def _count(self, reservation: Reservation, sign: int) -> None:
        change = reservation.request if sign > 0 else Usage() - reservation.request
        self.pending[reservation.group] = self.pending.get(reservation.group, Usage()) + change
        if self.pending[reservation.group] == Usage():
            del self.pending[reservation.group]
        self.pending_total = self.pending_total + change
        if reservation.placed is not None:
            room = reservation.placed.room.name
            self.pending_rooms[room] = self.pending_rooms.get(room, 0) + sign
            if not self.pending_rooms[room]:
                del self.pending_rooms[room]


def _in_flight_now(
    views: list[RoomView] | None, before: Mapping[str, int], after: Mapping[str, int]
) -> list[RoomView]:
    """The rooms seen ``before`` a reservation, with the servers in flight ``after`` it."""

    def now(view: RoomView) -> RoomView:
        room = view.room.name
        return replace(view, servers=view.servers - before.get(room, 0) + after.get(room, 0))

    return [now(view) for view in views or []]


_ledgers: dict[int, Ledger] = {}


def shared_ledger(view: ClusterView) -> Ledger:
    if id(view) not in _ledgers:
        _ledgers[id(view)] = Ledger(view)
    return _ledgers[id(view)]


# What UnilimSpawner calls: one function per step of a start.

# A start gives up on the API server this long before JupyterHub's own start timeout, so
# that the user reads why instead of a bare timeout.
START_MARGIN = 5.0
_REFUSAL_MESSAGES = {
    "quota.servers": "spawn.quota_servers",
    "quota.cpu": "spawn.quota_cpu",
    "quota.memory": "spawn.quota_memory",
    "capacity": "spawn.cluster_full",
    "rooms.full": "spawn.cluster_full",
    "rooms.closed": "spawn.rooms_closed",
    "rooms.home_closed": "spawn.home_room_closed",
    "rooms.degraded": "spawn.rooms_degraded",
}


async def reserve(
    spawner: Any, decision: Chosen, properties: Mapping[str, GroupProperties]
) -> Reservation:
    """Reserve room for the chosen server, or raise the refusal the user reads."""
    await _kubespawner_watches(spawner)
    settings = spawner.settings
    overrides = {group: parsed.quota for group, parsed in properties.items()}
    groups = [group.name for group in spawner.user.groups]
    charged = charge(decision.choice.course, groups, settings.groups, settings.quotas, overrides)
    request = one_server(decision.size.cpu_guarantee, decision.size.mem_guarantee)
    ledger = await _ledger(spawner)
    key = f"{spawner.namespace}/{spawner.pod_name}"
    room_request = None
    if settings.rooms:
        home = await rooms.home_room(spawner, settings.rooms, ledger.view)
        room_request = RoomRequest(settings.rooms, home, settings.degraded_server_limit)
    outcome, reservation = ledger.reserve(
        key, charged, request, spawner.capacity_check, room_request
    )
    _record(charged, ledger.usage(charged.group))
    if reservation is None:
        assert not isinstance(outcome, Admitted)
        raise _refusal(spawner, outcome, request)
    rooms.record(reservation.placed, ledger.rooms_now, ledger.view.room_nodes(settings.rooms))
    return reservation


async def _kubespawner_watches(spawner: Any) -> None:
    """KubeSpawner's own watches, started again while the API server is away, until the
    start's deadline: a start must not fail (and count as a hub failure) for that."""
    backoff = Backoff(_deadline(spawner))
    while True:
        try:
            await compat.start_kubespawner_reflectors(spawner)
            return
        except Exception as error:
            if not transient(error):
                raise
            if backoff.expired():
                raise _api_unavailable(spawner) from None
            spawner.log.warning("Cannot watch pods and events yet (%s), again soon", error)
        await backoff.wait()


def _deadline(spawner: Any) -> float:
    return float(spawner._start_began + spawner.start_timeout - START_MARGIN)


def _api_unavailable(spawner: Any) -> Exception:
    seconds = int(spawner.start_timeout)
    return _refused(spawner, "spawn.api_unavailable", "api_unavailable", 503, seconds=seconds)


def _scope(spawner: Any) -> str | None:
    return None if spawner.cluster_pods_scope == "cluster" else spawner.namespace


def shares_pod_watch(spawner: Any) -> bool:
    """Whether the hub's view sees every pod KubeSpawner's own pod reflector would (all
    namespaces, or the one namespace KubeSpawner watches): then it serves as that
    reflector. Not with a namespace per user, unless the view sees all namespaces."""
    return _scope(spawner) is None or not spawner.enable_user_namespaces


async def pod_watch(spawner: Any, restart: bool = False) -> IndexedPodReflector:
    """The view's pod reflector, as KubeSpawner's (see :func:`shares_pod_watch`): started
    if need be, listed again if ``restart``. Raises what listing the pods raised."""
    view = await shared_view(spawner, _scope(spawner), restart)
    shared_ledger(view)  # read by unilim_group_usage
    assert view.pods is not None  # set before the view is returned
    return view.pods


def shared_pod_watch(spawner: Any) -> IndexedPodReflector | None:
    """The view's pod reflector once started (KubeSpawner's ``pod_reflector``)."""
    view = current_view(_scope(spawner))
    return view.pods if view is not None else None


async def watched_view(spawner: Any) -> ClusterView | None:
    """The hub's live view, started if need be; ``None`` while the cluster cannot be
    watched (the hub keeps what it cannot check)."""
    try:
        view = await shared_view(spawner, _scope(spawner))
    except Exception as error:
        spawner.log.warning("Cannot watch the cluster's pods and nodes now: %s", error)
        return None
    shared_ledger(view)  # read by unilim_group_usage
    return view


_background: set[asyncio.Task[ClusterView | None]] = set()


def watch_soon(spawner: Any) -> None:
    """Start the live view in the background if it is not watching: at the first poll
    after a hub restart, so that usage per group is counted from then on, not from the
    next start. One attempt at a time; a poll never waits for it."""
    view = current_view(_scope(spawner))
    if (view is not None and view.watching()) or _background:
        return
    task = asyncio.ensure_future(watched_view(spawner))
    _background.add(task)
    task.add_done_callback(_background.discard)


def lost_node(spawner: Any, view: ClusterView) -> NodeState | None:
    """The node of the spawner's running server if it is lost (see rooms.lost_node)."""
    pod = view.index.get(f"{spawner.namespace}/{spawner.pod_name}")
    return rooms.lost_node(view, pod, spawner.lost_node_grace)


def room_hint(
    spawner: Any, choice: Choice, properties: Mapping[str, GroupProperties]
) -> dict[str, str] | None:
    """For the picker: the servers left to the group a start of ``choice`` is charged to
    ("course-info101: 112 / 150 servers"), once the hub watches the cluster."""
    view = current_view(_scope(spawner))
    if view is None:
        return None
    settings = spawner.settings
    overrides = {group: parsed.quota for group, parsed in properties.items()}
    groups = [group.name for group in spawner.user.groups]
    charged = charge(choice.course, groups, settings.groups, settings.quotas, overrides)
    if charged.quota is None or charged.quota.servers is None:
        return None
    usage = shared_ledger(view).usage(charged.group).servers
    limit = charged.quota.servers
    return {
        language: translate(
            "picker.room_left", language, group=charged.group, usage=usage, limit=limit
        )
        for language in LANGUAGES
    }


async def _ledger(spawner: Any) -> Ledger:
    namespace = _scope(spawner)
    try:
        view = await shared_view(spawner, namespace)
    except Exception:
        spawner.log.exception("Cannot watch the cluster's pods and nodes")
        raise _refused(spawner, "spawn.cluster_unreachable", "cluster_unreachable", 503) from None
    return shared_ledger(view)


def _refused(spawner: Any, code: str, reason: str, status: int, **params: object) -> Exception:
    """The refusal the user reads; not a failure of the hub (consecutive_failure_limit)."""
    language = spawner.language()
    refusals.count(spawner.user.name, reason, translate(code, language, **params))
    forgive_in_failure_count(spawner.handler)
    return spawn_error(code, language, reason=reason, status=status, **params)


def _refusal(spawner: Any, refused: NoRoom | NotPlaced, request: Usage) -> Exception:
    show: dict[str, Callable[[int], str]] = {"cpu": format_cpu, "memory": format_memory}
    shown = show.get(refused.reason.removeprefix("quota."), str)
    params: dict[str, object] = {"usage": shown(refused.usage), "limit": shown(refused.limit)}
    if isinstance(refused, NoRoom):
        params["group"] = refused.group or ""
    elif refused.room is not None:
        params["room"] = refused.room.display_name.get(spawner.language())
    return _refused(
        spawner,
        _REFUSAL_MESSAGES[refused.reason],
        refused.reason,
        429,
        cpu=format_cpu(request.cpu),
        memory=format_memory(request.memory),
        **params,
    )


def _record(charged: Charge, usage: Usage) -> None:
    if charged.group is None:
        return
    for resource, (_, limit) in room_left(charged.quota, usage).items():
        metrics.GROUP_LIMIT.labels(charged.group, resource).set(_unit(resource, limit))


def _unit(resource: str, value: int) -> float:
    return value / 1000 if resource == "cpu" else value  # cores, as Kubernetes shows them


class GroupUsageCollector:
    """``unilim_group_usage``, read from the live view at each scrape: right after a hub
    restart (once the hub watches the cluster) and after servers stop, not only at the
    last start request. Groups with a limit and nothing running show 0; while the hub
    does not watch the cluster, no group is shown."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "unilim_group_usage",
            "What each charged group's servers use now: servers, cpu (cores) or memory "
            "(bytes) guaranteed, counting the starts in flight.",
            labels=["group", "resource"],
        )
        watched = [ledger for ledger in _ledgers.values() if ledger.view.watching()]
        # Not watching (the API server away): nothing, rather than a false 0.
        usage = dict.fromkeys(_limited_groups(), Usage()) if watched else {}
        for ledger in watched:
            usage.update(ledger.usage_by_group())  # one watched scope per hub
        for group, used in sorted(usage.items()):
            for resource in ("servers", "cpu", "memory"):
                family.add_metric([group, resource], _unit(resource, getattr(used, resource)))
        yield family


def _limited_groups() -> set[str]:
    return {
        sample.labels["group"]
        for family in metrics.GROUP_LIMIT.collect()
        for sample in family.samples
    }


REGISTRY.register(GroupUsageCollector())


def release(spawner: Any) -> None:
    reservation: Reservation | None = spawner._reservation
    spawner._reservation = None
    if reservation is None:
        return
    for ledger in list(_ledgers.values()):
        ledger.release(reservation.key, reservation.token)


def mark(pod: Any, reservation: Reservation | None, spread_key: str | None) -> Any:
    """Label the pod with its charged group, so usage can be rebuilt from the cluster,
    and send it to its rooms (see :func:`unilim_hub.rooms.send_to`)."""
    if reservation is not None:
        if reservation.placed is not None:
            rooms.send_to(pod, reservation.placed, spread_key)
        if reservation.group:
            pod.metadata.labels = {
                **(pod.metadata.labels or {}),
                CHARGED_GROUP: charged_label(reservation.group),
            }
        pod.metadata.annotations = {
            **(pod.metadata.annotations or {}),
            CHARGED_GROUP: reservation.group or "",
            RESERVATION: reservation.token,
        }
    return pod


async def create_pod(spawner: Any, pod: Any, attempt: Callable[[], Awaitable[bool]]) -> bool:
    queue = shared_queue(spawner.pod_creation_concurrency)
    spawner._ticket = ticket = Ticket(queue)
    deadline = _deadline(spawner)
    token = (pod.metadata.annotations or {}).get(RESERVATION)

    async def already_created() -> bool:
        return await _pod_has_token(spawner, pod, token)

    try:
        return await create_until(queue, ticket, attempt, already_created, deadline)
    except ApiUnavailable:
        raise _api_unavailable(spawner) from None


async def _pod_has_token(spawner: Any, pod: Any, token: str | None) -> bool:
    """An earlier try timed out on our side but created the pod: it is ours, keep it."""
    if token is None:
        return False
    try:
        existing = await asyncio.wait_for(
            spawner.api.read_namespaced_pod(pod.metadata.name, spawner.namespace),
            spawner.k8s_api_request_timeout,
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    annotations = existing.metadata.annotations or {}
    return bool(annotations.get(RESERVATION) == token)
