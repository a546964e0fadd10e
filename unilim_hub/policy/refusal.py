"""Why the policy says no to a person: one value for every refusal, of a login or a start.

The adapters turn it into the hub's page or error, in the person's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .quotas import Limit


@dataclass(frozen=True)
class Refusal:
    """A refused request: ``code`` names the message of the catalogs, ``params`` fill it
    (user-typed text already made safe by :func:`~.untrusted.shown`), ``limit`` is the
    admin setting that causes it, if one does. ``status`` 400 means a malformed request."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)
    limit: Limit | None = None
    status: int = 403
