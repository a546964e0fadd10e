"""From SSO claims to a JupyterHub user: username, groups and teacher roles, odd claims included."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from traitlets.config import Config

from unilim_hub import settings
from unilim_hub.policy.claims import (
    Refusal,
    membership,
    normalise_username,
    teacher_roles,
    username_from,
)
from unilim_hub.policy.models import ClaimRules, GroupNaming
from unilim_hub.policy.oidc import Endpoints, discovery_url, endpoints_of

NAMING = GroupNaming(admin_groups=frozenset({"hub-admins"}))
RULES = ClaimRules()


def groups_of(claims: dict, rules: ClaimRules = RULES) -> set[str]:
    return set(membership(claims, rules, NAMING).groups)


# --- Username -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"preferred_username": "alice"}, "alice"),
        ({"preferred_username": " Jean.Dupont "}, "jean.dupont"),
        ({"preferred_username": ["jdupont01"]}, "jdupont01"),  # CAS sends lists
        ({"preferred_username": "ｊｄｕｐｏｎｔ"}, "jdupont"),  # full-width letters (NFKC)
        ({"preferred_username": "jean-dupont@unilim.fr"}, "jean-dupont@unilim.fr"),
    ],
)
def test_username_is_normalised(claims, username):
    assert username_from(claims.get("preferred_username"), "preferred_username") == username


@pytest.mark.parametrize(
    "claims", [{}, {"preferred_username": None}, {"preferred_username": ""}, {"uid": "x"}]
)
def test_missing_username_is_refused_naming_the_claim(claims):
    refusal = username_from(claims.get("preferred_username"), "preferred_username")
    assert refusal == Refusal("login.no_username", {"claim": "preferred_username"})


@pytest.mark.parametrize(
    "value", ["zoé", "jean dupont", "-jean", "jean/../admin", "a" * 65, "ab\x00c", ["a", "b"], 42]
)
def test_unusable_username_is_refused(value):
    refusal = username_from(value, "uid")
    assert isinstance(refusal, Refusal)
    assert refusal.code in {"login.invalid_username", "login.no_username"}


def test_very_long_username_is_shown_cut_in_the_refusal():
    refusal = normalise_username("x" * 5000)
    assert isinstance(refusal, Refusal)
    assert refusal.params["username"].endswith("… (5000 characters)")
    assert len(refusal.params["username"]) < 100


@given(st.text(max_size=200))
def test_a_username_is_either_safe_or_refused(value):
    name = normalise_username(value)
    if isinstance(name, str):
        assert name == name.lower().strip()
        assert 1 <= len(name) <= 64
        assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789._@-")
        assert normalise_username(name) == name  # idempotent
    else:
        assert name.code == "login.invalid_username"


# --- Groups -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "groups"),
    [
        ({"groups": ["student", "course-info101"], "affiliation": ["student"]},
         {"student", "course-info101"}),
        ({"groups": ["faculty", "teacher-info101"], "affiliation": ["faculty", "employee"]},
         {"faculty", "teacher-info101"}),
        ({"groups": ["staff", "hub-admins"]}, {"staff", "hub-admins"}),
        ({"groups": ["alumni"], "affiliation": ["alum"]}, set()),
        # Keycloak full paths, nested groups, upper case
        ({"groups": ["/student", "/courses/course-stat202", "/Course-INFO101/"]},
         {"student", "course-stat202", "course-info101"}),
        # affiliations alone, scoped values (eduPersonScopedAffiliation)
        ({"affiliation": ["student@unilim.fr", "member@unilim.fr"]}, {"student"}),
        # a single value instead of a list
        ({"groups": "course-info101", "affiliation": "staff"}, {"course-info101", "staff"}),
    ],
)  # fmt: skip
def test_claims_map_to_groups(claims, groups):
    assert groups_of(claims) == groups


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"groups": None, "affiliation": None},
        {"groups": [], "affiliation": []},
        {"groups": {"student": True}},
        {"groups": [None, 42, ["student"], {"name": "student"}]},
        {"groups": ["course-", "teacher-", "course-Ünï", "course-" + "x" * 300, "/"]},
    ],
)
def test_missing_or_odd_claims_give_no_group(claims):
    assert groups_of(claims) == set()


def test_values_that_map_to_no_group_are_listed_for_the_log():
    result = membership({"groups": ["alumni", "x" * 500], "affiliation": ["alum"]}, RULES, NAMING)
    assert result.ignored[0] == "groups=alumni"
    assert result.ignored[1].startswith("groups=xxx") and result.ignored[1].endswith(
        "(500 characters)"
    )
    assert result.ignored[2] == "affiliation=alum"


def test_affiliation_map_renames_affiliations():
    rules = ClaimRules(affiliation_map={"employee": "staff"})
    assert groups_of({"affiliation": ["employee"]}, rules) == {"staff"}


def test_claim_names_are_configurable_and_can_be_turned_off():
    rules = ClaimRules(groups_claim="memberOf", affiliation_claim="")
    claims = {"memberOf": ["course-info101"], "groups": ["staff"], "affiliation": ["student"]}
    assert groups_of(claims, rules) == {"course-info101"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["groups", "affiliation", "other"]), json_values))
def test_any_claims_give_only_groups_the_hub_knows(claims):
    result = membership(claims, RULES, NAMING)
    for group in result.groups:
        assert NAMING.is_known(group)
        assert len(group) <= 64


# --- Teacher roles ----------------------------------------------------------------


def test_each_course_taught_gives_a_role_managing_only_that_course():
    roles = teacher_roles(
        frozenset({"faculty", "teacher-stat202", "teacher-info101", "course-algo"}), RULES, NAMING
    )
    assert [(role.name, role.course, role.scopes) for role in roles] == [
        ("teacher-info101", "info101", ("custom:courses:manage!group=course-info101",)),
        ("teacher-stat202", "stat202", ("custom:courses:manage!group=course-stat202",)),
    ]


def test_teacher_scopes_are_templates():
    rules = ClaimRules(teacher_scopes=("custom:courses:manage!group={course_group}",
                                       "read:users!group={course_group}",
                                       "custom:grades:{course}"))  # fmt: skip
    (role,) = teacher_roles(frozenset({"teacher-m1"}), rules, NAMING)
    assert role.scopes == (
        "custom:courses:manage!group=course-m1",
        "read:users!group=course-m1",
        "custom:grades:m1",
    )


def test_course_code_that_no_role_name_allows_gives_no_role():
    assert teacher_roles(frozenset({"teacher-info101_"}), RULES, NAMING) == ()


# --- Discovery document -----------------------------------------------------------

ISSUER = "https://sso.example.org/realms/unilim"
DOCUMENT = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/protocol/openid-connect/auth",
    "token_endpoint": f"{ISSUER}/protocol/openid-connect/token",
    "userinfo_endpoint": f"{ISSUER}/protocol/openid-connect/userinfo",
    "end_session_endpoint": f"{ISSUER}/protocol/openid-connect/logout",
}


def test_discovery_document_gives_the_endpoints():
    assert discovery_url(ISSUER + "/") == f"{ISSUER}/.well-known/openid-configuration"
    assert endpoints_of(DOCUMENT, ISSUER, "unilim-hub") == Endpoints(
        authorize_url=DOCUMENT["authorization_endpoint"],
        token_url=DOCUMENT["token_endpoint"],
        userdata_url=DOCUMENT["userinfo_endpoint"],
        logout_url=f"{DOCUMENT['end_session_endpoint']}?client_id=unilim-hub",
    )


def test_provider_without_end_session_endpoint_has_no_logout_url():
    document = {k: v for k, v in DOCUMENT.items() if k != "end_session_endpoint"}
    endpoints = endpoints_of(document, ISSUER, "unilim-hub")
    assert isinstance(endpoints, Endpoints) and endpoints.logout_url == ""


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ([], "oidc.not_a_document"),
        ({**DOCUMENT, "issuer": "https://other.example.org"}, "oidc.issuer_mismatch"),
        ({**DOCUMENT, "token_endpoint": None}, "oidc.missing_endpoint"),
        ({**DOCUMENT, "userinfo_endpoint": "/userinfo"}, "oidc.missing_endpoint"),
    ],
)
def test_wrong_discovery_document_is_explained(document, code):
    refusal = endpoints_of(document, ISSUER, "unilim-hub")
    assert isinstance(refusal, Refusal) and refusal.code == code


# --- Configuration ----------------------------------------------------------------


def problems_of(config: dict) -> dict[str, str]:
    _, problems = settings.check(Config(config))
    return {problem.key: problem.code for problem in problems}


def test_claim_rules_come_from_the_authenticator_settings():
    loaded, problems = settings.check(
        Config({"UnilimAuthenticator": {"affiliation_map": {"Employee": "staff"},
                                        "groups_claim": "memberOf"}})
    )  # fmt: skip
    assert problems == ()
    assert loaded.claims.affiliation_map == {"employee": "staff"}
    assert loaded.claims.groups_claim == "memberOf"


@pytest.mark.parametrize(
    ("authenticator", "key", "code"),
    [
        ({"affiliation_map": {"employee": "staf"}},
         "UnilimAuthenticator.affiliation_map['employee']", "affiliation.unknown_group"),
        ({"affiliation_map": ["employee"]},
         "UnilimAuthenticator.affiliation_map", "value.not_mapping"),
        ({"teacher_scopes": ["custom:courses:manage!group={group}"]},
         "UnilimAuthenticator.teacher_scopes[0]", "scope.invalid_template"),
        ({"teacher_scopes": ["custom:grades:read!group={course_group}"]},
         "UnilimAuthenticator.teacher_scopes[0]", "scope.undeclared"),
        ({"groups_claim": ["groups"]}, "UnilimAuthenticator.groups_claim", "value.not_text"),
    ],
)  # fmt: skip
def test_wrong_claim_settings_are_named(authenticator, key, code):
    assert problems_of({"UnilimAuthenticator": authenticator}) == {key: code}


def test_declared_custom_scope_is_accepted():
    config = {
        "JupyterHub": {"custom_scopes": {"custom:grades:read": {"description": "Read grades"}}},
        "UnilimAuthenticator": {"teacher_scopes": ["custom:grades:read!group={course_group}"]},
    }
    assert problems_of(config) == {}
