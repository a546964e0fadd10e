"""Problems found in configuration or group properties, as data to translate and show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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
