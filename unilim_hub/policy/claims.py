"""From the SSO's claims to a JupyterHub user: username, groups, and per-course teacher roles.

The claims are whatever the identity provider sends (Keycloak, Apereo CAS, ...): any key may
be missing, hold a string where a list was expected, or carry odd values. Nothing here raises
for that: a username that cannot be used is a :class:`Refusal`, and group values that map to
nothing are listed in :attr:`Membership.ignored` for the hub log.

Nothing is folded. Two distinct values the IdP sends never become one username or one group:
case, Unicode look-alikes (full-width letters, ligatures, modifier letters) and the place of a
group in the IdP's tree all stay distinct, so a group someone creates elsewhere in the realm
(``/clubs/hub-admins``, ``ＨＵＢ－ＡＤＭＩＮＳ``) never grants the rights of ``hub-admins``.
What cannot be used as it is, is refused (a username) or ignored and logged (a group).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .group_names import group_name
from .models import ClaimRules, GroupNaming
from .problems import AUTHENTICATOR, Checker, Raw
from .refusal import Refusal
from .untrusted import shown

# Lower-case ASCII letters, digits and . _ @ -, starting and ending with a letter or digit:
# safe in URLs, Kubernetes object names (KubeSpawner escapes them) and S3 prefixes.
_USERNAME = re.compile(r"^[a-z0-9](?:[a-z0-9._@-]{0,62}[a-z0-9])?\Z")
# JupyterHub's rule for role names.
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9\-_~.]{1,253}[a-z0-9]\Z")


@dataclass(frozen=True)
class Membership:
    """The JupyterHub groups of a person, and what the claims held that maps to none."""

    groups: frozenset[str]
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleGrant:
    """A JupyterHub role the authenticator manages: a teacher's rights on one course."""

    name: str
    course: str
    scopes: tuple[str, ...]


def claim_at(claims: Mapping[str, object], name: str) -> object:
    """The value of claim ``name``, following a dotted path (``realm_access.roles``).

    A claim whose own name holds dots (``https://example.org/groups``) is read as it is.
    """
    if name in claims:
        return claims[name]
    value: object = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def username_from(value: object, claim: str) -> str | Refusal:
    """The normalised username from the value of ``claim``, or why it cannot be used."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # some providers send every attribute as a list
    if not isinstance(value, str) or not value.strip():
        return Refusal("login.no_username", {"claim": claim})
    return normalise_username(value)


def normalise_username(value: str) -> str | Refusal:
    """The username as the IdP sends it, when it is safe everywhere; otherwise a refusal.

    Nothing is folded (no lower-casing, no Unicode normalisation, no trimming): folding
    would make ``ｊｅａｎ.ｄｕｐｏｎｔ``, ``Jean.Dupont`` and ``jean.dupont`` one hub user, with
    one server, one home and one S3 prefix. Keycloak sends usernames in lower case.
    """
    if _USERNAME.match(value):
        return value
    return Refusal("login.invalid_username", {"username": shown(value)})


def membership(
    claims: Mapping[str, object],
    rules: ClaimRules,
    naming: GroupNaming,
    group_values: tuple[str, object] | None = None,
) -> Membership:
    """The groups of a person: affiliations, courses, courses taught and admin groups.

    ``group_values`` is ``(where, values)`` when the group values come from elsewhere than
    the groups claim (``auth_state_groups_key``); ``where`` names them in the log.
    """
    where, values = group_values or (rules.groups_claim, claim_at(claims, rules.groups_claim))
    groups: set[str] = set()
    ignored: list[str] = []
    for value in _values(values):
        group = group_name(value)
        if group is not None and naming.is_known(group):
            groups.add(group)
        else:
            ignored.append(f"{where}={shown(value)}")
    for value in _values(claim_at(claims, rules.affiliation_claim)):
        group = _affiliation_group(value, rules, naming)
        if group:
            groups.add(group)
        else:
            ignored.append(f"{rules.affiliation_claim}={shown(value)}")
    return Membership(frozenset(groups), tuple(ignored))


def teacher_roles(
    groups: frozenset[str], rules: ClaimRules, naming: GroupNaming
) -> tuple[RoleGrant, ...]:
    """One role per course taught, named like the teacher group, in a stable order."""
    grants = []
    for group in sorted(groups):
        course = naming.taught_course_of(group)
        if course is None or not _ROLE_NAME.match(group):
            continue
        course_group = f"{naming.course_prefix}{course}"
        scopes = tuple(
            scope.format(course=course, course_group=course_group) for scope in rules.teacher_scopes
        )
        grants.append(RoleGrant(name=group, course=course, scopes=scopes))
    return tuple(grants)


def _values(claim: object) -> Iterator[object]:
    """The values of a claim: a list's items, a single value, or nothing."""
    if claim is None:
        return
    if isinstance(claim, list | tuple):
        yield from claim
    else:
        yield claim


