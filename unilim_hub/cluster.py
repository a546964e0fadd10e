"""The live view of the cluster that admission needs, shared by every spawner of the hub.

Two watches, started once per hub process and never a LIST per spawn:

- the pods bound to nodes or waiting for one, through KubeSpawner's ResourceReflector, with
  an index kept up to date at each watch event: the servers, CPU and memory requests per
  charged group (the ``unilim.fr/charged-group`` label) and per node;
- the nodes: what each healthy node can allocate.

Why not KubeSpawner's own pod reflector: it sees only ``component=singleuser-server`` pods
of the hub's namespace, while a node's free pod slots and requests depend on every pod on
it. With ``UnilimSpawner.cluster_pods_scope = "namespace"`` (no cluster-wide read of
pods), the view counts only the hub's namespace and the capacity check is approximate.
The other way round works: the view sees every pod KubeSpawner's reflector would, so it
serves as KubeSpawner's pod reflector too, and the hub watches and decodes each pod once,
not twice (see :meth:`unilim_hub.spawner.UnilimSpawner._start_watching_pods`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes_asyncio import watch
from kubespawner.clients import shared_client
from kubespawner.reflector import ResourceReflector
from traitlets import default, validate

from .policy.admission import Node, Usage
from .policy.models import Room
from .policy.placement import RoomView, room_of

CHARGED_GROUP = "unilim.fr/charged-group"
ROOM = "unilim.fr/room"  # on user pods: the room their placement chose
# Called with a pod's key when it starts or stops holding resources, and whether it does.
Listener = Callable[[str, bool], None]
RESERVATION = "unilim.fr/reservation"
log = logging.getLogger("unilim_hub.cluster")

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


def charged_label(group: str) -> str:
    """The label value naming ``group`` on its pods: the name itself when Kubernetes
    takes it as a label value (course-info101), else a stable digest of it."""
    if _LABEL_VALUE.match(group):
        return group
    return "g-" + hashlib.sha256(group.encode()).hexdigest()[:40]


_SUFFIXES = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "P": Decimal(10**15), "E": Decimal(10**18), "Ki": Decimal(2**10), "Mi": Decimal(2**20),
    "Gi": Decimal(2**30), "Ti": Decimal(2**40), "Pi": Decimal(2**50), "Ei": Decimal(2**60),
}  # fmt: skip
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(text: object, scale: int = 1) -> int:
    """A Kubernetes quantity (``500m``, ``2``, ``4Gi``) times ``scale``, rounded up; 0 if
    unreadable (the API server has validated it, so that is only a defensive default)."""
    match = _QUANTITY.match(str(text).strip())
    if not match or match.group(2) not in _SUFFIXES:
        return 0
    try:
        value = Decimal(match.group(1)) * _SUFFIXES[match.group(2)] * scale
    except InvalidOperation:
        return 0
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def pod_requests(pod: dict[str, Any]) -> Usage:
    """One server with the CPU (millicores) and memory (bytes) its containers request."""
    cpu = memory = 0
    for container in pod.get("spec", {}).get("containers", []):
        requests = (container.get("resources") or {}).get("requests") or {}
        cpu += quantity(requests.get("cpu", 0), 1000)
        memory += quantity(requests.get("memory", 0))
    return Usage(1, cpu, memory)


def holds_resources(pod: dict[str, Any]) -> bool:
    """Scheduled or waiting to be, and not finished: what the scheduler counts."""
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")


@dataclass(frozen=True)
class _Entry:
    group: str | None
    node: str | None
    room: str | None  # the ROOM label: a user server placed by the hub
    usage: Usage


class PodIndex(dict[str, dict[str, Any]]):
    """The reflector's pods by ``namespace/name``, with running sums kept at each change.

    The reflector mutates this mapping at each watch event (``index[key] = pod``,
    ``index.pop(key)``) and replaces it after each full list, when it is rebuilt.
    """

    def __init__(self, pods: dict[str, dict[str, Any]], on_change: Listener):
        super().__init__()
        self.by_group: dict[str | None, Usage] = {}
        self.by_node: dict[str | None, Usage] = {}
        # User servers (pods with a ROOM label) on each node, and those not yet on one.
        self.servers_on: dict[str, int] = {}
        self.waiting_for: dict[str, int] = {}  # by the room their placement chose
        self.entries: dict[str, _Entry] = {}
        self.group_names: dict[str, str] = {}  # charged label -> the group's own name
        self.on_change = on_change
        for key, pod in pods.items():
            self[key] = pod

    def __setitem__(self, key: str, pod: dict[str, Any]) -> None:
        super().__setitem__(key, pod)
        self._account(key, pod)

    def pop(self, key: str, default: Any = None) -> Any:
        pod = super().pop(key, default)
        self._account(key, None)
        return pod

    def _account(self, key: str, pod: dict[str, Any] | None) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self._sum(old, -1)
        if pod is not None and holds_resources(pod):
            metadata = pod.get("metadata", {})
            labels = metadata.get("labels") or {}
            node = pod.get("spec", {}).get("nodeName")
            entry = _Entry(labels.get(CHARGED_GROUP), node, labels.get(ROOM), pod_requests(pod))
            name = (metadata.get("annotations") or {}).get(CHARGED_GROUP)
            if entry.group and name:
                self.group_names[entry.group] = name
            self.entries[key] = entry
            self._sum(entry, +1)
        if (old is None) != (key not in self.entries):
            self.on_change(key, key in self.entries)  # the pod appeared or went away

    def _sum(self, entry: _Entry, sign: int) -> None:
        usage = entry.usage if sign > 0 else Usage() - entry.usage
        _add(self.by_group, entry.group, usage)
        _add(self.by_node, entry.node, usage)
        if entry.room is not None:
            where, key = (
                (self.servers_on, entry.node) if entry.node else (self.waiting_for, entry.room)
            )
            where[key] = where.get(key, 0) + sign
            if not where[key]:
                del where[key]

    def live(self, key: str) -> bool:
        return key in self.entries

    def group_usage(self, group: str | None) -> Usage:
        """The group's servers seen in the cluster (no group: nothing to count)."""
        return self.by_group.get(charged_label(group), Usage()) if group else Usage()

    def usage_by_group(self) -> dict[str, Usage]:
        """Each charged group's servers seen in the cluster, by the group's name (its
        label when the pod does not carry the name, e.g. made by an older hub)."""
        return {
            self.group_names.get(label, label): usage
            for label, usage in self.by_group.items()
            if label is not None
        }


