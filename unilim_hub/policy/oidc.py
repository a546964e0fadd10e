"""Reading an OpenID Connect discovery document (``/.well-known/openid-configuration``).

The client secret, the authorization code and the PKCE verifier travel to these endpoints:
an endpoint in clear text (``http://``), or on another host than the issuer, is refused
unless the configuration names that host. Plain ``http://`` is accepted only for an issuer
that is itself ``http://`` on a loopback address (a test IdP on the same machine), and then
only on loopback addresses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .refusal import Refusal

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


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: addresses that never leave the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def issuer_problem(issuer: str) -> Refusal | None:
    """Why ``issuer`` cannot be used, or ``None``: https, or http on a loopback address."""
    parts = urlsplit(issuer)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return None
    return Refusal("oidc.insecure_issuer", {"issuer": issuer})


def endpoint_problem(
    url: str, issuer: str, name: str, other_hosts: Collection[str] = ()
) -> Refusal | None:
    """Why the endpoint ``url`` of ``issuer`` would leak secrets, or ``None``.

    https on the issuer's host or on one of ``other_hosts``; http only for a loopback
    http issuer, and then only on a loopback address (nothing leaves the machine).
    """
    parts, home = urlsplit(url), urlsplit(issuer)
    if home.scheme == "http" and issuer_problem(issuer) is None:
        safe = parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")
    else:
        safe = parts.scheme == "https" and (
            parts.hostname == home.hostname or parts.hostname in other_hosts
        )
    if safe:
        return None
    return Refusal("oidc.insecure_endpoint", {"issuer": issuer, "endpoint": name, "url": url})


def logout_url(end_session: str, client_id: str) -> str:
    """The end-session endpoint with ``client_id`` added to whatever query it already has."""
    parts = urlsplit(end_session)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("client_id", client_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def endpoints_of(
    document: object, issuer: str, client_id: str, other_hosts: Collection[str] = ()
) -> Endpoints | Refusal:
    """The endpoints of ``issuer``'s discovery document, or what is wrong with it."""
    if not isinstance(document, Mapping):
        return Refusal("oidc.not_a_document", {"issuer": issuer})
    announced = str(document.get("issuer", ""))
    if announced.rstrip("/") != issuer.rstrip("/"):
        return Refusal("oidc.issuer_mismatch", {"issuer": issuer, "announced": announced})
    urls: dict[str, str] = {}
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
    ):
        url = document.get(name)
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            if name == "end_session_endpoint":
                continue  # optional: the hub then only logs out of itself
            return Refusal("oidc.missing_endpoint", {"issuer": issuer, "endpoint": name})
        problem = endpoint_problem(url, issuer, name, other_hosts)
        if problem is not None:
            return problem
        urls[name] = url
    end_session = urls.get("end_session_endpoint")
    return Endpoints(
        authorize_url=urls["authorization_endpoint"],
        token_url=urls["token_endpoint"],
        userdata_url=urls["userinfo_endpoint"],
        logout_url=logout_url(end_session, client_id) if end_session else "",
    )
