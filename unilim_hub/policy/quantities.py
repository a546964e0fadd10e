"""Parsing of the values admins type: CPU, memory, counts, name lists and dates.

Every parser accepts the value as typed in the admin panel (a string) or as YAML/JSON
gives it (a number, a list), and raises :class:`InvalidValue` for anything else.

Memory follows JupyterHub's ``mem_limit`` convention, which z2jh admins already know:
``K``, ``M``, ``G`` and ``T`` are powers of 1024, so ``4G`` and ``4Gi`` both mean 4 GiB.
The French units the picker itself shows (``Ko``, ``Mo``, ``Go``, ``To``, octets) are the
same powers of 1024, so ``4 Go``, ``4Go`` and ``4G`` are the same amount; the English
``GB`` the picker shows in English is also 4 GiB. A space before the unit is allowed.
"""

from __future__ import annotations

import re
from datetime import date

from .problems import InvalidValue

# 4G, 4Gi, 4GiB, 4GB, and in French 4Go, 4Gio ("o" for octet); a space may come first.
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:I?[BO]|I)?)?\Z", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)\Z")
_COUNT = re.compile(r"^\d+\Z")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?\Z")

MILLI = 1000
# Far above any machine, far below what would overflow: larger values are typos.
_MAX_BYTES = 1024**6
_MAX_MILLICORES = 10**9


def _text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidValue("value.type", value=repr(value))
    return str(value).strip()


def _match(pattern: re.Pattern[str], value: object, code: str) -> re.Match[str]:
    text = _text(value)
    if text.startswith("-"):
        raise InvalidValue("value.negative", value=text)
    match = pattern.match(text)
    if not match:
        raise InvalidValue(code, value=text)
    return match


def parse_memory(value: object) -> int:
    """``"4G"``, ``"512Mi"``, ``"1.5G"``, ``1073741824`` -> bytes."""
    match = _match(_MEMORY, value, "memory.invalid")
    number, unit = match.groups()
    size = float(number) * _MEMORY_UNITS[(unit or "").upper()]
    if size > _MAX_BYTES:  # also catches the float overflow of absurdly long numbers
        raise InvalidValue("memory.invalid", value=match.string)
    return int(size)


def parse_cpu(value: object) -> int:
    """``"2"``, ``"1.5"``, ``"500m"``, ``0.2`` -> millicores (an integer, so sums are exact)."""
    match = _match(_CPU, value, "cpu.invalid")
    number, milli = match.groups()
    millis = float(number) if milli else float(number) * MILLI
    if millis > _MAX_MILLICORES or (millis > 0 and round(millis) == 0):
        raise InvalidValue("cpu.invalid", value=match.string)
    return round(millis)


def parse_count(value: object) -> int:
    """A whole number >= 0: ``"150"`` or ``150``."""
    return int(_match(_COUNT, value, "count.invalid").group())


def parse_named_servers(value: object) -> int:
    """Named servers per user: a whole number >= 0, where 0 means none.

    Not JupyterHub's meaning of 0 ("no limit"), hence a message that says so.
    """
    try:
        return parse_count(value)
    except InvalidValue as invalid:
        raise InvalidValue("named_servers.invalid", **invalid.params) from None


def parse_priority(value: object) -> int:
    """A whole number, possibly negative."""
    text = _text(value)
    if not _COUNT.match(text.removeprefix("-")):
        raise InvalidValue("count.invalid", value=text)
    return int(text)


def parse_name(value: object) -> str:
    """A slug such as a profile, size or room name: lower-case letters, digits, ``-_.``."""
    text = _text(value)
    if not _NAME.match(text):
        raise InvalidValue("name.invalid", value=text)
    return text


def parse_names(value: object) -> tuple[str, ...]:
    """``"python, r"`` or ``["python", "r"]`` -> ``("python", "r")``, duplicates dropped."""
    items = value if isinstance(value, list | tuple) else _text(value).split(",")
    names = [parse_name(item) for item in items if not (isinstance(item, str) and not item.strip())]
    return tuple(dict.fromkeys(names))


def parse_date(value: object) -> date:
    """An ISO date, ``"2026-09-01"``."""
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue("date.invalid", value=text) from None


# A switch as typed in the admin panel or sent as JSON; "on"/"off" is what the course
# service writes.
_SWITCH = {
    "on": True,
    "true": True,
    "yes": True,
    "1": True,
    "oui": True,
    "off": False,
    "false": False,
    "no": False,
    "0": False,
    "non": False,
}


def parse_switch(value: object) -> bool:
    """``"on"``, ``"off"`` (also true/false, yes/no, oui/non, 1/0, JSON booleans)."""
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text not in _SWITCH:
        raise InvalidValue("switch.invalid", value=text)
    return _SWITCH[text]


def format_memory(num_bytes: int) -> str:
    """Bytes as an admin would write them: ``4G``, ``512M``."""
    for unit in ("T", "G", "M", "K"):
        size = _MEMORY_UNITS[unit]
        if num_bytes >= size and (num_bytes * 10) % size == 0:
            return _decimal(num_bytes / size) + unit
    return str(num_bytes)


def format_cpu(millis: int) -> str:
    """Millicores as cores: ``2``, ``0.5``."""
    return _decimal(millis / MILLI)


def _decimal(number: float) -> str:
    """Up to three decimals, never in scientific notation: ``1.5``, ``1000000``."""
    return f"{number:.3f}".rstrip("0").rstrip(".")