def _affiliation_group(value: object, rules: ClaimRules, naming: GroupNaming) -> str | None:
    """``"student"`` or the scoped ``"student@unilim.fr"`` -> the affiliation's group, if any."""
    if not isinstance(value, str):
        return None
    affiliation = value.strip().split("@", 1)[0].lower()
    group = rules.affiliation_map.get(affiliation, affiliation)
    return group if group in naming.affiliations else None


def parse_claim_rules(check: Checker, raw: Raw, naming: GroupNaming) -> ClaimRules:
    """The claim rules from ``UnilimAuthenticator``'s settings, each problem reported."""
    defaults = ClaimRules()

    def claim(name: str) -> str:
        key = f"{AUTHENTICATOR}.{name}"
        value = raw.get(key, getattr(defaults, name))
        if not isinstance(value, str):
            check.add(key, "value.not_text", value=repr(value))
            return str(getattr(defaults, name))
        return value

    return ClaimRules(
        groups_claim=claim("groups_claim"),
        affiliation_claim=claim("affiliation_claim"),
        affiliation_map=_affiliation_map(check, raw, naming),
        teacher_scopes=_teacher_scopes(check, raw, defaults.teacher_scopes),
        allowed_groups=_allowed_groups(check, raw, naming),
    )


def _allowed_groups(check: Checker, raw: Raw, naming: GroupNaming) -> frozenset[str]:
    """``allowed_groups``, read as claims are; each must be a group the SSO login produces."""
    key = f"{AUTHENTICATOR}.allowed_groups"
    value = raw.get(key)
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple | set | frozenset):
        check.add(key, "value.not_list", value=repr(value))
        return frozenset()
    return frozenset(
        check.known_group(naming, f"{key}[{group!r}]", group) for group in sorted(value, key=str)
    )


def _affiliation_map(check: Checker, raw: Raw, naming: GroupNaming) -> dict[str, str]:
    key = f"{AUTHENTICATOR}.affiliation_map"
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        check.add(key, "value.not_mapping", value=repr(value))
        return {}
    mapped = {}
    for affiliation, group in value.items():
        if group not in naming.affiliations:
            check.add(
                f"{key}[{affiliation!r}]",
                "affiliation.unknown_group",
                group=repr(group),
                known=", ".join(sorted(naming.affiliations)),
            )
        else:
            mapped[str(affiliation).lower()] = group
    return mapped


def _teacher_scopes(check: Checker, raw: Raw, default: tuple[str, ...]) -> tuple[str, ...]:
    key = f"{AUTHENTICATOR}.teacher_scopes"
    scopes = []
    for item_key, scope in check.items(key, raw.get(key, list(default))):
        try:
            if not isinstance(scope, str):
                raise TypeError(scope)
            scope.format(course="c", course_group="g")
        except (KeyError, IndexError, ValueError, TypeError):
            check.add(item_key, "scope.invalid_template", value=repr(scope))
            continue
        scopes.append(scope)
    return tuple(scopes)
