"""UnilimAuthenticator's own behaviour, without a hub: defaults, username, roles."""

import socket
import time

import jwt
import pytest
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from unilim_hub.authenticator import (
    LoginError,
    UnilimAuthenticator,
    UnilimCallbackHandler,
    _idp_failure,
    _scrubbed,
)


def authenticator(**config) -> UnilimAuthenticator:
    return UnilimAuthenticator(config=Config({"UnilimAuthenticator": config}))


def test_keycloak_ready_defaults():
    # Only the defaults unilim-hub sets (PKCE and refresh before spawn are upstream's).
    auth = authenticator()
    assert auth.manage_groups and auth.manage_roles and auth.enable_auth_state
    assert auth.username_claim == "preferred_username"
    assert auth.scope == ["openid", "profile", "email"]
    assert auth.login_service == "SSO"
    assert auth.allowed_groups == {"student", "staff", "faculty"}


def test_callable_username_claim_that_finds_nothing_is_refused():
    auth = authenticator(username_claim=lambda user_info: None)
    with pytest.raises(LoginError) as refused:
        auth.user_info_to_username({"preferred_username": "alice"})
    assert refused.value.refusal.code == "login.no_username"


def test_username_is_the_one_the_idp_sends():
    assert authenticator().user_info_to_username({"preferred_username": "alice"}) == "alice"


@pytest.mark.parametrize("name", ["ｊｅａｎ.ｄｕｐｏｎｔ", "ﬁlip", "Alice"])
def test_look_alike_username_gets_the_refusal_page_instead_of_another_persons_account(name):
    with pytest.raises(LoginError) as refused:
        authenticator().user_info_to_username({"preferred_username": name})
    assert refused.value.refusal.code == "login.invalid_username"
    assert refused.value.status == 403


async def test_roles_of_a_teacher_who_is_also_admin():
    auth = authenticator(admin_groups={"hub-admins"})
    claims = {"groups": ["/faculty", "/teacher-info101", "/hub-admins"]}
    model = await auth.update_auth_model(
        {"name": "tom", "admin": None, "auth_state": {"oauth_user": claims}}
    )
    roles = {role["name"]: role for role in model["roles"]}
    assert roles.keys() == {"user", "admin", "teacher-info101"}
    assert roles["teacher-info101"]["scopes"] == [
        "custom:courses:manage!group=course-info101",
        "access:services!service=courses",  # to open the course service
    ]


async def test_person_of_no_allowed_group_is_refused():
    auth = authenticator()
    model = {"name": "eve", "admin": False, "groups": [], "auth_state": {"oauth_user": {}}}
    with pytest.raises(LoginError) as refused:
        await auth.check_allowed("eve", model)
    assert refused.value.refusal.code == "login.not_allowed"


# --- Refresh: never a 500, log in again when no token works (issue 9.2) -----------------

ISSUER = "https://sso.example.org/realms/unilim"
TOKEN_URL = f"{ISSUER}/protocol/openid-connect/token"
USERINFO_URL = f"{ISSUER}/protocol/openid-connect/userinfo"
DISCOVERY = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "token_endpoint": TOKEN_URL,
    "userinfo_endpoint": USERINFO_URL,
}
STUDENT = {"preferred_username": "alice", "groups": ["/student"]}


def id_token(claims: dict, expires_in: float) -> str:
    return jwt.encode(
        {**claims, "aud": "unilim-hub", "exp": int(time.time() + expires_in)},
        "a-test-key-of-thirty-two-bytes!!",
        "HS256",
    )