def _add(sums: dict[str | None, Usage], key: str | None, usage: Usage) -> None:
    total = sums.get(key, Usage()) + usage
    if total == Usage():
        sums.pop(key, None)
    else:
        sums[key] = total


# How long a watch of the hub's runs before the API server ends it, and the hub lists again
# (KubeSpawner's reflectors: 10 s). A list of every pod or event decodes them all: at 10 s,
# the lists were an eighth of the hub's CPU in a class start. The network time-out is
# above it, so that a watch that ends as planned is not an error.
WATCH_SECONDS = 60
WATCH_REQUEST_TIMEOUT = 90


class ResyncingReflector(ResourceReflector):  # type: ignore[misc]  # upstream is untyped
    """KubeSpawner's reflector, listing everything again every :data:`WATCH_SECONDS`
    (a watch can miss events: the list puts the view right) rather than every 10 s."""

    @default("timeout_seconds")
    def _watch_seconds(self) -> int:
        return WATCH_SECONDS

    @default("restart_seconds")
    def _restart_seconds(self) -> int:
        return WATCH_SECONDS

    @default("request_timeout")
    def _request_timeout(self) -> int:
        return WATCH_REQUEST_TIMEOUT


class IndexedPodReflector(ResyncingReflector):
    """KubeSpawner's reflector over pods, keeping its resources in a :class:`PodIndex`."""

    kind = "pods"
    on_change: Listener = staticmethod(lambda key, live: None)

    @validate("resources")
    def _index(self, proposal: Any) -> PodIndex:
        # Runs at every assignment (an observer would not: traitlets skips it when the
        # new list equals the old one), so the resources are always an index.
        if isinstance(proposal.value, PodIndex):
            return proposal.value
        index = PodIndex(proposal.value, self.on_change)
        # After a full list, pods may have come or gone while the watch was down.
        for key in set(self._trait_values.get("resources") or {}) - set(index):
            self.on_change(key, False)
        return index

    @property
    def pods(self) -> dict[str, dict[str, Any]]:
        """The pods by ``namespace/name``, as KubeSpawner's PodReflector names them: this
        reflector is KubeSpawner's too when it sees every pod KubeSpawner's would (see
        :meth:`unilim_hub.spawner.UnilimSpawner._start_watching_pods`)."""
        return self.resources  # type: ignore[no-any-return]

    @property
    def index(self) -> PodIndex:
        resources = self.resources
        if not isinstance(resources, PodIndex):  # before the first list
            return PodIndex({}, self.on_change)
        return resources


@dataclass(frozen=True)
class NodeState:
    name: str
    healthy: bool  # takes new pods
    allocatable: Usage  # servers = maxPods
    labels: dict[str, str] = field(default_factory=dict)
    # When it stopped being Ready (its pods are then lost), else None.
    down_since: datetime | None = None


