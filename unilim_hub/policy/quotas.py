"""Group quotas: the baseline from configuration, overridden at run time by group properties."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from .models import GroupNaming, GroupQuota, Size
from .problems import Checker
from .quantities import parse_count, parse_cpu, parse_memory, parse_named_servers, parse_priority

# The same words in configuration (group_quotas) and in group properties (quota.<word>).
QUOTA_FIELDS: Mapping[str, Callable[[object], int]] = {
    "servers": parse_count,
    "cpu": parse_cpu,
    "memory": parse_memory,
    "server_cpu_limit": parse_cpu,
    "server_mem_limit": parse_memory,
    "server_gpu_limit": parse_count,
    "named_servers": parse_named_servers,
    "priority": parse_priority,
    "home_size": parse_memory,
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
        # A group that only sizes homes has no say on where servers are charged.
        and replace(quota, home_size=None) != GroupQuota(group)
    ]
    return max(quotas, key=lambda quota: quota.priority, default=None)


# The per-server ceilings, and the GroupQuota field each one reads.
CEILING_FIELDS = ("server_cpu_limit", "server_mem_limit", "server_gpu_limit")


@dataclass(frozen=True)
class Limit:
    """One per-server ceiling, or the named-server limit, and where it comes from, so a
    refusal can name it."""

    value: int  # millicores, bytes, GPUs or named servers
    group: str
    field: str  # a CEILING_FIELDS name, or NAMED_SERVERS
    from_property: bool  # set by the group property quota.<field>, else by group_quotas

    @property
    def setting(self) -> str:
        """The setting an admin changes: ``quota.server_mem_limit`` or the configuration key."""
        if self.from_property:
            return f"quota.{self.field}"
        return f"UnilimSpawner.group_quotas[{self.group!r}].{self.field}"


@dataclass(frozen=True)
class Ceiling:
    """The most one server may use, per resource; ``None``: no limit."""

    cpu: Limit | None = None
    mem: Limit | None = None
    gpu: Limit | None = None

    def blocking(self, size: Size) -> Limit | None:
        """The limit ``size`` is above, or ``None`` if the ceiling admits it."""
        for limit, wanted in (
            (self.cpu, size.cpu_limit),
            (self.mem, size.mem_limit),
            (self.gpu, size.gpu),
        ):
            if limit is not None and wanted > limit.value:
                return limit
        return None


def _most_generous(
    groups: Iterable[str],
    field: str,
    baseline: Mapping[str, GroupQuota],
    overrides: Mapping[str, Mapping[str, int]],
) -> Limit | None:
    """The highest value of ``field`` among ``groups`` that set it; ties go to the group
    whose name sorts first. ``None`` when no group sets it."""
    limits = [
        limit
        for group in sorted(set(groups))
        if (limit := _limit(group, field, baseline, overrides.get(group, {}))) is not None
    ]
    return max(limits, key=lambda limit: limit.value, default=None)


def _limit(
    group: str,
    field: str,
    baseline: Mapping[str, GroupQuota],
    override: Mapping[str, int],
) -> Limit | None:
    if field in override:
        return Limit(override[field], group, field, from_property=True)
    value = getattr(baseline.get(group), field, None)
    return None if value is None else Limit(value, group, field, from_property=False)


def user_ceiling(
    groups: Iterable[str],
    baseline: Mapping[str, GroupQuota],
    overrides: Mapping[str, Mapping[str, int]],
    naming: GroupNaming,
) -> Ceiling:
    """A user's per-server ceiling for catalog profiles.

    Per field, the most generous value among the user's groups that set that field; a
    group that leaves a field out has no say on it, and no group setting it means no
    limit. Course groups are left out: a course's limits apply to its own profiles only
    (:func:`course_ceiling`). Ties go to the group whose name sorts first.
    """
    counted = [group for group in groups if naming.course_of(group) is None]
    return Ceiling(
        *(_most_generous(counted, field, baseline, overrides) for field in CEILING_FIELDS)
    )


def course_ceiling(
    course_group: str,
    user: Ceiling,
    baseline: Mapping[str, GroupQuota],
    override: Mapping[str, int],
) -> Ceiling:
    """The ceiling for a course's profiles: the course's field where it sets one, else the
    user's. A course may raise or lower a ceiling for its own profiles."""
    cpu, mem, gpu = (_limit(course_group, field, baseline, override) for field in CEILING_FIELDS)
    return Ceiling(cpu or user.cpu, mem or user.mem, gpu or user.gpu)


NAMED_SERVERS = "named_servers"


def named_server_limit(
    groups: Iterable[str],
    baseline: Mapping[str, GroupQuota],
    overrides: Mapping[str, Mapping[str, int]],
) -> Limit | None:
    """The most named servers a user may have (stopped ones count, as in JupyterHub).

    The most generous value among the user's groups that set ``named_servers``, course
    groups included (named servers belong to no profile); ``None`` when none sets it,
    and then JupyterHub's own ``named_server_limit_per_user`` applies. ``0`` means none.
    """
    return _most_generous(groups, NAMED_SERVERS, baseline, overrides)
