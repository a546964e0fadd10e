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
from .policy.models import COURSE_MANAGE_SCOPE, LANGUAGES, Settings
from .policy.oidc import endpoint_problem, issuer_problem
from .policy.problems import Problem
from .policy.settings import build_settings


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
    section = _section(config, AuthenticatorTraits)
    raw[f"{AuthenticatorTraits.section}.admin_groups"] = section.get("admin_groups", set())
    raw[f"{AuthenticatorTraits.section}.allowed_groups"] = section.get("allowed_groups")
    return raw


def secret_settings() -> frozenset[str]:
    """The settings tagged ``secret`` (``"Class.trait"``): read by the hub only, never
    passed on (to the course service) nor shown."""
    return frozenset(
        f"{cls.section}.{name}"
        for cls in CONFIGURABLES
        for name, trait in cls.class_own_traits(config=True).items()
        if trait.metadata.get("secret")
    )


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


def authenticator_section(config: Config) -> dict[str, Any]:
    """What the configuration sets for the authenticator (or a class it inherits from)."""
    return _section(config, AuthenticatorTraits)


# Inherited settings whose value would switch off what unilim-hub builds on: the groups
# and admin rights from claims, the teachers' roles, and the refresh of both.
_NEEDED_UPSTREAM = {
    "manage_groups": "config.upstream_manage_groups",
    "manage_roles": "config.upstream_manage_roles",
    "enable_auth_state": "config.upstream_auth_state",
}
# Where the client secret, the code, the PKCE verifier or the tokens travel.
_ENDPOINTS = ("authorize_url", "token_url", "userdata_url")


def upstream_problems(config: Config) -> Iterator[Problem]:
    """Inherited OAuthenticator settings unilim-hub cannot honour, and unsafe endpoints."""
    name = AuthenticatorTraits.section
    section = authenticator_section(config)
    for setting, code in _NEEDED_UPSTREAM.items():
        if section.get(setting, True) is False:
            yield Problem(f"{name}.{setting}", code, {})
    if "groups_claim" in section and (
        "auth_state_groups_key" in section or "claim_groups_key" in section
    ):
        yield Problem(f"{name}.auth_state_groups_key", "config.groups_twice", {})
    issuer = section.get("oidc_issuer", "")
    if isinstance(issuer, str) and issuer:
        insecure = issuer_problem(issuer)
        if insecure is not None:
            yield Problem(f"{name}.oidc_issuer", insecure.code, dict(insecure.params))
    for endpoint in _ENDPOINTS:
        url = section.get(endpoint)
        if not isinstance(url, str) or not url:
            continue
        # Without an issuer, the endpoint is held to the rule of an issuer on its own host.
        home = issuer if isinstance(issuer, str) and issuer else url
        unsafe = endpoint_problem(url, home, endpoint, section.get("oidc_endpoint_hosts", ()))
        if unsafe is None and not (isinstance(issuer, str) and issuer):
            unsafe = issuer_problem(url)
        if unsafe is not None:
            yield Problem(f"{name}.{endpoint}", "oidc.insecure_setting", {"url": url})


def check(config: Config) -> tuple[Settings | None, tuple[Problem, ...]]:
    raw = raw_settings(config)
    settings, problems = build_settings(raw)
    problems = tuple(unknown_settings(config)) + problems + tuple(upstream_problems(config))
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
