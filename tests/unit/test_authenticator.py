"""UnilimAuthenticator's own behaviour, without a hub: defaults, username, roles."""

import pytest
from traitlets.config import Config

from unilim_hub.authenticator import LoginRefused, UnilimAuthenticator


def authenticator(**config) -> UnilimAuthenticator:
    return UnilimAuthenticator(config=Config({"UnilimAuthenticator": config}))


def test_keycloak_ready_defaults():
    auth = authenticator()
    assert auth.manage_groups and auth.manage_roles and auth.enable_auth_state
    assert auth.enable_pkce and auth.refresh_pre_spawn
    assert auth.username_claim == "preferred_username"
    assert auth.allowed_groups == {"student", "staff", "faculty"}


def test_callable_username_claim_that_finds_nothing_is_refused():
    auth = authenticator(username_claim=lambda user_info: None)
    with pytest.raises(LoginRefused) as refused:
        auth.user_info_to_username({"preferred_username": "alice"})
    assert refused.value.refusal.code == "login.no_username"


def test_username_is_normalised():
    assert authenticator().user_info_to_username({"preferred_username": "Alice"}) == "alice"


async def test_roles_of_a_teacher_who_is_also_admin():
    auth = authenticator(admin_groups={"hub-admins"})
    claims = {"groups": ["/faculty", "/teacher-info101", "/hub-admins"]}
    model = await auth.update_auth_model(
        {"name": "tom", "admin": None, "auth_state": {"oauth_user": claims}}
    )
    roles = {role["name"]: role for role in model["roles"]}
    assert roles.keys() == {"user", "admin", "teacher-info101"}
    assert roles["teacher-info101"]["scopes"] == ["custom:courses:manage!group=course-info101"]


async def test_person_of_no_allowed_group_is_refused():
    auth = authenticator()
    model = {"name": "eve", "admin": False, "groups": [], "auth_state": {"oauth_user": {}}}
    with pytest.raises(LoginRefused) as refused:
        await auth.check_allowed("eve", model)
    assert refused.value.refusal.code == "login.not_allowed"
