"""The devenv's Keycloak: the `unilim` realm sends the claims the authenticator relies on."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from devenv import keycloak as idp

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

GROUPS = {
    "alice": {"student", "course-info101"},
    "bob": {"student", "course-stat202"},
    "chloe": {"student", "course-info101", "course-stat202"},
    "tom": {"faculty", "teacher-info101"},
    "tina": {"faculty", "teacher-stat202"},
    "sam": {"staff"},
    "ada": {"staff", "hub-admins"},
    "eve": {"alumni"},
}


def _request(url: str, data: dict[str, str] | None = None, token: str = "") -> Any:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with _NO_PROXY.open(request, timeout=30) as response:
        return json.load(response)


def _password_grant(username: str, password: str = idp.DEMO_PASSWORD) -> dict[str, Any]:
    return _request(  # type: ignore[no-any-return]
        f"{idp.ISSUER}/protocol/openid-connect/token",
        {
            "grant_type": "password",
            "client_id": idp.CLIENT_ID,
            "client_secret": idp.CLIENT_SECRET,
            "username": username,
            "password": password,
            "scope": "openid",
        },
    )


def _claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT (Keycloak signed it; the signature is not what is tested here)."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


@pytest.mark.parametrize("username", sorted(GROUPS))
def test_groups_claim_holds_exactly_the_users_groups(keycloak: str, username: str) -> None:
    tokens = _password_grant(username)
    userinfo = _request(
        f"{keycloak}/protocol/openid-connect/userinfo", token=tokens["access_token"]
    )
    for claims in (_claims(tokens["id_token"]), _claims(tokens["access_token"]), userinfo):
        assert claims["preferred_username"] == username
        # Short names, not Keycloak's full paths ("/student"): the mapper's full path is off.
        assert set(claims["groups"]) == GROUPS[username]
        assert len(claims["groups"]) == len(GROUPS[username])
        assert isinstance(claims["affiliation"], list)


def test_affiliation_claim_is_multivalued(keycloak: str) -> None:
    assert _claims(_password_grant("tom")["id_token"])["affiliation"] == ["faculty", "employee"]
    assert _claims(_password_grant("eve")["id_token"])["affiliation"] == ["alum"]


def test_tokens_come_from_the_loopback_issuer(keycloak: str) -> None:
    claims = _claims(_password_grant("alice")["id_token"])
    assert claims["iss"] == keycloak == "http://127.0.0.1:18080/realms/unilim"
    assert claims["aud"] == idp.CLIENT_ID
    assert claims["email_verified"] is True


def test_wrong_password_is_refused(keycloak: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        _password_grant("alice", "not-the-password")
    # RFC 6749 5.2: a bad resource-owner password is `invalid_grant`, HTTP 400.
    assert refused.value.code == 400
    assert json.load(refused.value)["error"] == "invalid_grant"


def _authorize_status(keycloak: str, redirect_uri: str) -> int:
    query = urllib.parse.urlencode(
        {
            "client_id": idp.CLIENT_ID,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": redirect_uri,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
    )
    try:
        with _NO_PROXY.open(f"{keycloak}/protocol/openid-connect/auth?{query}", timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.parametrize("port", [8000, 38123])
def test_hub_callback_on_any_loopback_port_is_accepted(keycloak: str, port: int) -> None:
    # RFC 8252: "http://127.0.0.1/hub/oauth_callback" registered matches any port.
    assert _authorize_status(keycloak, f"http://127.0.0.1:{port}/hub/oauth_callback") == 200


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://127.0.0.1:8000/elsewhere", "http://localhost:8000/hub/oauth_callback"],
)
def test_other_redirect_uris_are_refused(keycloak: str, redirect_uri: str) -> None:
    assert _authorize_status(keycloak, redirect_uri) == 400
