"""The one rule that turns a group value into a hub group name: for claims and configuration.

Claims and configured names (``admin_groups``, ``allowed_groups``, affiliation groups, quota
keys, catalog ``groups``, course and teacher prefixes) go through the same function, so a
name the configuration accepts is exactly a name a claim can produce.
"""

from __future__ import annotations

import unicodedata

# JupyterHub's limit on a group name (its database column).
_GROUP_LENGTH = 255


def group_name(value: object) -> str | None:
    """The hub group a group value names, exactly; ``None`` when it names none.

    The same rule reads the IdP's claims and the configuration's group names, so that
    ``admin_groups: ["/hub-admins"]`` and the claim ``"/hub-admins"`` meet:

    - ``"hub-admins"`` and ``"/hub-admins"`` (a Keycloak top-level full path) name
      ``hub-admins``; case is kept (``"Hub-Admins"`` is another group);
    - a nested path (``"/clubs/hub-admins"``) names no group: whoever may create a group
      somewhere in the realm must not get the rights of a top-level one;
    - a value that Unicode compatibility would change (``"ｈｕｂ－ａｄｍｉｎｓ"``, ``"ʰub"``),
      with control characters, surrounding spaces, or longer than 255 characters names none.
    """
    if not isinstance(value, str):
        return None
    name = value.removeprefix("/")
    if (
        not name
        or "/" in name
        or len(name) > _GROUP_LENGTH
        or name != name.strip()
        or unicodedata.normalize("NFKC", name) != name
        or any(unicodedata.category(char).startswith("C") for char in name)
    ):
        return None
    return name


def matching_spelling(value: str) -> str:
    """For a group name that can never match: the spelling that would, or "" if none."""
    folded = unicodedata.normalize("NFKC", value).strip()
    name = group_name(folded)
    if name is not None and name != value:
        return name
    return ""
