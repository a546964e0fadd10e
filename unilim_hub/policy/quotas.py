"""Group quotas: the baseline from configuration, overridden at run time by group properties."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .checker import Checker
from .models import GroupNaming, GroupQuota
from .quantities import parse_count, parse_cpu, parse_memory, parse_priority

# The same words in configuration (group_quotas) and in group properties (quota.<word>).
QUOTA_FIELDS: Mapping[str, Callable[[object], int]] = {
    "servers": parse_count,
    "cpu": parse_cpu,
    "memory": parse_memory,
    "server_cpu_limit": parse_cpu,
    "server_mem_limit": parse_memory,
    "priority": parse_priority,
}


def parse_quotas(check: Checker, groups: GroupNaming, raw: object) -> Mapping[str, GroupQuota]:
    key = "UnilimSpawner.group_quotas"
    if not isinstance(raw, Mapping):
        check.add(key, "value.not_mapping", value=repr(raw))
        return {}
    quotas = {}
    for group, item in raw.items():
        item_key = f"{key}[{group!r}]"
        check.known_group(groups, item_key, str(group))
        fields = check.fields(item_key, item, set(), set(QUOTA_FIELDS))
        if fields is None:
            continue
        values = {
            name: check.parse(f"{item_key}.{name}", QUOTA_FIELDS[name], value)
            for name, value in fields.items()
            if name in QUOTA_FIELDS
        }
        if None not in values.values():
            quotas[str(group)] = GroupQuota(group=str(group), **values)  # type: ignore[arg-type]
    return quotas
