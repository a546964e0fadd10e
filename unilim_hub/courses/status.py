"""The admins' status page: group usage against quotas, rooms, refusals, wrong properties.

Usage, rooms (nodes ready, capacity, free) and refusal counts are the hub's own
Prometheus metrics (``/hub/metrics``, see :mod:`unilim_hub.metrics`), as of the last
start request; the latest refusals come from the hub's API (:mod:`unilim_hub.refusals`);
wrong group properties are read from every group, as a spawn would read them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyterhub.services.auth import check_scopes
from prometheus_client.parser import text_string_to_metric_families

from ..policy.models import Settings
from ..policy.problems import Problem
from ..policy.profiles import course_problems
from ..policy.properties import parse_group_properties

# Who sees the status page: whoever may read the hub's metrics and every group (admins).
STATUS_SCOPES = ("read:metrics", "read:groups")


def may_see_status(scopes: Collection[str]) -> bool:
    return all(check_scopes({scope}, set(scopes)) for scope in STATUS_SCOPES)


@dataclass(frozen=True)
class Room:
    """One room as of the last start: whether it takes servers, its servers, its nodes
    (ready, total), and per resource (servers, cpu, memory) its ready nodes' free and
    capacity; a resource is absent until the hub recorded it."""

    open: bool = False
    servers: float = 0
    nodes_ready: float | None = None
    nodes: float | None = None
    free: Mapping[str, float] = field(default_factory=dict)
    capacity: Mapping[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "open": self.open,
            "servers": self.servers,
            "nodes": {"ready": self.nodes_ready, "total": self.nodes},
            "free": dict(self.free),
            "capacity": dict(self.capacity),
        }


@dataclass(frozen=True)
class Refusal:
    """One refused start, as the hub recorded it."""

    at: str  # ISO time, UTC
    user: str
    reason: str
    message: str


@dataclass(frozen=True)
class Status:
    usage: Mapping[str, Mapping[str, tuple[float, float | None]]]  # group -> resource -> use, limit
    rooms: Mapping[str, Room]
    refusals: Mapping[str, float]  # reason -> count since the hub started
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)
    # The latest refusals, the newest first; None: the hub does not list them.
    latest: tuple[Refusal, ...] | None = ()


def latest_refusals(items: list[dict[str, object]] | None) -> tuple[Refusal, ...] | None:
    """The hub's answer, each entry's fields as text (the page escapes them)."""
    if items is None:
        return None
    return tuple(
        Refusal(*(str(item.get(name, "")) for name in ("at", "user", "reason", "message")))
        for item in items
    )


_ROOM_SAMPLES = {"unilim_room_open", "unilim_room_servers", "unilim_room_nodes"}
_ROOM_RESOURCES = {"unilim_room_free": "free", "unilim_room_capacity": "capacity"}


def read_metrics(text: str) -> Status:
    usage: dict[str, dict[str, list[float | None]]] = {}
    rooms: dict[str, dict[str, Any]] = {}
    refusals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name in ("unilim_group_usage", "unilim_group_limit"):
                entry = usage.setdefault(labels["group"], {}).setdefault(
                    labels["resource"], [0.0, None]
                )
                entry[0 if sample.name == "unilim_group_usage" else 1] = sample.value
            elif sample.name in _ROOM_SAMPLES or sample.name in _ROOM_RESOURCES:
                _room_sample(
                    rooms.setdefault(labels["room"], {}), sample.name, labels, sample.value
                )
            elif sample.name == "unilim_spawn_refusals_total":
                refusals[labels["reason"]] = sample.value
    return Status(
        usage={
            group: {name: (use or 0.0, limit) for name, (use, limit) in resources.items()}
            for group, resources in sorted(usage.items())
        },
        rooms={name: Room(**fields) for name, fields in sorted(rooms.items())},
        refusals=dict(sorted(refusals.items())),
    )


def _room_sample(room: dict[str, Any], name: str, labels: Mapping[str, str], value: float) -> None:
    if name == "unilim_room_open":
        room["open"] = bool(value)
    elif name == "unilim_room_servers":
        room["servers"] = value
    elif name == "unilim_room_nodes":
        room["nodes_ready" if labels.get("state") == "ready" else "nodes"] = value
    else:
        room.setdefault(_ROOM_RESOURCES[name], {})[labels["resource"]] = value


def property_problems(
    groups: list[dict[str, object]], settings: Settings
) -> dict[str, tuple[Problem, ...]]:
    """Per group, what is wrong in its properties (each falls back to the baseline)."""
    found = {}
    for group in groups:
        properties = group.get("properties") or {}
        assert isinstance(properties, Mapping)
        parsed = parse_group_properties(properties)
        problems = parsed.problems + course_problems(parsed, settings)
        if problems:
            found[str(group["name"])] = problems
    return dict(sorted(found.items()))
