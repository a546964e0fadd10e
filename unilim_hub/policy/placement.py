"""Placement: which server room a new server goes to.

Pure: the adapter hands over each room as the live view sees it (its nodes that take new
pods, what each has free, the user servers already there or on their way); the answer is
a value. The decision becomes node affinity on the pod (required: the rooms that may take
it; preferred: the chosen room), so the real kube-scheduler makes the final binding.

Why balance servers rather than pack them: either room can go down, and the servers in it
are lost. With the servers spread by the rooms' weights, losing one room costs about its
share of the users (half, with two equal rooms), never all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .admission import Node, Usage, total_free
from .models import Room


@dataclass(frozen=True)
class RoomView:
    """One room now. ``nodes``: its nodes that take new pods (Ready, schedulable), with what
    each has free; ``servers``: the user servers there, waiting for a node or in flight."""

    room: Room
    nodes: tuple[Node, ...]
    servers: int

    @property
    def down(self) -> bool:
        """No node of the room takes new pods: lost, or all drained."""
        return not self.nodes

    @property
    def open(self) -> bool:
        """Takes new servers: up, and not in maintenance."""
        return not self.down and not self.room.maintenance

    def takes(self, request: Usage) -> bool:
        return any(node.free.covers(request) for node in self.nodes)

    def free(self) -> Usage:
        return total_free(self.nodes)


@dataclass(frozen=True)
class Placed:
    """``room`` is preferred; ``allowed`` are the rooms the pod may land in (``room`` first)."""

    room: Room
    allowed: tuple[Room, ...]


@dataclass(frozen=True)
class NotPlaced:
    """Why no room takes the server: ``rooms.closed`` (every room down or in maintenance),
    ``rooms.home_closed`` (the room its home volume is bound to; ``room`` names it),
    ``rooms.full`` (no open room has a node with room for it) or ``rooms.degraded``
    (the degraded-mode ceiling: ``limit`` servers, ``usage`` already there)."""

    reason: str
    room: Room | None = None
    limit: int = 0
    usage: int = 0


def place(
    rooms: Sequence[RoomView],
    request: Usage,
    home: str | None = None,
    degraded_limit: int | None = None,
    fit: bool = True,
) -> Placed | NotPlaced:
    """The room for one more server asking ``request``.

    ``home`` is the room its home volume is bound to, if any. ``degraded_limit`` caps the
    servers of the open rooms while another room is not open. ``fit=False`` takes a room
    whatever its nodes have free (no capacity check). The chosen room is the
    open one with the fewest servers for its weight, then the most free pod slots, CPU
    and memory, then the first configured: with equal rooms, one server apart at most.
    """
    candidates = [view for view in rooms if view.open]
    if home is not None:
        bound = next((view for view in rooms if view.room.name == home), None)
        if bound is None or not bound.open:
            return NotPlaced("rooms.home_closed", bound.room if bound else None)
        candidates = [bound]
    if not candidates:
        return NotPlaced("rooms.closed")
    if degraded_limit is not None and any(not view.open for view in rooms):
        servers = sum(view.servers for view in rooms if view.open)
        if servers + request.servers > degraded_limit:
            return NotPlaced("rooms.degraded", limit=degraded_limit, usage=servers)
    taking = [view for view in candidates if not fit or view.takes(request)]
    if not taking:
        return NotPlaced("rooms.full")
    # A stable sort of rooms in their configured order: between equal rooms, the first.
    taking.sort(key=_preference)
    return Placed(taking[0].room, tuple(view.room for view in taking))


def _preference(view: RoomView) -> tuple[float, int, int, int]:
    free = view.free()
    return (view.servers / view.room.weight, -free.servers, -free.cpu, -free.memory)


def spread_key(rooms: Sequence[Room]) -> str | None:
    """The node label that tells the rooms apart (``topology.kubernetes.io/zone``): a key
    every room selects on, with a different value in each; ``None`` if there is none."""
    if len(rooms) < 2:
        return None
    shared = set.intersection(*(set(room.node_selector) for room in rooms))
    for key in sorted(shared):
        if len({room.node_selector[key] for room in rooms}) == len(rooms):
            return key
    return None


def room_of(labels: Mapping[str, str], rooms: Sequence[Room]) -> Room | None:
    """The room a node with these labels belongs to (the first that holds it)."""
    return next((room for room in rooms if room.holds(labels)), None)


@dataclass(frozen=True)
class Requirement:
    """One ``matchExpressions`` item of a node selector term."""

    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: tuple[str, ...] = ()

    def holds(self, labels: Mapping[str, str]) -> bool:
        if self.operator in ("In", "NotIn"):
            return (labels.get(self.key) in self.values) == (self.operator == "In")
        if self.operator in ("Exists", "DoesNotExist"):
            return (self.key in labels) == (self.operator == "Exists")
        if self.operator in ("Gt", "Lt") and len(self.values) == 1:
            try:
                number, bound = int(labels[self.key]), int(self.values[0])
            except (KeyError, ValueError):
                return False
            return number > bound if self.operator == "Gt" else number < bound
        return False


def bound_room(
    terms: Sequence[Sequence[Requirement]],
    nodes: Mapping[str, Mapping[str, str]],
    rooms: Sequence[Room],
) -> Room | None:
    """The room a volume is bound to, from its node affinity (``terms``: a volume's
    ``nodeSelectorTerms``, each a list of ``matchExpressions``) and every node's labels
    (``nodes``, down ones included): the one room all its nodes are in, else ``None``
    (no affinity, or nodes in several rooms: the volume follows the server)."""
    if not terms:
        return None
    found = {
        room.name: room
        for labels in nodes.values()
        if any(_term_matches(term, labels) for term in terms)
        and (room := room_of(labels, rooms)) is not None
    }
    return next(iter(found.values())) if len(found) == 1 else None


def _term_matches(term: Sequence[Requirement], labels: Mapping[str, str]) -> bool:
    return all(requirement.holds(labels) for requirement in term)
