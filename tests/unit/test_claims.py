"""From SSO claims to a JupyterHub user: username, groups and teacher roles, odd claims included."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.i18n import translate
from unilim_hub.policy.claims import (
    claim_at,
    membership,
    normalise_username,
    parse_claim_rules,
    teacher_roles,
    username_from,
)
from unilim_hub.policy.models import ClaimRules, GroupNaming
from unilim_hub.policy.oidc import Endpoints, discovery_url, endpoints_of, issuer_problem
from unilim_hub.policy.problems import Checker
from unilim_hub.policy.refusal import Refusal
from unilim_hub.policy.untrusted import SHOWN_LENGTH

NAMING = GroupNaming(admin_groups=frozenset({"hub-admins"}))
RULES = ClaimRules()


def groups_of(claims: dict, rules: ClaimRules = RULES) -> set[str]:
    return set(membership(claims, rules, NAMING).groups)


# --- Username -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"preferred_username": "alice"}, "alice"),
        ({"preferred_username": ["jdupont01"]}, "jdupont01"),  # CAS sends lists
        ({"preferred_username": "jean-dupont@unilim.fr"}, "jean-dupont@unilim.fr"),
    ],
)
def test_username_is_the_one_the_idp_sends(claims, username):
    assert username_from(claims.get("preferred_username"), "preferred_username") == username


# Issue 9.4: each of these folded into an existing user's name (same server, home, S3 prefix).
@pytest.mark.parametrize(
    ("value", "existing"),
    [
        ("ｊｅａｎ.ｄｕｐｏｎｔ", "jean.dupont"),  # full-width letters
        ("ﬁlip", "filip"),  # a ligature
        ("Jean.Dupont", "jean.dupont"),  # capitals
        (" jean.dupont ", "jean.dupont"),  # surrounding spaces
        ("𝐣𝐞𝐚𝐧.𝐝𝐮𝐩𝐨𝐧𝐭", "jean.dupont"),  # mathematical bold letters
        ("jean\u200b.dupont", "jean.dupont"),  # a zero-width space
    ],
)
def test_look_alike_username_is_refused_instead_of_logging_in_as_another(value, existing):
    assert normalise_username(existing) == existing
    refusal = normalise_username(value)
    assert isinstance(refusal, Refusal) and refusal.code == "login.invalid_username"


LOOK_ALIKES = st.text(
    alphabet=st.sampled_from("abcdefjilnpu.-_@ ABJＡｊｅﬁℓⅰ\u0130\u0131\u200b\u00e9e\u0301"),
    max_size=12,
)


@given(LOOK_ALIKES, LOOK_ALIKES)
def test_two_distinct_usernames_never_become_one_hub_user(first, second):
    one, other = normalise_username(first), normalise_username(second)
    if first != second and isinstance(one, str) and isinstance(other, str):
        assert one != other


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
    # Cut with an ellipsis only: the value goes into French and English messages alike.
    assert refusal.params["username"] == "x" * (SHOWN_LENGTH - 1) + "…"


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
        # Keycloak top-level paths are the group; nested paths and other capitals are not
        ({"groups": ["/student", "/courses/course-stat202", "/Course-INFO101/"]},
         {"student"}),
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
    assert result.ignored[1] == "groups=" + "x" * (SHOWN_LENGTH - 1) + "…"
    assert result.ignored[2] == "affiliation=alum"


def test_scoped_affiliation_is_the_part_before_the_first_at_sign():
    claims = {"affiliation": ["student@unilim.fr", "staff@faculty@unilim.fr", "@faculty"]}
    assert groups_of(claims) == {"student", "staff"}


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


ACCESS = "access:services!service=courses"  # teachers may open the course service


def test_each_course_taught_gives_a_role_managing_only_that_course():
    roles = teacher_roles(
        frozenset({"faculty", "teacher-stat202", "teacher-info101", "course-algo"}), RULES, NAMING
    )
    assert [(role.name, role.course, role.scopes) for role in roles] == [
        ("teacher-info101", "info101", ("custom:courses:manage!group=course-info101", ACCESS)),
        ("teacher-stat202", "stat202", ("custom:courses:manage!group=course-stat202", ACCESS)),
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
    ("document", "message"),
    [
        ([], f"The OIDC discovery document of {ISSUER} is not a JSON object: check "
             "UnilimAuthenticator.oidc_issuer."),
        ({**DOCUMENT, "issuer": "https://other.example.org"},
         f"The OIDC discovery document of {ISSUER} announces the issuer "
         "'https://other.example.org': set UnilimAuthenticator.oidc_issuer to exactly the "
         "announced issuer."),
        ({key: value for key, value in DOCUMENT.items() if key != "issuer"},
         f"The OIDC discovery document of {ISSUER} announces the issuer '': set "
         "UnilimAuthenticator.oidc_issuer to exactly the announced issuer."),
        ({**DOCUMENT, "token_endpoint": None},
         f"The OIDC discovery document of {ISSUER} has no usable token_endpoint: set the URL "
         "in the UnilimAuthenticator configuration."),
        ({**DOCUMENT, "userinfo_endpoint": "/userinfo"},
         f"The OIDC discovery document of {ISSUER} has no usable userinfo_endpoint: set the "
         "URL in the UnilimAuthenticator configuration."),
    ],
)  # fmt: skip
def test_wrong_discovery_document_is_explained(document, message):
    refusal = endpoints_of(document, ISSUER, "unilim-hub")
    assert isinstance(refusal, Refusal)
    assert translate(refusal.code, "en", **refusal.params) == message


@pytest.mark.parametrize(
    ("configured", "announced"),
    [(ISSUER, ISSUER + "/"), (ISSUER + "/", ISSUER), (ISSUER + "X", ISSUER + "X/")],
)
def test_issuer_with_or_without_a_trailing_slash_is_the_same_issuer(configured, announced):
    document = {
        key: value.replace(ISSUER, announced.rstrip("/")) for key, value in DOCUMENT.items()
    }
    endpoints = endpoints_of({**document, "issuer": announced}, configured, "unilim-hub")
    assert isinstance(endpoints, Endpoints)
    assert discovery_url(configured) == f"{announced.rstrip('/')}/.well-known/openid-configuration"


# --- Configuration ----------------------------------------------------------------


def problems_of(config: dict) -> dict[str, str]:
    _, problems = configuration.check(Config(config))
    return {problem.key: problem.code for problem in problems}


def test_claim_rules_come_from_the_authenticator_settings():
    loaded, problems = configuration.check(
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


def messages_of(config: dict) -> dict[str, str]:
    """Each problem of ``config`` as the admin reads it in English, by key."""
    _, problems = configuration.check(Config(config))
    return {problem.key: translate(problem.code, "en", **problem.params) for problem in problems}


@pytest.mark.parametrize(
    ("authenticator", "key", "message"),
    [
        ({"groups_claim": ["groups"]}, "UnilimAuthenticator.groups_claim",
         "['groups'] should be a text."),
        ({"affiliation_map": ["employee"]}, "UnilimAuthenticator.affiliation_map",
         "['employee'] should be a mapping of keys to values (YAML 'key: value' lines)."),
        ({"affiliation_map": {"employee": "staf"}},
         "UnilimAuthenticator.affiliation_map['employee']",
         "'staf' is not an affiliation group: expected one of faculty, staff, student "
         "(UnilimSite.affiliation_groups)."),
        ({"allowed_groups": "student"}, "UnilimAuthenticator.allowed_groups",
         "'student' should be a list (YAML '- item' lines)."),
        ({"teacher_scopes": ["custom:courses:manage!group={group}"]},
         "UnilimAuthenticator.teacher_scopes[0]",
         "'custom:courses:manage!group={group}' is not a valid scope template: write a scope "
         "such as custom:courses:manage!group={course_group}, where only {course} and "
         "{course_group} are replaced."),
    ],
)  # fmt: skip
def test_wrong_claim_setting_is_explained_with_the_value_typed(authenticator, key, message):
    assert messages_of({"UnilimAuthenticator": authenticator}) == {key: message}


def test_claim_settings_left_out_are_the_documented_defaults():
    check = Checker()
    assert parse_claim_rules(check, {}, NAMING) == ClaimRules()
    assert check.problems == []


def test_configured_affiliation_claim_is_the_one_read():
    loaded, problems = configuration.check(
        Config({"UnilimAuthenticator": {"affiliation_claim": "eduPersonAffiliation"}})
    )
    assert problems == ()
    claims = {"eduPersonAffiliation": ["staff"], "affiliation": ["student"]}
    assert membership(claims, loaded.claims, loaded.groups).groups == {"staff"}


def test_number_among_allowed_groups_is_reported_instead_of_stopping_the_check():
    assert problems_of({"UnilimAuthenticator": {"allowed_groups": ["student", 42]}}) == {
        "UnilimAuthenticator.allowed_groups[42]": "group.never_matches"
    }


def test_every_scope_template_naming_more_than_the_course_is_reported():
    scopes = [
        "custom:courses:manage!group={course.code}",  # used to stop the hub with a traceback
        "read:users!group={course_group}",
        "custom:grades:{course[0]}",
        "custom:grades:{course!r}",
        "custom:grades:{course:>9}",
        "custom:grades:{}",
        "custom:grades:{course",
        42,
    ]
    problems = problems_of({"UnilimAuthenticator": {"teacher_scopes": scopes}})
    assert problems == {
        f"UnilimAuthenticator.teacher_scopes[{index}]": "scope.invalid_template"
        for index in (0, 2, 3, 4, 5, 6, 7)
    }


def test_scope_templates_with_only_the_course_fields_are_kept():
    scopes = ["read:users!group={course_group}", "custom:courses:manage!group={course_group}",
              "list:users!group=course-{course}"]  # fmt: skip
    loaded, problems = configuration.check(
        Config({"UnilimAuthenticator": {"teacher_scopes": scopes}})
    )
    assert problems == ()
    assert loaded.claims.teacher_scopes == tuple(scopes)


def test_declared_custom_scope_is_accepted():
    config = {
        "JupyterHub": {"custom_scopes": {"custom:grades:read": {"description": "Read grades"}}},
        "UnilimAuthenticator": {"teacher_scopes": ["custom:grades:read!group={course_group}"]},
    }
    assert problems_of(config) == {}


# --- Exact group names: nothing folded (issues 9.1 and 10.1) ---------------------------

PRIVILEGED = GroupNaming(admin_groups=frozenset({"hub-admins"}))


@pytest.mark.parametrize(
    "value",
    [
        "/clubs/hub-admins",  # a nested group anyone managing /clubs can create
        "ｈｕｂ－ａｄｍｉｎｓ",  # full-width
        "ʰub-admins",  # a modifier letter
        "HUB-ADMINS",  # other capitals
        "hub-admins ",  # a trailing space
        "/hub-admins/",  # not a Keycloak path
        "hub-admins\u200b",  # a zero-width space
    ],
)
def test_group_elsewhere_in_the_idp_or_a_look_alike_does_not_make_an_admin(value):
    assert "hub-admins" not in membership({"groups": [value]}, RULES, PRIVILEGED).groups


@pytest.mark.parametrize(
    "value",
    [
        "/student-clubs/robotics/teacher-info101",
        "/courses/course-info101",
        "Teacher-info101",
        "teacher-ｉｎｆｏ101",
        "/teacher-INFO101",
    ],
)
def test_nested_or_look_alike_course_groups_give_no_course_and_no_teacher_role(value):
    groups = membership({"groups": [value]}, RULES, PRIVILEGED).groups
    assert groups == frozenset()
    assert teacher_roles(groups, RULES, PRIVILEGED) == ()


def test_top_level_keycloak_path_and_plain_name_are_the_same_group():
    for value in ("/hub-admins", "hub-admins"):
        assert membership({"groups": [value]}, RULES, PRIVILEGED).groups == {"hub-admins"}


def test_capitals_are_kept_so_a_configured_capitalised_group_matches_only_itself():
    naming = GroupNaming(admin_groups=frozenset({"Hub-Admins"}))
    assert membership({"groups": ["/Hub-Admins"]}, RULES, naming).groups == {"Hub-Admins"}
    assert membership({"groups": ["hub-admins", "HUB-ADMINS"]}, RULES, naming).groups == set()


group_values = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda prefix, name, suffix: prefix + name + suffix,
        st.sampled_from(["", "/", "/clubs/", "//", " ", "/x/y/"]),
        st.sampled_from(
            ["hub-admins", "HUB-ADMINS", "ｈｕｂ－ａｄｍｉｎｓ", "ʰub-admins", "teacher-info101",
             "course-info101", "Course-info101", "teacher-ｉｎｆｏ101", "course-ﬁ", "student"]
        ),
        st.sampled_from(["", "/", " ", "\u200b", "\n", "x"]),
    ),
)  # fmt: skip


@given(st.lists(group_values, max_size=5))
def test_no_privileged_role_for_a_value_that_is_not_exactly_a_configured_group(values):
    groups = membership({"groups": values}, RULES, PRIVILEGED).groups
    for group in groups:
        # Only the value itself, or its Keycloak top-level path, names a group.
        assert group in values or f"/{group}" in values
    admin = "hub-admins" in groups
    assert admin == any(value in {"hub-admins", "/hub-admins"} for value in values)
    for role in teacher_roles(groups, RULES, PRIVILEGED):
        assert role.name in values or f"/{role.name}" in values


# --- Claims at a dotted path (issue 9.3) --------------------------------------------


def test_groups_claim_at_a_dotted_path_is_read():
    rules = ClaimRules(groups_claim="realm_access.roles")
    assert groups_of({"realm_access": {"roles": ["staff"]}}, rules) == {"staff"}


def test_claim_whose_name_holds_dots_is_read_as_it_is():
    claims = {"https://unilim.fr/groups": ["faculty"], "https://unilim": {"fr/groups": ["x"]}}
    assert claim_at(claims, "https://unilim.fr/groups") == ["faculty"]
    assert claim_at({"a": {"b": 1}}, "a.b.c") is None
    assert claim_at({"a": ["b"]}, "a.0") is None


def test_group_values_from_auth_state_groups_key_are_read_by_the_same_rule():
    result = membership(
        {}, RULES, PRIVILEGED, ("oauth_user.realm_access.roles", ["staff", "/clubs/hub-admins"])
    )
    assert result.groups == {"staff"}
    assert result.ignored == ("oauth_user.realm_access.roles=/clubs/hub-admins",)


# --- Endpoints that would leak secrets (issue 10.3) ---------------------------------


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("token_endpoint", "http://sso.example.org/realms/unilim/token"),  # in clear
        ("authorization_endpoint", "https://evil.example.net/auth"),  # another host
        ("userinfo_endpoint", "http://127.0.0.1:8080/userinfo"),  # http under https
        ("end_session_endpoint", "http://sso.example.org/logout"),
    ],
)
def test_discovery_naming_an_insecure_endpoint_is_refused(endpoint, url):
    refusal = endpoints_of({**DOCUMENT, endpoint: url}, ISSUER, "unilim-hub")
    assert refusal == Refusal(
        "oidc.insecure_endpoint", {"issuer": ISSUER, "endpoint": endpoint, "url": url}
    )


def test_endpoint_on_a_host_the_configuration_names_is_accepted():
    document = {**DOCUMENT, "token_endpoint": "https://oauth2.example.com/token"}
    endpoints = endpoints_of(document, ISSUER, "unilim-hub", ("oauth2.example.com",))
    assert isinstance(endpoints, Endpoints)
    assert endpoints.token_url == "https://oauth2.example.com/token"


def test_loopback_test_idp_over_http_may_name_https_endpoints_on_loopback():
    issuer = "http://127.0.0.1:18080/realms/unilim"
    document = {key: value.replace(ISSUER, issuer) for key, value in DOCUMENT.items()}
    document["token_endpoint"] = "https://[::1]:18443/realms/unilim/token"
    endpoints = endpoints_of(document, issuer, "c")
    assert isinstance(endpoints, Endpoints)
    assert endpoints.token_url == "https://[::1]:18443/realms/unilim/token"


def test_loopback_test_idp_over_http_is_accepted_and_only_on_loopback():
    issuer = "http://127.0.0.1:18080/realms/unilim"
    document = {key: value.replace(ISSUER, issuer) for key, value in DOCUMENT.items()}
    assert isinstance(endpoints_of(document, issuer, "c"), Endpoints)
    leaking = {**document, "token_endpoint": "http://sso.example.org/token"}
    assert endpoints_of(leaking, issuer, "c").code == "oidc.insecure_endpoint"


@pytest.mark.parametrize(
    ("issuer", "insecure"),
    [
        ("https://sso.example.org/realms/unilim", False),
        ("http://127.0.0.1:18080/realms/unilim", False),
        ("http://[::1]:18080/realms/unilim", False),
        ("http://localhost:18080/realms/unilim", False),
        ("http://sso.example.org/realms/unilim", True),
        ("http://127.0.0.1.example.org/realms/unilim", True),
        ("ftp://sso.example.org", True),
    ],
)
def test_only_https_or_a_loopback_issuer_is_accepted(issuer, insecure):
    assert (issuer_problem(issuer) is not None) is insecure
    if insecure:
        refusal = issuer_problem(issuer)
        assert translate(refusal.code, "en", **refusal.params).startswith(
            f"The OIDC issuer '{issuer}' is not https:"
        )


@pytest.mark.parametrize(
    ("end_session", "expected"),
    [
        (f"{ISSUER}/logout?x=1", f"{ISSUER}/logout?x=1&client_id=unilim-hub"),
        (f"{ISSUER}/logout?next=a%20b&x", f"{ISSUER}/logout?next=a+b&x=&client_id=unilim-hub"),
    ],
)
def test_logout_url_keeps_the_endpoints_own_query(end_session, expected):
    endpoints = endpoints_of(
        {**DOCUMENT, "end_session_endpoint": end_session}, ISSUER, "unilim-hub"
    )
    assert endpoints.logout_url == expected


# --- Configured group names read as claims are (issue 9.1) --------------------------


@pytest.mark.parametrize("spelling", [["/hub-admins"], ["hub-admins"]])
def test_admin_group_spelled_as_a_keycloak_path_is_the_group_claims_give(spelling):
    loaded, problems = configuration.check(
        Config({"UnilimAuthenticator": {"admin_groups": spelling}})
    )
    assert problems == ()
    assert loaded.groups.admin_groups == {"hub-admins"}


def test_every_setting_naming_a_group_accepts_the_keycloak_path_spelling():
    loaded, problems = configuration.check(
        Config({
            "UnilimSite": {"affiliation_groups": ["/student", "staff"]},
            "UnilimAuthenticator": {"allowed_groups": ["/student", "/course-info101"]},
            "UnilimSpawner": {"group_quotas": {"/student": {"servers": 10}}},
        })
    )  # fmt: skip
    assert problems == ()
    assert loaded.groups.affiliations == {"student", "staff"}
    assert loaded.claims.allowed_groups == {"student", "course-info101"}
    assert set(loaded.quotas) == {"student"}


@pytest.mark.parametrize(
    ("setting", "key", "code", "suggestion"),
    [
        ({"UnilimAuthenticator": {"admin_groups": ["ｈｕｂ－ａｄｍｉｎｓ"]}},
         "UnilimAuthenticator.admin_groups['ｈｕｂ－ａｄｍｉｎｓ']", "group.never_matches",
         "hub-admins"),
        ({"UnilimAuthenticator": {"admin_groups": ["/staff/hub-admins"]}},
         "UnilimAuthenticator.admin_groups['/staff/hub-admins']", "group.nested_path", "-"),
        ({"UnilimAuthenticator": {"allowed_groups": ["studnet"]}},
         "UnilimAuthenticator.allowed_groups['studnet']", "group.unknown", "student"),
        ({"UnilimAuthenticator": {"allowed_groups": ["/clubs/student"]}},
         "UnilimAuthenticator.allowed_groups['/clubs/student']", "group.nested_path", "-"),
        ({"UnilimSpawner": {"group_quotas": {"student ": {"servers": 1}}}},
         "UnilimSpawner.group_quotas['student ']", "group.never_matches", "student"),
        ({"UnilimSite": {"affiliation_groups": ["ﬁnance"]}},
         "UnilimSite.affiliation_groups['ﬁnance']", "group.never_matches", "finance"),
        ({"UnilimSite": {"course_prefix": "/cours/"}},
         "UnilimSite.course_prefix", "group.nested_path", "-"),
    ],
)  # fmt: skip
def test_configured_group_name_that_can_never_match_is_refused_with_the_spelling(
    setting, key, code, suggestion
):
    _, problems = configuration.check(Config(setting))
    found = {problem.key: problem for problem in problems}
    assert found[key].code == code
    assert found[key].params.get("suggestion", "") == suggestion


# --- Inherited settings unilim-hub cannot honour (issue 9.3) --------------------------


@pytest.mark.parametrize(
    ("authenticator", "key", "code"),
    [
        ({"manage_groups": False}, "UnilimAuthenticator.manage_groups",
         "config.upstream_manage_groups"),
        ({"manage_roles": False}, "UnilimAuthenticator.manage_roles",
         "config.upstream_manage_roles"),
        ({"enable_auth_state": False}, "UnilimAuthenticator.enable_auth_state",
         "config.upstream_auth_state"),
        ({"groups_claim": "groups", "auth_state_groups_key": "oauth_user.realm_access.roles"},
         "UnilimAuthenticator.auth_state_groups_key", "config.groups_twice"),
        ({"oidc_issuer": "http://sso.example.org/realms/unilim"},
         "UnilimAuthenticator.oidc_issuer", "oidc.insecure_issuer"),
        ({"oidc_issuer": ISSUER, "token_url": "http://sso.example.org/token"},
         "UnilimAuthenticator.token_url", "oidc.insecure_setting"),
        ({"userdata_url": "http://sso.example.org/userinfo"},
         "UnilimAuthenticator.userdata_url", "oidc.insecure_setting"),
    ],
)  # fmt: skip
def test_inherited_setting_that_would_be_ignored_or_unsafe_is_reported(authenticator, key, code):
    assert problems_of({"UnilimAuthenticator": authenticator}) == {key: code}


def test_inherited_setting_on_the_base_class_is_reported_too():
    assert problems_of({"GenericOAuthenticator": {"manage_groups": False}}) == {
        "UnilimAuthenticator.manage_groups": "config.upstream_manage_groups"
    }


def test_claim_value_with_a_newline_cannot_forge_a_log_line():
    forged = "alumni\nINFO Login of ada as admin"
    result = membership({"groups": [forged]}, RULES, NAMING)
    assert result.ignored == ("groups=alumni\\nINFO Login of ada as admin",)
    refusal = normalise_username("eve\r\nadmin")
    assert refusal.params["username"] == "eve\\r\\nadmin"
