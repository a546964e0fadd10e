"""The admins' status page: group usage against quotas, rooms, refusals, wrong properties.

Usage, rooms and refusals are the hub's own Prometheus metrics (``/hub/metrics``, see
:mod:`unilim_hub.metrics`), as of each group's last start request; wrong group
properties are read from every group, as a spawn would read them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

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
class Status:
    usage: Mapping[str, Mapping[str, tuple[float, float | None]]]  # group -> resource -> use, limit
    rooms: Mapping[str, tuple[bool, float]]  # room -> open, servers
    refusals: Mapping[str, float]  # reason -> count since the hub started
    problems: Mapping[str, tuple[Problem, ...]] = field(default_factory=dict)


def read_metrics(text: str) -> Status:
    usage: dict[str, dict[str, list[float | None]]] = {}
    rooms: dict[str, list[float]] = {}
    refusals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name in ("unilim_group_usage", "unilim_group_limit"):
                entry = usage.setdefault(labels["group"], {}).setdefault(
                    labels["resource"], [0.0, None]
                )
                entry[0 if sample.name == "unilim_group_usage" else 1] = sample.value
            elif sample.name in ("unilim_room_open", "unilim_room_servers"):
                room = rooms.setdefault(labels["room"], [0.0, 0.0])
                room[0 if sample.name == "unilim_room_open" else 1] = sample.value
            elif sample.name == "unilim_spawn_refusals_total":
                refusals[labels["reason"]] = sample.value
    return Status(
        usage={
            group: {name: (use or 0.0, limit) for name, (use, limit) in resources.items()}
            for group, resources in sorted(usage.items())
        },
        rooms={name: (bool(state), servers) for name, (state, servers) in sorted(rooms.items())},
        refusals=dict(sorted(refusals.items())),
    )


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