class FakeIdp:
    """The IdP's answers, by URL; an exception instance is raised instead of answered."""

    def __init__(self, claims: dict = STUDENT) -> None:
        self.claims = claims
        self.answers: dict[str, object] = {}
        self.calls: list[str] = []

    def fresh_tokens(self) -> dict:
        return {
            "access_token": "fresh-access",
            "token_type": "Bearer",
            "refresh_token": "fresh-refresh",
            "id_token": id_token(self.claims, 300),
        }

    async def httpfetch(self, url, label="", **kwargs):
        self.calls.append(url)
        answer = self.answers.get(url)
        if answer is None:
            answer = {
                f"{ISSUER}/.well-known/openid-configuration": DISCOVERY,
                TOKEN_URL: self.fresh_tokens(),
                USERINFO_URL: self.claims,
            }[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeUser:
    def __init__(self, auth_state, name="alice") -> None:
        self.name = name
        self.auth_state = auth_state

    async def get_auth_state(self):
        return self.auth_state


def sso(idp: FakeIdp, **config) -> UnilimAuthenticator:
    auth = authenticator(oidc_issuer=ISSUER, client_id="unilim-hub", **config)
    auth.httpfetch = idp.httpfetch
    return auth


def stored(**token_response) -> dict:
    return {
        "access_token": "old-access",
        "refresh_token": "old-refresh",
        "token_response": {"access_token": "old-access", "token_type": "Bearer", **token_response},
        "oauth_user": STUDENT,
    }


async def test_expired_id_token_is_renewed_with_the_refresh_token_instead_of_a_500():
    idp = FakeIdp()
    auth = sso(idp, userdata_from_id_token=True)
    expired = stored(id_token=id_token(STUDENT, -60))  # Keycloak's 5 minutes are over

    model = await auth.refresh_user(FakeUser(expired))

    assert model["name"] == "alice" and model["groups"] == ["student"]
    assert model["auth_state"]["refresh_token"] == "fresh-refresh"
    assert idp.calls.count(TOKEN_URL) == 1


@pytest.mark.parametrize(
    "auth_state",
    [
        stored(id_token="not-a-jwt"),  # unreadable
        stored(),  # no ID token at all
        {**stored(), "token_response": None},
        {"refresh_token": "old-refresh"},  # no token response stored
    ],
)
async def test_missing_or_unreadable_stored_token_is_renewed_not_an_error(auth_state):
    model = await sso(FakeIdp(), userdata_from_id_token=True).refresh_user(FakeUser(auth_state))
    assert model["name"] == "alice" and model["groups"] == ["student"]


@pytest.mark.parametrize(
    ("auth_state", "token_answer"),
    [
        (stored(id_token=id_token(STUDENT, -60)), HTTPClientError(400)),  # refresh token expired
        ({**stored(id_token=id_token(STUDENT, -60)), "refresh_token": None}, None),
        (None, None),  # no auth_state at all
        (stored(id_token=id_token(STUDENT, -60)), {"access_token": "a", "id_token": "junk"}),
        (stored(id_token=id_token(STUDENT, -60)), {"error_description": "Session not active"}),
    ],
)
async def test_when_no_token_works_the_person_logs_in_again_without_an_error(
    auth_state, token_answer
):
    idp = FakeIdp()
    idp.answers[TOKEN_URL] = token_answer
    refreshed = await sso(idp, userdata_from_id_token=True).refresh_user(FakeUser(auth_state))
    assert refreshed is False


async def test_expired_access_token_with_userinfo_is_renewed_too():
    idp = FakeIdp()
    answers = iter([HTTPClientError(401), STUDENT])  # the old token is refused, the fresh one not
    fetch = idp.httpfetch

    async def userinfo_once_refused(url, label="", **kwargs):
        if url == USERINFO_URL:
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return await fetch(url, label, **kwargs)

    auth = sso(idp)
    auth.httpfetch = userinfo_once_refused
    model = await auth.refresh_user(FakeUser(stored()))
    assert model["auth_state"]["access_token"] == "fresh-access"


# --- Refresh: who may stay (issue 10, "tests that let a broken rule pass") --------------


async def test_person_no_longer_in_an_allowed_group_is_logged_out_at_refresh():
    idp = FakeIdp({"preferred_username": "alice", "groups": ["/alumni"]})
    assert await sso(idp).refresh_user(FakeUser(stored())) is False


async def test_person_renamed_at_the_idp_logs_in_again_instead_of_a_500():
    idp = FakeIdp({"preferred_username": "alice2", "groups": ["/student"]})
    assert await sso(idp).refresh_user(FakeUser(stored())) is False


async def test_configured_endpoints_are_not_overwritten_by_discovery():
    idp = FakeIdp()
    auth = sso(idp, token_url="https://sso.example.org/custom/token")
    await auth.discover()
    assert auth.token_url == "https://sso.example.org/custom/token"
    assert auth.authorize_url == DISCOVERY["authorization_endpoint"]
    assert auth.userdata_url == USERINFO_URL


@pytest.mark.parametrize(
    "error", [HTTPClientError(500), HTTPClientError(503), HTTPClientError(599)]
)
async def test_idp_server_error_is_unavailable_not_a_rejection(error):
    idp = FakeIdp()
    idp.answers[USERINFO_URL] = error
    assert await sso(idp).refresh_user(FakeUser(stored())) is True  # kept, not logged out
    refusal = _idp_failure(error)
    assert (refusal.refusal.code, refusal.status) == ("login.idp_unreachable", 503)


def test_idp_client_error_at_login_is_a_rejection():
    refusal = _idp_failure(HTTPClientError(400))
    assert (refusal.refusal.code, refusal.status) == ("login.idp_rejected", 400)


# --- Outages, in both orders (issue 10.4) ---------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_hub_started_while_the_idp_is_down_keeps_sessions_for_the_grace_period():
    auth = authenticator(
        oidc_issuer=f"http://127.0.0.1:{closed_port()}/realms/unilim", idp_outage_grace=60
    )
    assert await auth.refresh_user(FakeUser(stored())) is True  # kept, groups unchanged
    auth._idp_down_since -= 61  # the outage outlasts the grace period
    assert await auth.refresh_user(FakeUser(stored())) is False


async def test_idp_down_after_start_keeps_sessions_then_logs_out_after_the_grace_period():
    idp = FakeIdp()
    auth = sso(idp, idp_outage_grace=60)
    assert (await auth.refresh_user(FakeUser(stored())))["groups"] == ["student"]

    idp.answers[USERINFO_URL] = OSError("connection refused")
    assert await auth.refresh_user(FakeUser(stored())) is True  # never more than before
    auth._idp_down_since -= 61
    assert await auth.refresh_user(FakeUser(stored())) is False

    idp.answers[USERINFO_URL] = None  # back up: the clock starts again at the next outage
    assert (await auth.refresh_user(FakeUser(stored())))["name"] == "alice"
    assert auth._idp_down_since is None


async def test_zero_grace_logs_out_at_the_first_failed_refresh():
    idp = FakeIdp()
    idp.answers[USERINFO_URL] = HTTPClientError(599)
    assert await sso(idp, idp_outage_grace=0).refresh_user(FakeUser(stored())) is False


# --- Groups from a dotted path, and configured group spellings (issues 9.3 and 9.1) -----


@pytest.mark.parametrize(
    "config",
    [
        {"auth_state_groups_key": "oauth_user.realm_access.roles"},
        {"groups_claim": "realm_access.roles"},
        {"claim_groups_key": "realm_access.roles"},
    ],
)
async def test_realm_roles_at_a_dotted_path_let_staff_in(config):
    claims = {"preferred_username": "sam", "realm_access": {"roles": ["staff"]}}
    idp = FakeIdp(claims)
    model = await sso(idp, **config).refresh_user(FakeUser(stored(), name="sam"))
    assert model["groups"] == ["staff"]


async def test_async_callable_auth_state_groups_key_is_honoured():
    async def roles(auth_state):
        return auth_state["oauth_user"]["realm_access"]["roles"]

    idp = FakeIdp({"preferred_username": "sam", "realm_access": {"roles": ["/staff"]}})
    model = await sso(idp, auth_state_groups_key=roles).refresh_user(FakeUser(stored(), "sam"))
    assert model["groups"] == ["staff"]


@pytest.mark.parametrize(
    ("configured", "claim"), [("/hub-admins", "/hub-admins"), ("Hub-Admins", "Hub-Admins"),
                              ("/hub-admins", "hub-admins")]
)  # fmt: skip
async def test_admin_group_spelled_as_the_idp_spells_it_gives_admin(configured, claim):
    idp = FakeIdp({"preferred_username": "ada", "groups": ["/staff", claim]})
    model = await sso(idp, admin_groups={configured}).refresh_user(FakeUser(stored(), "ada"))
    assert model["admin"] is True
    assert "admin" in {role["name"] for role in model["roles"]}


@pytest.mark.parametrize("claim", ["/clubs/hub-admins", "ｈｕｂ－ａｄｍｉｎｓ", "HUB-ADMINS"])
async def test_group_elsewhere_in_the_realm_gives_no_admin(claim):
    idp = FakeIdp({"preferred_username": "eve", "groups": ["/staff", claim]})
    model = await sso(idp, admin_groups={"hub-admins"}).refresh_user(FakeUser(stored(), "eve"))
    assert not model["admin"]
    assert {role["name"] for role in model["roles"]} == {"user"}


async def test_allowed_groups_spelled_as_a_keycloak_path_let_members_in():
    idp = FakeIdp({"preferred_username": "tom", "groups": ["/course-info101"]})
    auth = sso(idp, allowed_groups={"/course-info101"})
    assert auth.allowed_groups == {"course-info101"}
    assert (await auth.refresh_user(FakeUser(stored(), "tom")))["groups"] == ["course-info101"]


# --- Secrets in logs (issue 10.6) -----------------------------------------------------


def test_callback_query_with_the_code_never_reaches_the_log():
    uri = "/hub/oauth_callback?code=SECRET-CODE&state=eyJzdGF0ZSI6IjEifQ&session_state=x"
    assert "SECRET" not in _scrubbed(uri)
    assert _scrubbed(uri).startswith("/hub/oauth_callback?[")
    assert _scrubbed("/hub/oauth_login") == "/hub/oauth_login"


def test_refused_callback_is_logged_without_its_code(caplog):
    class Request:
        method, remote_ip = "GET", "127.0.0.1"
        uri = "/hub/oauth_callback?code=SECRET-CODE&state=SECRET-STATE"

    handler = UnilimCallbackHandler.__new__(UnilimCallbackHandler)
    handler.request = Request()
    refusal = web.HTTPError(403, "%s", "in no allowed group")
    handler.log_exception(web.HTTPError, refusal, None)
    handler.log_exception(RuntimeError, RuntimeError("boom"), None)
    assert "403 GET /hub/oauth_callback?[" in caplog.text
    assert "in no allowed group" in caplog.text and "Uncaught exception" in caplog.text
    assert "SECRET" not in caplog.text
