"""JupyterHub's ``named_server_limit_per_user``, from the user's groups.

A site sets, in its hub configuration (z2jh: a ``hub.extraConfig`` snippet)::

    c.JupyterHub.named_server_limit_per_user = unilim_hub.named_servers.by_group(default=2)

The limit is then the most generous ``named_servers`` among the user's groups (group
property ``quota.named_servers`` or ``UnilimSpawner.group_quotas``), and ``default``, the
site's own value, when no group of the user sets it. A group's 0 means *no* named
server, which JupyterHub cannot say (its 0 means "no limit"): this callable refuses the
creation itself, in the user's language, as it does when the limit is reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import compat, refusals
from .errors import error_page
from .i18n import negotiate, translate
from .policy.named_servers import may_create
from .policy.quotas import Limit, named_server_limit
from .spawner import UnilimSpawner


def by_group(default: int = 0) -> Callable[[Any], int]:
    """The ``named_server_limit_per_user`` callable; ``default`` applies to users none of
    whose groups sets ``named_servers`` (JupyterHub's meaning: 0 is no limit)."""

    def named_server_limit_per_user(handler: Any) -> int:
        user, server_name = compat.named_server_request(handler)
        spawner = getattr(user, "spawner", None)  # a service has none
        if not isinstance(spawner, UnilimSpawner):
            return default
        limit = group_limit(spawner)
        if server_name and server_name not in user.orm_spawners:  # a creation
            existing = sum(1 for name in user.orm_spawners if name)
            refusal = may_create(limit, existing)
            if refusal is not None:
                header = handler.request.headers.get("Accept-Language")
                language = negotiate(header, spawner.settings.default_language)
                message = translate(refusal.code, language, **refusal.params)
                refusals.count(user.name, refusal.code, message)
                raise error_page(refusal.code, language, status=refusal.status, **refusal.params)
        return default if limit is None else limit.value

    return named_server_limit_per_user


def group_limit(spawner: UnilimSpawner) -> Limit | None:
    """The user's named-server limit from their own groups (bad properties are logged)."""
    properties = spawner.group_properties()
    groups = [group.name for group in spawner.user.groups]
    overrides = {name: properties[name].quota for name in groups if name in properties}
    return named_server_limit(groups, spawner.settings.quotas, overrides)
