"""Reading unilim-hub's settings from a traitlets configuration, validated by the policy core.

The same function serves the hub at start-up, every spawn, and ``unilim-hub check-config``,
so what the command accepts is exactly what the hub accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from traitlets.config import Config, Configurable

from .i18n import describe, translate
from .policy.claims import COURSE_MANAGE_SCOPE
from .policy.config import build_settings
from .policy.models import LANGUAGES, Settings
from .policy.problems import Problem


class UnilimConfigError(Exception):
    """The configuration has problems; the hub must not start with it."""

    def __init__(self, problems: tuple[Problem, ...], language: str) -> None:
        self.problems = problems
        lines = [translate("startup.invalid", language, count=len(problems))]
        lines += [f"  - {describe(problem, language)}" for problem in problems]
        super().__init__("\n".join(lines))


def _owners() -> tuple[type[Configurable], ...]:
    # Imported here: the spawner and authenticator modules import this one.
    from .authenticator import UnilimAuthenticator  # noqa: PLC0415
    from .site import UnilimSite  # noqa: PLC0415
    from .spawner import UnilimSpawner  # noqa: PLC0415

    return UnilimSite, UnilimSpawner, UnilimAuthenticator


def _section(config: Config, cls: type) -> dict[str, Any]:
    """The values set for ``cls`` or any class it inherits from, the most specific winning."""
    values: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if klass.__name__ in config:
            values.update(config[klass.__name__])
    return values


def raw_settings(config: Config) -> dict[str, Any]:
    """Every unilim-hub setting as ``"Class.trait": value``, defaults included."""
    raw: dict[str, Any] = {}
    for cls in _owners():
        section = _section(config, cls)
        for name, trait in cls.class_own_traits(config=True).items():
            raw[f"{cls.__name__}.{name}"] = section.get(name, trait.default())
    authenticator = _owners()[2]
    raw[f"{authenticator.__name__}.admin_groups"] = _section(config, authenticator).get(
        "admin_groups", set()
    )
    return raw


def unknown_settings(config: Config) -> Iterator[Problem]:
    """Settings named in our sections that no trait declares: typos traitlets only warns about."""
    for cls in _owners():
        names = cls.class_trait_names(config=True)
        for name in config.get(cls.__name__, {}):
            if name not in names:
                matches = difflib.get_close_matches(name, names, n=1)
                yield Problem(
                    f"{cls.__name__}.{name}",
                    "config.unknown_setting",
                    {"suggestion": matches[0] if matches else ""},
                )


def undeclared_scopes(config: Config, settings: Settings) -> Iterator[Problem]:
    """Custom scopes of the teachers' roles that ``JupyterHub.custom_scopes`` does not declare.

    JupyterHub refuses to create a role with an unknown scope: without this check, every
    teacher's login would fail instead of the hub's start-up. The authenticator declares
    unilim-hub's own scope itself.
    """
    authenticator = _owners()[2]
    if not _section(config, authenticator).get("manage_roles", True):
        return
    declared = config.get("JupyterHub", {}).get("custom_scopes", {})
    for index, scope in enumerate(settings.claims.teacher_scopes):
        base = scope.partition("!")[0]
        if base.startswith("custom:") and base not in {*declared, COURSE_MANAGE_SCOPE}:
            yield Problem(
                f"{authenticator.__name__}.teacher_scopes[{index}]",
                "scope.undeclared",
                {"scope": base},
            )


def check(config: Config) -> tuple[Settings | None, tuple[Problem, ...]]:
    raw = raw_settings(config)
    settings, problems = build_settings(raw)
    problems = tuple(unknown_settings(config)) + problems
    if settings is not None:
        problems += tuple(undeclared_scopes(config, settings))
    problems += tuple(_unknown_timezone(raw["UnilimSite.timezone"]))
    return (None if problems else settings), problems


def _unknown_timezone(name: object) -> Iterator[Problem]:
    """The policy core cannot check a zone name: that needs the time zone database."""
    try:
        ZoneInfo(str(name))
    except (ValueError, ZoneInfoNotFoundError):
        yield Problem("UnilimSite.timezone", "timezone.unknown", {"value": str(name)})


def language_of(config: Config) -> str:
    value = _section(config, _owners()[0]).get("default_language", "fr")
    return value if value in LANGUAGES else "fr"


_cache: dict[int, tuple[Config, Settings]] = {}


def load(config: Config) -> Settings:
    """The validated settings of a running hub; raises :class:`UnilimConfigError`."""
    cached = _cache.get(id(config))
    if cached and cached[0] is config:
        return cached[1]
    settings, problems = check(config)
    if settings is None:
        raise UnilimConfigError(problems, language_of(config))
    _cache[id(config)] = (config, settings)
    return settings
