"""Build the typed :class:`Settings` from raw configuration values, reporting every problem.

The adapters hand over the raw value of every trait, keyed by its configuration name
(``"UnilimSpawner.profile_catalog"``), defaults included (``configuration.raw_settings``):
the defaults are the traits' own, declared once. Validation never stops at the first problem: the
admin sees everything that is wrong at once, each problem naming its key.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .catalog import parse_catalog
from .claims import parse_claim_rules
from .models import LANGUAGES, GroupNaming, S3Mode, S3Settings, Settings, Storage
from .problems import AUTHENTICATOR, SITE, SPAWNER, Checker, Problem, Raw
from .quantities import parse_memory
from .quotas import parse_quotas
from .rooms import parse_degraded_limit, parse_rooms
from .storage import BUCKET_NAME

_URL = re.compile(r"^https?://[^\s/]+(/\S*)?\Z")


def build_settings(raw: Raw) -> tuple[Settings | None, tuple[Problem, ...]]:
    """The validated settings, or ``None`` and every problem found."""
    check = Checker()
    groups = _group_naming(check, raw)
    settings = Settings(
        groups=groups,
        catalog=parse_catalog(check, groups, raw[f"{SPAWNER}.profile_catalog"]),
        quotas=parse_quotas(check, groups, raw[f"{SPAWNER}.group_quotas"]),
        rooms=parse_rooms(check, raw[f"{SPAWNER}.rooms"]),
        storage=_storage(check, raw),
        degraded_server_limit=parse_degraded_limit(check, raw[f"{SPAWNER}.degraded_server_limit"]),
        default_language=_language(check, raw[f"{SITE}.default_language"]),
        timezone=str(raw[f"{SITE}.timezone"]),
        claims=parse_claim_rules(check, raw, groups),
    )
    _check_admission(check, raw)
    problems = tuple(check.problems)
    return (None if problems else settings), problems


# The settings of the hub's admission (unilim_hub/admission.py): checked here so that a
# wrong value stops the hub at start-up, named, instead of failing the first start.
_POD_SCOPES = ("cluster", "namespace")


def _check_admission(check: Checker, raw: Raw) -> None:
    key = f"{SPAWNER}.pod_creation_concurrency"
    concurrency = raw[key]
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        check.add(key, "value.type", value=repr(concurrency))
    elif concurrency < 1:
        check.add(key, "value.not_positive", value=str(concurrency))
    key = f"{SPAWNER}.capacity_check"
    if not isinstance(raw[key], bool):
        check.add(key, "value.not_boolean", value=repr(raw[key]))
    key = f"{SPAWNER}.cluster_pods_scope"
    scope = raw[key]
    if not isinstance(scope, str) or scope.lower() not in _POD_SCOPES:
        check.add(key, "value.choice", value=repr(scope), expected=", ".join(_POD_SCOPES))


def _language(check: Checker, raw: object) -> str:
    if raw not in LANGUAGES:
        check.add(
            f"{SITE}.default_language",
            "value.choice",
            value=repr(raw),
            expected=", ".join(LANGUAGES),
        )
        return Settings.default_language
    return str(raw)


def _group_naming(check: Checker, raw: Raw) -> GroupNaming:
    def names(key: str) -> frozenset[str]:
        value = raw[key]
        if not isinstance(value, list | tuple | set | frozenset):
            check.add(key, "value.not_list", value=repr(value))
            return frozenset()
        # Read as claims are, so that "/hub-admins" names the group a claim gives.
        found = (check.group(f"{key}[{name!r}]", name) for name in sorted(value, key=str))
        return frozenset(name for name in found if name is not None)

    prefixes = {}
    for name in ("course_prefix", "teacher_prefix"):
        key = f"{SITE}.{name}"
        default = getattr(GroupNaming, name)
        value = raw[key]
        if not isinstance(value, str):
            check.add(key, "value.not_text", value=repr(value))
            value = default
        elif not value:
            check.add(key, "value.empty")
            value = default
        elif check.group(key, value) is None:  # a prefix no claim can start with
            value = default
        prefixes[name] = value.removeprefix("/")
    return GroupNaming(
        affiliations=names(f"{SITE}.affiliation_groups") or GroupNaming().affiliations,
        admin_groups=names(f"{AUTHENTICATOR}.admin_groups"),
        **prefixes,
    )


def _storage(check: Checker, raw: Raw) -> Storage:
    def memory(name: str) -> int:
        key = f"{SPAWNER}.{name}"
        size = check.parse(key, parse_memory, raw[key])
        if size == 0:
            check.add(key, "value.zero")
        return size or 0  # 0 only with a problem told: the settings are then never used

    def text(name: str) -> str:
        value = raw[f"{SPAWNER}.{name}"]
        if not isinstance(value, str):
            check.add(f"{SPAWNER}.{name}", "value.not_text", value=repr(value))
            return ""
        return value

    return Storage(
        home_storage_class=text("home_storage_class"),
        home_size=memory("home_size"),
        course_storage_class=text("course_storage_class"),
        course_size=memory("course_size"),
        course_folders=raw[f"{SPAWNER}.course_folders"] is not False,
        s3=_s3(check, raw, text),
    )


def _s3(check: Checker, raw: Raw, text: Callable[[str], str]) -> S3Settings:
    key = f"{SPAWNER}.s3_mode"
    try:
        mode = S3Mode(raw[key])
    except ValueError:
        check.add(
            key,
            "value.choice",
            value=repr(raw[key]),
            expected=", ".join(mode.value for mode in S3Mode),
        )
        mode = S3Mode.OFF  # an unknown mode is told once, not again through its endpoint
    endpoint = text("s3_endpoint")
    if mode is not S3Mode.OFF and not _URL.match(endpoint):
        check.add(f"{SPAWNER}.s3_endpoint", "url.invalid", value=repr(endpoint))
    buckets: dict[str, str] = {}
    for name in ("s3_users_bucket", "s3_courses_bucket"):
        bucket = text(name) or getattr(S3Settings, name.removeprefix("s3_"))
        if not BUCKET_NAME.fullmatch(bucket):
            check.add(f"{SPAWNER}.{name}", "bucket.invalid", value=bucket)
        buckets[name.removeprefix("s3_")] = bucket
    if buckets["users_bucket"] == buckets["courses_bucket"]:
        # Course prefixes are course codes: a course named `users` would then be every
        # user's objects, writable by its teachers.
        check.add(f"{SPAWNER}.s3_courses_bucket", "bucket.shared", value=buckets["users_bucket"])
    duration, interval = _s3_lifetimes(check, raw)
    return S3Settings(
        mode=mode,
        endpoint=endpoint,
        users_bucket=buckets["users_bucket"],
        courses_bucket=buckets["courses_bucket"],
        region=text("s3_region") or S3Settings.region,
        credentials_duration=duration,
        refresh_interval=interval,
        strict=raw[f"{SPAWNER}.s3_strict"] is True,
    )


# The range every STS server accepts for DurationSeconds (AWS, MinIO, SeaweedFS).
STS_DURATION = (900, 43200)


def _s3_lifetimes(check: Checker, raw: Raw) -> tuple[int, int]:
    """How long credentials last, and how often they are renewed (seconds)."""
    duration_key, interval_key = (
        f"{SPAWNER}.s3_credentials_duration",
        f"{SPAWNER}.s3_refresh_interval",
    )
    duration = raw[duration_key]
    low, high = STS_DURATION
    if not isinstance(duration, int) or not low <= duration <= high:
        check.add(duration_key, "value.between", value=repr(duration), low=str(low), high=str(high))
        duration = S3Settings.credentials_duration
    interval = raw[interval_key] or duration // 2  # 0: half of the duration
    if not isinstance(interval, int) or not 1 <= interval <= duration // 2:
        check.add(
            interval_key, "value.between", value=repr(interval), low="1", high=str(duration // 2)
        )
        interval = duration // 2
    return duration, interval
