"""Problems found in configuration or group properties, as data to translate and show.

:class:`Checker` collects them while raw values are parsed, so the admin sees everything
that is wrong at once, each problem naming its key.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .group_names import group_name, matching_spelling
from .models import LANGUAGES, GroupNaming, Text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a setting.

    ``key`` names the setting (``UnilimSpawner.group_quotas['student'].memory``, or a
    group property key such as ``quota.memory``); ``code`` is a message-catalog key and
    ``params`` fills its placeholders, so the adapter can say it in French or English.
    """

    key: str
    code: str
    params: Mapping[str, str] = field(default_factory=dict)


class InvalidValue(ValueError):
    """A value that cannot be parsed; carries the catalog code and its parameters."""

    def __init__(self, code: str, **params: str) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params

    def at(self, key: str) -> Problem:
        return Problem(key, self.code, self.params)


SPAWNER = "UnilimSpawner"
SITE = "UnilimSite"
AUTHENTICATOR = "UnilimAuthenticator"

T = TypeVar("T")
Raw = Mapping[str, Any]


class Checker:
    """Collects problems while values are parsed."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, key: str, code: str, **params: str) -> None:
        self.problems.append(Problem(key, code, params))

    def parse(self, key: str, parser: Callable[[object], T], raw: object) -> T | None:
        try:
            return parser(raw)
        except InvalidValue as invalid:
            self.problems.append(invalid.at(key))
            return None

    def field(self, key: str, name: str, parser: Callable[[object], T], fields: Raw) -> T | None:
        """The field ``name`` of a mapping read by :meth:`fields`, parsed; ``None`` if it is
        missing (:meth:`fields` already said so: a missing key is told once) or wrong."""
        if name not in fields:
            return None
        return self.parse(f"{key}.{name}", parser, fields[name])

    def fields(self, key: str, raw: object, required: set[str], optional: set[str]) -> Raw | None:
        """``raw`` as a mapping, once its keys are checked; ``None`` if it is not one."""
        if not isinstance(raw, Mapping):
            self.add(key, "value.not_mapping", value=repr(raw))
            return None
        allowed = required | optional
        for name in raw:
            if name not in allowed:
                self.add(
                    f"{key}.{name}",
                    "key.unknown",
                    expected=", ".join(sorted(allowed)),
                    suggestion=_closest(str(name), allowed),
                )
        for name in sorted(required - raw.keys()):
            self.add(f"{key}.{name}", "key.missing")
        return raw

    def group(self, key: str, value: object) -> str | None:
        """A configured group name read by the rule that reads claims, or ``None`` (reported).

        ``"/hub-admins"`` -> ``"hub-admins"``; a name no claim can ever produce (a nested
        path, look-alike characters, spaces) is reported with the spelling that would match.
        """
        name = group_name(value)
        if name is None:
            text = str(value)
            nested = isinstance(value, str) and "/" in value.removeprefix("/")
            self.add(
                key,
                "group.nested_path" if nested else "group.never_matches",
                group=text,
                suggestion=matching_spelling(text) or "-",
            )
        return name

    def known_group(self, groups: GroupNaming, key: str, group: object) -> str:
        """The group's name as claims give it; flags one SSO never produces (most often a typo)."""
        name = self.group(key, group)
        if name is None:
            return str(group)
        group = name
        if not groups.is_known(group):
            known = ", ".join(sorted(groups.affiliations | groups.admin_groups))
            self.add(
                key,
                "group.unknown",
                group=group,
                known=known,
                course_prefix=groups.course_prefix,
                teacher_prefix=groups.teacher_prefix,
                suggestion=_closest(group, groups.affiliations | groups.admin_groups),
            )
        return group

    def items(self, key: str, raw: object) -> list[tuple[str, object]]:
        """The entries of a list setting, each with its key (``key[0]``)."""
        if not isinstance(raw, list | tuple):
            self.add(key, "value.not_list", value=repr(raw))
            return []
        return [(f"{key}[{index}]", item) for index, item in enumerate(raw)]


def _closest(name: str, choices: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(choices), n=1)
    return matches[0] if matches else ""


def parse_text(check: Checker, key: str, raw: object, fallback: str = "") -> Text:
    """A plain string (the same in both languages) or ``{"fr": ..., "en": ...}``."""
    if raw is None:
        return Text(fallback, fallback)
    if isinstance(raw, str):
        return Text(raw, raw)
    texts = check.fields(key, raw, set(LANGUAGES), set()) or {}
    for lang in LANGUAGES:
        if lang in texts and not isinstance(texts[lang], str):
            check.add(f"{key}.{lang}", "value.not_text", value=repr(texts[lang]))
    if all(isinstance(texts.get(lang), str) for lang in LANGUAGES):
        return Text(fr=texts["fr"], en=texts["en"])
    return Text(fallback, fallback)  # a problem was told: the settings are never used
