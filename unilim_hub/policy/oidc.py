"""Reading an OpenID Connect discovery document (``/.well-known/openid-configuration``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard
from urllib.parse import urlencode

from .claims import Refusal

DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class Endpoints:
    """Where the hub sends people and asks for tokens and user information."""

    authorize_url: str
    token_url: str
    userdata_url: str
    logout_url: str  # "" when the provider has no end-session endpoint


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + DISCOVERY_PATH


def endpoints_of(document: object, issuer: str, client_id: str) -> Endpoints | Refusal:
    """The endpoints of ``issuer``'s discovery document, or what is wrong with it."""
    if not isinstance(document, Mapping):
        return Refusal("oidc.not_a_document", {"issuer": issuer})
    if str(document.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        return Refusal(
            "oidc.issuer_mismatch",
            {"issuer": issuer, "announced": str(document.get("issuer", ""))},
        )
    urls: dict[str, str] = {}
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
        url = document.get(name)
        if not _is_url(url):
            return Refusal("oidc.missing_endpoint", {"issuer": issuer, "endpoint": name})
        urls[name] = url
    end_session = document.get("end_session_endpoint")
    return Endpoints(
        authorize_url=urls["authorization_endpoint"],
        token_url=urls["token_endpoint"],
        userdata_url=urls["userinfo_endpoint"],
        logout_url=f"{end_session}?{urlencode({'client_id': client_id})}"
        if _is_url(end_session)
        else "",
    )


def _is_url(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith(("https://", "http://"))
