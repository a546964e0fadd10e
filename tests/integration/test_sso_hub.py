"""Logging in through the devenv's Keycloak: the real hub, the real IdP, OIDC code flow + PKCE.

Each login is what a browser does (tests/integration/hub.py `sso_login`): the hub sends to
Keycloak, the login form is posted, Keycloak sends back with a code the hub exchanges.
What a person gets is read back from the hub's REST API.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from devenv import keycloak

from .forwarder import DiscoveryDocument, Forwarder
from .hub import SSO_REFRESH_AGE, Hub, error_message
from .keycloak_admin import (
    PASSWORD,
    end_sessions,
    remove_from_group,
    temporary_user,
    token_lifespan,
)

# What each demo user of the realm gets: groups, roles, admin.
DEMO_USERS = {
    "alice": ({"student", "course-info101"}, {"user"}, False),
    "bob": ({"student", "course-stat202"}, {"user"}, False),
    "chloe": ({"student", "course-info101", "course-stat202"}, {"user"}, False),
    "tom": ({"faculty", "teacher-info101"}, {"user", "teacher-info101"}, False),
    "tina": ({"faculty", "teacher-stat202"}, {"user", "teacher-stat202"}, False),
    "sam": ({"staff"}, {"user"}, False),
    "ada": ({"staff", "hub-admins"}, {"user", "admin"}, True),
}
NOT_ALLOWED_EN = "your account is not one this hub serves"
NOT_ALLOWED_FR = "votre compte ne fait pas partie de ceux que ce hub accueille"


def scopes_of(hub: Hub, name: str) -> set[str]:
    """The scopes JupyterHub's RBAC gives ``name`` (through a token of theirs)."""
    token = hub.api("POST", f"/users/{name}/tokens", json={"note": "test"}).json()["token"]
    user = hub.api("GET", "/user", headers={"Authorization": f"token {token}"}).json()
    return set(user["scopes"])


@pytest.mark.parametrize("name", sorted(DEMO_USERS))
def test_demo_user_logs_in_with_keycloak_and_gets_groups_and_roles(sso_hub: Hub, name: str):
    groups, roles, admin = DEMO_USERS[name]
    login = sso_hub.sso_login(name)

    assert login.page.status_code == 200
    assert urlparse(login.page.url).path.startswith("/hub/")
    authorize = urlparse(login.authorize_url)
    assert authorize.netloc == "127.0.0.1:18080"
    assert parse_qs(authorize.query)["code_challenge_method"] == ["S256"]  # PKCE
    user = sso_hub.api("GET", f"/users/{name}").json()
    assert set(user["groups"]) == groups
    assert set(user["roles"]) == roles
    assert user["admin"] is admin


def test_teacher_role_grants_managing_only_their_course(sso_hub: Hub):
    sso_hub.sso_login("tom")
    scopes = scopes_of(sso_hub, "tom")
    assert "custom:courses:manage!group=course-info101" in scopes
    assert not any(
        scope.startswith("custom:courses:manage!group=course-stat202") for scope in scopes
    )
    assert not any(scope.startswith("custom:") for scope in scopes_of(sso_hub, "alice"))


def test_sso_tokens_are_kept_in_auth_state_for_the_s3_layer(sso_hub: Hub):
    sso_hub.sso_login("bob")
    auth_state = sso_hub.api("GET", "/users/bob").json()["auth_state"]
    assert auth_state["access_token"] and auth_state["refresh_token"] and auth_state["id_token"]
    assert auth_state["oauth_user"]["preferred_username"] == "bob"


@pytest.mark.parametrize(("language", "message"), [("en", NOT_ALLOWED_EN), ("fr", NOT_ALLOWED_FR)])
def test_user_of_no_allowed_group_gets_the_refusal_page(sso_hub: Hub, language, message):
    page = sso_hub.sso_login("eve", language=language).page

    assert page.status_code == 403
    code = parse_qs(urlparse(page.url).query)["code"][0]  # the refused callback's
    assert code not in sso_hub.log_tail(400)  # a secret: never in the hub log
    assert "/hub/oauth_callback?[" in sso_hub.log_tail(400)
    assert message in error_message(page)
    assert "Traceback" not in page.text
    assert sso_hub.api("GET", "/users/eve").status_code == 404
    assert (  # what the admins read in the hub log
        "Login refused for eve: in no allowed group (faculty, staff, student); "
        "claim values that map to no group: groups=alumni, affiliation=alum"
    ) in sso_hub.log_tail(50)


