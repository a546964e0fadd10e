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
from .policy.oidc import endpoint_problem, issuer_problem
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
    section = _section(config, authenticator)
    raw[f"{authenticator.__name__}.admin_groups"] = section.get("admin_groups", set())
    raw[f"{authenticator.__name__}.allowed_groups"] = section.get("allowed_groups")
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


def authenticator_section(config: Config) -> dict[str, Any]:
    """What the configuration sets for the authenticator (or a class it inherits from)."""
    return _section(config, _owners()[2])


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
    name = _owners()[2].__name__
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
