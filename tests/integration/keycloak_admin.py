"""Keycloak's admin REST API, as the university's identity team would use it: test users."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from devenv import keycloak

REALM_API = f"{keycloak.URL}/admin/realms/{keycloak.REALM}"
PASSWORD = "test-password-1"


def _headers() -> dict[str, str]:
    token = requests.post(
        f"{keycloak.URL}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": keycloak.ADMIN_USER,
            "password": keycloak.ADMIN_PASSWORD,
        },
        timeout=30,
    )
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def _api(method: str, path: str, **kwargs: Any) -> requests.Response:
    response = requests.request(
        method, f"{REALM_API}{path}", headers=_headers(), timeout=30, **kwargs
    )
    response.raise_for_status()
    return response


@contextmanager
def temporary_user(username: str, groups: list[str], affiliations: list[str]) -> Iterator[str]:
    """A Keycloak user (password :data:`PASSWORD`) for one test; yields its id, then deletes it."""
    existing = _api("GET", "/users", params={"username": username, "exact": "true"}).json()
    for user in existing:  # left over by an interrupted run
        _api("DELETE", f"/users/{user['id']}")
    created = _api(
        "POST",
        "/users",
        json={
            "username": username,
            "enabled": True,
            "firstName": "Test",
            "lastName": "User",
            "email": f"{abs(hash(username))}@example.org",
            "emailVerified": True,
            "groups": [f"/{group}" for group in groups],
            "attributes": {"eduPersonAffiliation": affiliations},
            "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}],
        },
    )
    user_id = created.headers["Location"].rsplit("/", 1)[-1]
    try:
        yield user_id
    finally:
        _api("DELETE", f"/users/{user_id}")


def remove_from_group(user_id: str, group: str) -> None:
    """What the identity team does when a student drops a course."""
    matches = _api("GET", "/groups", params={"search": group, "exact": "true"}).json()
    group_id = next(match["id"] for match in matches if match["name"] == group)
    _api("DELETE", f"/users/{user_id}/groups/{group_id}")


@contextmanager
def token_lifespan(seconds: int) -> Iterator[None]:
    """Access and ID tokens of the hub's client live ``seconds`` (Keycloak's default is 300)."""
    (client,) = _api("GET", "/clients", params={"clientId": keycloak.CLIENT_ID}).json()
    attributes = dict(client.get("attributes", {}))
    before = attributes.get("access.token.lifespan")
    _api("PUT", f"/clients/{client['id']}", json={**client, "attributes": {
        **attributes, "access.token.lifespan": str(seconds)}})  # fmt: skip
    try:
        yield
    finally:
        attributes.pop("access.token.lifespan", None)
        if before is not None:
            attributes["access.token.lifespan"] = before
        _api("PUT", f"/clients/{client['id']}", json={**client, "attributes": attributes})


def end_sessions(user_id: str) -> None:
    """What the identity team does for a stolen account: every session and refresh token ends."""
    _api("POST", f"/users/{user_id}/logout")