def test_unusable_username_gets_a_clear_refusal(sso_hub: Hub):
    with temporary_user("zoé.durand", ["student"], ["student"]):
        page = sso_hub.sso_login("zoé.durand", PASSWORD, language="fr").page

    assert page.status_code == 403
    assert error_message(page).startswith(
        "Votre identifiant universitaire « zoé.durand » n'est pas utilisable sur ce hub"
    )


def test_user_without_any_group_claim_is_refused(sso_hub: Hub):
    with temporary_user("nogroups", [], []):
        page = sso_hub.sso_login("nogroups", PASSWORD).page

    assert page.status_code == 403
    assert NOT_ALLOWED_EN in error_message(page)


def test_affiliation_alone_lets_a_user_in(sso_hub: Hub):
    with temporary_user("affonly", [], ["student", "member"]):
        page = sso_hub.sso_login("affonly", PASSWORD).page

    assert page.status_code == 200
    assert sso_hub.api("GET", "/users/affonly").json()["groups"] == ["student"]


def refreshed(hub: Hub, session, path: str = "/hub/home"):
    """A page after the refresh age: the hub asks Keycloak again for the user's claims."""
    time.sleep(SSO_REFRESH_AGE + 0.5)
    return session.get(f"{hub.url}{path}", timeout=30)


def test_user_removed_from_a_course_in_keycloak_loses_it_after_refresh(sso_hub: Hub):
    groups = ["student", "course-info101", "course-stat202", "teacher-info101"]
    with temporary_user("leo", groups, []) as user_id:  # no affiliation: groups only
        session = sso_hub.sso_login("leo", PASSWORD).session
        user = sso_hub.api("GET", "/users/leo").json()
        assert set(user["groups"]) == set(groups)
        assert "teacher-info101" in user["roles"]

        remove_from_group(user_id, "course-stat202")
        remove_from_group(user_id, "teacher-info101")
        assert refreshed(sso_hub, session).status_code == 200

        user = sso_hub.api("GET", "/users/leo").json()
        assert set(user["groups"]) == {"student", "course-info101"}
        assert set(user["roles"]) == {"user"}

        remove_from_group(user_id, "student")
        page = refreshed(sso_hub, session)  # no longer allowed: must log in again
        assert urlparse(page.url).path == "/hub/login"


def test_unreachable_identity_provider_gives_a_clear_page(tmp_path: Path, platform):
    # Nothing listens on this port: the hub must start anyway and explain at login.
    hub = Hub(tmp_path, "sso", ports=(18200, 18201, 18281))
    try:
        hub.start('c.UnilimAuthenticator.oidc_issuer = "http://127.0.0.1:18099/realms/unilim"\n')
        french = hub.sso_login("alice", language="fr-FR,fr;q=0.9").page
        english = hub.sso_login("alice", language="en").page
    finally:
        hub.stop()

    assert french.status_code == english.status_code == 503
    assert error_message(french).startswith(
        "Le service de connexion de l'université (SSO) ne répond pas"
    )
    assert error_message(english).startswith("The university's login service (SSO) does not answer")
    assert "Traceback" not in french.text


# --- A refresh never turns into a 500 (issue 9.2) --------------------------------------

SHORT_LIVED = 10  # seconds an access / ID token lives at Keycloak during these tests


def start_hub(tmp_path: Path, ports: tuple[int, int, int], extra: str) -> Hub:
    hub = Hub(tmp_path, "sso", refresh_age=SSO_REFRESH_AGE, ports=ports)
    hub.start(extra)
    return hub


def test_expired_id_token_is_renewed_at_refresh_instead_of_a_500(tmp_path: Path, platform):
    hub = start_hub(
        tmp_path, (18210, 18211, 18291), "c.UnilimAuthenticator.userdata_from_id_token = True\n"
    )
    try:
        with token_lifespan(SHORT_LIVED):
            session = hub.sso_login("alice").session
            time.sleep(SHORT_LIVED + 1)  # the stored ID token has expired
            page = refreshed(hub, session)
        assert page.status_code == 200
        assert urlparse(page.url).path == "/hub/home"
        assert "Unable to decode id token" not in hub.log_tail(400)
        assert set(hub.api("GET", "/users/alice").json()["groups"]) == DEMO_USERS["alice"][0]
    finally:
        hub.stop()


def test_ended_idp_session_means_log_in_again_not_a_500(tmp_path: Path, platform):
    hub = start_hub(
        tmp_path, (18210, 18211, 18291), "c.UnilimAuthenticator.userdata_from_id_token = True\n"
    )
    try:
        with temporary_user("ines", ["student"], []) as user_id, token_lifespan(SHORT_LIVED):
            session = hub.sso_login("ines", PASSWORD).session
            end_sessions(user_id)  # the refresh token no longer works either
            time.sleep(SHORT_LIVED + 1)
            page = refreshed(hub, session)
        assert page.status_code == 200
        assert urlparse(page.url).path == "/hub/login"
    finally:
        hub.stop()


