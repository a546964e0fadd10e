"""Named servers: may a user create one more? (``quota.named_servers``, see quotas.py)."""

from __future__ import annotations

from .quotas import Limit
from .refusal import Refusal


def may_create(limit: Limit | None, existing: int) -> Refusal | None:
    """``None`` when the user may create one more named server, else why not.

    ``limit`` is :func:`~.quotas.named_server_limit`'s answer (``None``: no group sets
    one, JupyterHub's own setting decides); ``existing`` counts the user's named servers,
    stopped ones included, as JupyterHub does. A limit of 0 means no named server at all.
    """
    if limit is None or existing < limit.value:
        return None
    params = {
        "group": limit.group,
        "setting": limit.setting,
        "limit": str(limit.value),
        "count": str(existing),
    }
    code = "named_servers.none" if limit.value == 0 else "named_servers.limit_reached"
    return Refusal(code, params, limit=limit)
