"""Admission: may one more server start now, for its charged group and on the cluster?

Pure: the adapters hand over what the cluster holds (usage per group, free room per node)
and the reservations in flight; the answer is a value, never an exception. Every quantity
is an integer (servers, millicores, bytes) so that sums and comparisons are exact.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from .models import GroupNaming, GroupQuota
from .quotas import charged_quota, effective_quota


@dataclass(frozen=True)
class Usage:
    """Servers and the CPU and memory they are guaranteed (their requests)."""

    servers: int = 0
    cpu: int = 0  # millicores
    memory: int = 0  # bytes

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.servers + other.servers, self.cpu + other.cpu, self.memory + other.memory)

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.servers - other.servers, self.cpu - other.cpu, self.memory - other.memory)

    def covers(self, request: Usage) -> bool:
        """Room for ``request``: every resource at least as large."""
        return (
            self.servers >= request.servers
            and self.cpu >= request.cpu
            and self.memory >= request.memory
        )


def one_server(cpu: int, memory: int) -> Usage:
    """What starting one server with these guarantees adds."""
    return Usage(1, cpu, memory)


@dataclass(frozen=True)
class Charge:
    """The group a server counts against; ``quota`` is ``None`` when it has no limits."""

    group: str | None
    quota: GroupQuota | None = None


def charge(
    course: str | None,
    groups: Collection[str],
    naming: GroupNaming,
    baseline: Mapping[str, GroupQuota],
    overrides: Mapping[str, Mapping[str, int]],
) -> Charge:
    """A course profile is charged to its course group; anything else to the user's
    highest-priority group that has a quota (none if no group has one)."""
    if course is not None:
        group = naming.course_prefix + course
        return Charge(group, effective_quota(group, baseline, overrides.get(group, {})))
    quota = charged_quota(groups, baseline, overrides)
    return Charge(quota.group, quota) if quota else Charge(None)


@dataclass(frozen=True)
class Node:
    """A node that may take user servers: what is left of its allocatable resources.

    ``free.servers`` is its free pod slots (``maxPods`` minus the pods bound to it).
    """

    name: str
    free: Usage


@dataclass(frozen=True)
class Admitted:
    group: str | None


@dataclass(frozen=True)
class NoRoom:
    """``reason`` names the limit: ``quota.servers``, ``quota.cpu``, ``quota.memory``
    or ``capacity``; ``limit`` and ``usage`` are in that limit's unit."""

    reason: str
    group: str | None
    limit: int
    usage: int


QUOTA_RESOURCES = ("servers", "cpu", "memory")


def admit(
    charged: Charge,
    usage: Usage,
    request: Usage,
    nodes: Iterable[Node] | None = None,
    unplaced: Usage = Usage(),
) -> Admitted | NoRoom:
    """Whether ``request`` may start now.

    ``usage`` is the charged group's live servers plus its reservations in flight.
    ``nodes`` are the healthy nodes (``None`` when the cluster view is not known: no
    capacity check); ``unplaced`` is what is already promised but not yet on a node
    (reservations in flight, pods not yet scheduled), which must fit too.
    """
    quota = charged.quota
    if quota is not None:
        for resource in QUOTA_RESOURCES:
            limit: int | None = getattr(quota, resource)
            used: int = getattr(usage, resource)
            if limit is not None and used + getattr(request, resource) > limit:
                return NoRoom(f"quota.{resource}", charged.group, limit, used)
    if nodes is not None and not fits(tuple(nodes), request, unplaced):
        return NoRoom("capacity", charged.group, 0, 0)
    return Admitted(charged.group)


def fits(nodes: tuple[Node, ...], request: Usage, unplaced: Usage) -> bool:
    """Some node can take ``request``, and the cluster as a whole can take it on top of
    everything promised but not yet placed (so a burst cannot overbook the last slots)."""
    if not any(node.free.covers(request) for node in nodes):
        return False
    return (total_free(nodes) - unplaced).covers(request)


def total_free(nodes: Iterable[Node]) -> Usage:
    """What the nodes have free together (integer sums: one Usage, not one per node)."""
    servers = cpu = memory = 0
    for node in nodes:
        servers, cpu, memory = (
            servers + node.free.servers,
            cpu + node.free.cpu,
            memory + node.free.memory,
        )
    return Usage(servers, cpu, memory)


def room_left(quota: GroupQuota | None, usage: Usage) -> Mapping[str, tuple[int, int]]:
    """For each limit the group has: (usage, limit), e.g. for "112 / 150 servers"."""
    if quota is None:
        return {}
    return {
        resource: (getattr(usage, resource), limit)
        for resource in QUOTA_RESOURCES
        if (limit := getattr(quota, resource)) is not None
    }