# --- Configured names spelled as Keycloak spells them (issue 9.1) ----------------------


def test_admin_group_configured_as_a_keycloak_path_makes_ada_admin(tmp_path: Path, platform):
    hub = start_hub(
        tmp_path,
        (18210, 18211, 18291),
        'c.UnilimAuthenticator.admin_groups = {"/hub-admins"}\n'
        'c.UnilimAuthenticator.allowed_groups = {"/staff", "/student"}\n',
    )
    try:
        assert hub.sso_login("ada").page.status_code == 200
        assert hub.sso_login("tom").page.status_code == 403  # faculty is not allowed here
        ada = hub.api("GET", "/users/ada").json()
    finally:
        hub.stop()
    assert ada["admin"] is True and "admin" in ada["roles"]


# --- Outages, in both orders (issue 10.4) --------------------------------------------

FORWARDED = 18097  # the hub reaches Keycloak's token and userinfo endpoints through here
DISCOVERY_PORT = 18096
THROUGH_FORWARDER = f"""
c.UnilimAuthenticator.token_url = "http://127.0.0.1:{FORWARDED}/realms/{keycloak.REALM}/protocol/openid-connect/token"
c.UnilimAuthenticator.userdata_url = "http://127.0.0.1:{FORWARDED}/realms/{keycloak.REALM}/protocol/openid-connect/userinfo"
c.UnilimAuthenticator.idp_outage_grace = 12
"""


def test_idp_going_down_keeps_people_in_then_logs_them_out_after_the_grace(
    tmp_path: Path, platform
):
    forwarder = Forwarder(FORWARDED, int(urlparse(keycloak.URL).port or 0))
    forwarder.start()
    hub = start_hub(tmp_path, (18220, 18221, 18292), THROUGH_FORWARDER)
    try:
        session = hub.sso_login("alice").session
        forwarder.stop()  # the IdP goes down
        during = refreshed(hub, session)
        groups = set(hub.api("GET", "/users/alice").json()["groups"])
        time.sleep(12)  # the grace period is over
        after = refreshed(hub, session)
    finally:
        forwarder.stop()
        hub.stop()
    assert urlparse(during.url).path == "/hub/home"  # still in, with what was known
    assert groups == DEMO_USERS["alice"][0]
    assert urlparse(after.url).path == "/hub/login"
    assert "must log in again" in hub.log_tail(200)


def test_hub_started_while_the_idp_is_down_keeps_people_in_until_it_is_back(
    tmp_path: Path, platform
):
    forwarder = Forwarder(FORWARDED, int(urlparse(keycloak.URL).port or 0))
    realm = f"http://127.0.0.1:{FORWARDED}/realms/{keycloak.REALM}/protocol/openid-connect"
    discovery = DiscoveryDocument(DISCOVERY_PORT, {
        "authorization_endpoint": f"{keycloak.ISSUER}/protocol/openid-connect/auth",
        "token_endpoint": f"{realm}/token",
        "userinfo_endpoint": f"{realm}/userinfo",
    })  # fmt: skip
    forwarder.start()
    hub = Hub(tmp_path, "sso", refresh_age=SSO_REFRESH_AGE, ports=(18220, 18221, 18292))
    try:
        with temporary_user("noe", ["student", "course-info101"], []) as user_id:
            hub.start(THROUGH_FORWARDER)
            session = hub.sso_login("noe", PASSWORD).session
            hub.stop()
            forwarder.stop()
            # Starts while the IdP is down: its discovery document and token service too.
            hub.start(
                f"{THROUGH_FORWARDER}c.UnilimAuthenticator.oidc_issuer = {discovery.issuer!r}\n"
            )
            remove_from_group(user_id, "course-info101")
            during = refreshed(hub, session)
            groups_during = set(hub.api("GET", "/users/noe").json()["groups"])
            discovery.start()  # back up
            forwarder.start()
            after = refreshed(hub, session)
            groups_after = set(hub.api("GET", "/users/noe").json()["groups"])
    finally:
        forwarder.stop()
        discovery.stop()
        hub.stop()
    assert urlparse(during.url).path == "/hub/home"
    assert groups_during == {"student", "course-info101"}  # the last known, never more
    assert urlparse(after.url).path == "/hub/home"
    assert groups_after == {"student"}  # refreshed as soon as the IdP answers