def node_state(node: Any) -> NodeState:
    """The parts of a node (kubernetes_asyncio V1Node) admission and placement read."""
    status, spec = node.status, node.spec
    conditions = (status.conditions if status else None) or []
    ready = next((c for c in conditions if c.type == "Ready"), None)
    up = ready is not None and ready.status == "True"
    # The node lifecycle controller's taints (not-ready, unreachable, pressure...) and a
    # cordon mean no new pod lands there; taints the user pods tolerate are the admins'.
    taints = (spec.taints if spec else None) or []
    tainted = any(t.key.startswith("node.kubernetes.io/") for t in taints)
    allocatable = (status.allocatable if status else None) or {}
    since = None
    if not up:
        since = (ready.last_transition_time if ready else None) or datetime.now(UTC)
    return NodeState(
        node.metadata.name,
        up and not tainted and not (spec and spec.unschedulable),
        Usage(
            quantity(allocatable.get("pods", 0)),
            quantity(allocatable.get("cpu", 0), 1000),
            quantity(allocatable.get("memory", 0)),
        ),
        dict(node.metadata.labels or {}),
        since,
    )


class NodeWatch:
    """The cluster's nodes, from a list then a watch, restarted whenever it ends.

    Not a ResourceReflector: it keys objects by namespace, which nodes do not have.
    """

    def __init__(self, api: Any) -> None:
        self.api = api
        self.nodes: dict[str, NodeState] = {}
        self.loaded = False
        self.first_list = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                listing = await self.api.list_node(_request_timeout=30)
                self.nodes = {node.metadata.name: node_state(node) for node in listing.items}
                self.loaded, delay = True, 0.5
                self.first_list.set()
                stream = watch.Watch().stream(
                    self.api.list_node,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=WATCH_SECONDS,
                    _request_timeout=WATCH_REQUEST_TIMEOUT,
                )
                async for event in stream:
                    state = node_state(event["object"])
                    if event["type"] == "DELETED":
                        self.nodes.pop(state.name, None)
                    else:
                        self.nodes[state.name] = state
            except asyncio.CancelledError:
                raise
            except Exception as error:  # API server restart, 410 Gone...: list again
                log.warning("Watching nodes: %s; again in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)


class ClusterView:
    """Pods and nodes as admission sees them, shared by all spawners of a hub process."""

    def __init__(self, nodes: NodeWatch) -> None:
        self.pods: IndexedPodReflector | None = None
        self.node_watch = nodes
        self.listeners: list[Listener] = []
        self._rooms_of: dict[str, tuple[NodeState, tuple[Room, ...], Room | None]] = {}
        self._free_of: dict[str, tuple[NodeState, Usage | None, Node]] = {}

    def changed(self, key: str, live: bool) -> None:
        for listener in self.listeners:
            listener(key, live)

    def watch(self, pods: IndexedPodReflector) -> None:
        """Use a started reflector (the first, or one replacing a reflector that gave up
        or was restarted), stopping the one it replaces."""
        gone = set(self.index.entries) - set(pods.index.entries)
        replaced, self.pods = self.pods, pods
        for key in gone:
            self.changed(key, False)
        if replaced is not None:
            task = asyncio.ensure_future(replaced.stop())
            _stopping.add(task)
            task.add_done_callback(_stopping.discard)

    def watching(self) -> bool:
        task = self.pods.watch_task if self.pods is not None else None
        return task is not None and not task.done()

    @property
    def index(self) -> PodIndex:
        return self.pods.index if self.pods is not None else PodIndex({}, self.changed)

    def free_nodes(self) -> Iterator[Node] | None:
        """What each healthy node has left; ``None`` until the nodes are known."""
        if not self.node_watch.loaded:
            return None
        return (self._free(state) for state in self.node_watch.nodes.values() if state.healthy)

    def _free(self, state: NodeState) -> Node:
        """What the node has left, worked out again only when it or its pods change."""
        used = self.index.by_node.get(state.name)
        cached = self._free_of.get(state.name)
        if cached is None or cached[0] is not state or cached[1] is not used:
            free = Node(state.name, state.allocatable - used if used else state.allocatable)
            cached = self._free_of[state.name] = (state, used, free)
        return cached[2]

    def unscheduled(self) -> Usage:
        """Pods that wait for a node: promised, not yet placed."""
        return self.index.by_node.get(None, Usage())

    def rooms(self, rooms: tuple[Room, ...], in_flight: Mapping[str, int]) -> list[RoomView] | None:
        """Each room now: its healthy nodes with what they have free, and its user servers
        (on its nodes, waiting for a node, and ``in_flight``: not yet created); ``None``
        until the nodes are known."""
        if not self.node_watch.loaded:
            return None
        index = self.index
        nodes: dict[str, list[Node]] = {room.name: [] for room in rooms}
        servers = {
            room.name: in_flight.get(room.name, 0) + index.waiting_for.get(room.name, 0)
            for room in rooms
        }
        for name, state in self.node_watch.nodes.items():
            room = self._room_of(state, rooms)
            if room is None:
                continue
            servers[room.name] += index.servers_on.get(name, 0)
            if state.healthy:
                nodes[room.name].append(self._free(state))
        return [RoomView(room, tuple(nodes[room.name]), servers[room.name]) for room in rooms]

    def room_nodes(self, rooms: tuple[Room, ...]) -> dict[str, tuple[int, Usage]]:
        """Per room, how many nodes it has (ready or not) and what its ready nodes can
        hold (allocatable)."""
        found: dict[str, tuple[int, Usage]] = {room.name: (0, Usage()) for room in rooms}
        for state in self.node_watch.nodes.values():
            room = self._room_of(state, rooms)
            if room is not None:
                count, capacity = found[room.name]
                found[room.name] = (
                    count + 1,
                    capacity + state.allocatable if state.healthy else capacity,
                )
        return found

    def _room_of(self, state: NodeState, rooms: tuple[Room, ...]) -> Room | None:
        """The node's room, worked out again only when the node or the rooms change."""
        cached = self._rooms_of.get(state.name)
        if cached is None or cached[0] is not state or cached[1] is not rooms:
            cached = self._rooms_of[state.name] = (state, rooms, room_of(state.labels, rooms))
        return cached[2]


_views: dict[tuple[str | None, int], ClusterView] = {}
_starting: dict[tuple[str | None, int], asyncio.Future[ClusterView]] = {}
_stopping: set[asyncio.Future[None]] = set()  # replaced reflectors, until they stopped


def current_view(namespace: str | None) -> ClusterView | None:
    """The hub's view if it is already watching (it starts at the first start)."""
    try:
        return _views.get((namespace, id(asyncio.get_running_loop())))
    except RuntimeError:  # no event loop: no hub running here
        return None


async def shared_view(parent: Any, namespace: str | None, restart: bool = False) -> ClusterView:
    """The hub's view (one per scope and event loop), started at the first call, and
    started again if its watch gave up (the API server away for too long) or if
    ``restart`` (KubeSpawner's answer to a pod that never showed up: list them again).

    ``namespace=None`` watches the pods of every namespace.
    """
    key = (namespace, id(asyncio.get_running_loop()))
    view = _views.get(key)
    if view is not None and view.watching() and not restart:
        return view
    if key in _starting:
        return await asyncio.shield(_starting[key])
    future: asyncio.Future[ClusterView] = asyncio.get_running_loop().create_future()
    _starting[key] = future
    try:
        if view is None:
            view = ClusterView(NodeWatch(shared_client("CoreV1Api")))
        view.node_watch.start()
        view.watch(await _watch_pods(parent, namespace, view.changed))
        await _first_nodes(view.node_watch)
        _views[key] = view
        future.set_result(view)
        return view
    except BaseException as error:
        future.set_exception(error)
        future.exception()  # retrieved: the callers waiting on it get it raised
        raise
    finally:
        _starting.pop(key, None)


async def _first_nodes(nodes: NodeWatch) -> None:
    try:
        await asyncio.wait_for(nodes.first_list.wait(), NODES_TIMEOUT)
    except TimeoutError:
        log.warning("The nodes are not known yet: no capacity check or placement until they are")


NODES_TIMEOUT = 10.0
# How long the first list of pods is retried: a class start can keep the hub's event loop
# busy for tens of seconds (JupyterHub's own work for each start), timing out connections.
FIRST_LIST_TIMEOUT = 90.0


async def _watch_pods(
    parent: Any, namespace: str | None, on_change: Listener
) -> IndexedPodReflector:
    deadline = time.monotonic() + FIRST_LIST_TIMEOUT
    delay = 0.5
    while True:
        reflector = IndexedPodReflector(
            parent=parent,
            namespace=namespace,
            omit_namespace=namespace is None,
            list_method_name=(
                "list_pod_for_all_namespaces" if namespace is None else "list_namespaced_pod"
            ),
        )
        reflector.on_change = on_change
        try:
            await reflector.start()
            return reflector
        except Exception as error:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("Listing the cluster's pods failed (%s), again in %.1f s", error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 8)
