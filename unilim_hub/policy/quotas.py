"""Group quotas: the baseline from configuration, overridden at run time by group properties."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

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
    for spelled, item in raw.items():
        item_key = f"{key}[{spelled!r}]"
        group = check.known_group(groups, item_key, spelled)
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


def effective_quota(
    group: str, baseline: Mapping[str, GroupQuota], override: Mapping[str, int]
) -> GroupQuota | None:
    """The group's baseline quota with its ``quota.*`` group properties applied."""
    base = baseline.get(group)
    if base is None and not override:
        return None
    # The override's keys are QUOTA_FIELDS, checked when the properties were parsed.
    return replace(base or GroupQuota(group), **override)  # type: ignore[arg-type]


def charged_quota(
    groups: Iterable[str],
    baseline: Mapping[str, GroupQuota],
    overrides: Mapping[str, Mapping[str, int]],
) -> GroupQuota | None:
    """The quota a user's servers count against: their highest-priority group with a quota.

    Ties go to the group whose name sorts first, so the answer never depends on order.
    """
    quotas = [
        quota
        for group in sorted(set(groups))
        if (quota := effective_quota(group, baseline, overrides.get(group, {}))) is not None
    ]
    return max(quotas, key=lambda quota: quota.priority, default=None)
