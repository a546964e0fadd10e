"""Server rooms: the nodes each room holds and whether it takes new servers."""

from __future__ import annotations

import re
from collections.abc import Mapping

from .models import Room
from .problems import Checker, parse_text
from .quantities import parse_count, parse_name

# Kubernetes label syntax: an optional DNS-subdomain prefix, then a name of 1 to 63 characters.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME}\Z")
_LABEL_VALUE = re.compile(rf"^({_LABEL_NAME})?\Z")


def parse_rooms(check: Checker, raw: object) -> tuple[Room, ...]:
    key = "UnilimSpawner.rooms"
    rooms = [
        room
        for item_key, item in check.items(key, raw)
        if (room := _room(check, item_key, item)) is not None
    ]
    names = [room.name for room in rooms]
    for name in sorted({name for name in names if names.count(name) > 1}):
        check.add(key, "room.duplicate", room=name)
    return tuple(rooms)


def _room(check: Checker, key: str, raw: object) -> Room | None:
    optional = {"display_name", "maintenance", "weight"}
    fields = check.fields(key, raw, {"name", "node_selector"}, optional)
    if fields is None:
        return None
    # A missing name or selector is told once (key.missing), not again as a wrong value.
    name = check.field(key, "name", parse_name, fields)
    selector = None
    if "node_selector" in fields:
        selector = _selector(check, f"{key}.node_selector", fields["node_selector"])
    maintenance = fields.get("maintenance", False)
    if not isinstance(maintenance, bool):
        check.add(f"{key}.maintenance", "value.not_boolean", value=repr(maintenance))
    weight = check.parse(f"{key}.weight", parse_count, fields.get("weight", Room.weight))
    if weight == 0:
        check.add(f"{key}.weight", "value.zero")
    if name is None or selector is None:
        return None
    display_name = parse_text(check, f"{key}.display_name", fields.get("display_name"), name)
    return Room(name, display_name, selector, maintenance is True, weight or Room.weight)


def parse_degraded_limit(check: Checker, raw: object) -> int | None:
    """``UnilimSpawner.degraded_server_limit``: a whole number of servers, or ``None``."""
    if raw is None:
        return None
    return check.parse("UnilimSpawner.degraded_server_limit", parse_count, raw)


def _selector(check: Checker, key: str, raw: object) -> Mapping[str, str] | None:
    if not isinstance(raw, Mapping):
        check.add(key, "value.not_mapping", value=repr(raw))
        return None
    if not raw:
        check.add(key, "room.empty_selector")
        return None
    for label, value in raw.items():
        if not _LABEL_KEY.match(str(label)):
            check.add(f"{key}.{label}", "label.key_invalid", label=str(label))
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            check.add(f"{key}.{label}", "label.value_invalid", value=repr(value))
    return {str(label): str(value) for label, value in raw.items()}
