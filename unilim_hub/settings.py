"""Reading unilim-hub's settings from a traitlets configuration, validated by the policy core.

The same function serves the hub at start-up, every spawn, and ``unilim-hub check-config``,
so what the command accepts is exactly what the hub accepts.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from traitlets.config import Config

from .configurables import CONFIGURABLES, AuthenticatorTraits, SettingsSection, UnilimSite
from .i18n import describe, translate
from .policy.config import build_settings
from .policy.models import COURSE_MANAGE_SCOPE, LANGUAGES, Settings
from .policy.problems import Problem


class UnilimConfigError(Exception):
    """The configuration has problems; the hub must not start with it."""

    def __init__(self, problems: tuple[Problem, ...], language: str) -> None:
        self.problems = problems
        lines = [translate("startup.invalid", language, count=len(problems))]
        lines += [f"  - {describe(problem, language)}" for problem in problems]
        super().__init__("\n".join(lines))


def _sections(cls: type[SettingsSection]) -> list[str]:
    """The configuration sections that set ``cls``'s traits, the least specific first."""
    upstream = [klass.__name__ for klass in reversed(cls.upstream.__mro__)] if cls.upstream else []
    return [*upstream, cls.section]


def _names(cls: type[SettingsSection]) -> list[str]:
    """The setting names valid in ``cls``'s section: ours and the upstream class's."""
    names: list[str] = cls.class_trait_names(config=True)
    if cls.upstream:
        names += cls.upstream.class_trait_names(config=True)
    return names


def _section(config: Config, cls: type[SettingsSection]) -> dict[str, Any]:
    """The values set for ``cls`` in any of its sections, the most specific winning."""
    values: dict[str, Any] = {}
    for name in _sections(cls):
        if name in config:
            values.update(config[name])
    return values


def raw_settings(config: Config) -> dict[str, Any]:
    """Every unilim-hub setting as ``"Class.trait": value``, defaults included."""
    raw: dict[str, Any] = {}
    for cls in CONFIGURABLES:
        section = _section(config, cls)
        for name, trait in cls.class_own_traits(config=True).items():
            raw[f"{cls.section}.{name}"] = section.get(name, trait.default())
    # Inherited from JupyterHub's Authenticator, and part of how groups are named.
    raw[f"{AuthenticatorTraits.section}.admin_groups"] = _section(config, AuthenticatorTraits).get(
        "admin_groups", set()
    )
    return raw


def unknown_settings(config: Config) -> Iterator[Problem]:
    """Settings named in our sections that no trait declares: typos traitlets only warns about."""
    for cls in CONFIGURABLES:
        names = _names(cls)
        for name in config.get(cls.section, {}):
            if name not in names:
                matches = difflib.get_close_matches(name, names, n=1)
                yield Problem(
                    f"{cls.section}.{name}",
                    "config.unknown_setting",
                    {"suggestion": matches[0] if matches else ""},
                )


def undeclared_scopes(config: Config, settings: Settings) -> Iterator[Problem]:
    """Custom scopes of the teachers' roles that ``JupyterHub.custom_scopes`` does not declare.

    JupyterHub refuses to create a role with an unknown scope: without this check, every
    teacher's login would fail instead of the hub's start-up. The authenticator declares
    unilim-hub's own scope itself.
    """
    if not _section(config, AuthenticatorTraits).get("manage_roles", True):
        return
    declared = config.get("JupyterHub", {}).get("custom_scopes", {})
    for index, scope in enumerate(settings.claims.teacher_scopes):
        base = scope.partition("!")[0]
        if base.startswith("custom:") and base not in {*declared, COURSE_MANAGE_SCOPE}:
            yield Problem(
                f"{AuthenticatorTraits.section}.teacher_scopes[{index}]",
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
    value = _section(config, UnilimSite).get("default_language")
    return value if value in LANGUAGES else Settings.default_language


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
