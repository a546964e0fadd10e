"""Session policies: what one person's S3 credentials may touch (the server: tests/integration)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.policy import storage
from unilim_hub.policy.storage import (
    MAX_SESSION_POLICY_CHARS,
    PolicyTooLong,
    Prefix,
    SessionPolicy,
    UnsafeName,
)

USERS = "unilim-users"
COURSES = "unilim-courses"
ALICE = Prefix(USERS, "users/alice/")


def _document(policy: SessionPolicy | PolicyTooLong) -> dict:
    assert isinstance(policy, SessionPolicy)
    return dict(policy.document)


def test_user_policy_confines_listing_and_objects_to_the_users_prefix() -> None:
    policy = _document(
        storage.session_policy(
            read_write=[storage.user_prefix(USERS, "alice")],
            read_only=[Prefix(COURSES, "info101/")],
        )
    )
    listing, read, write = policy["Statement"][0], policy["Statement"][-2], policy["Statement"][-1]
    assert listing["Resource"] == ["arn:aws:s3:::unilim-users"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["users/alice/", "users/alice/*"]}}
    assert read["Action"] == ["s3:GetObject"]
    assert read["Resource"] == [
        "arn:aws:s3:::unilim-users/users/alice/*",
        "arn:aws:s3:::unilim-courses/info101/*",
    ]
    # The course is readable, never writable.
    assert write["Resource"] == ["arn:aws:s3:::unilim-users/users/alice/*"]
    assert "s3:PutObject" in write["Action"]


def test_a_user_may_overwrite_and_delete_their_objects_and_abort_their_uploads() -> None:
    policy = _document(storage.session_policy(read_write=[ALICE]))
    assert policy["Statement"][-1] == {
        "Effect": "Allow",
        "Action": [
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
            "s3:ListMultipartUploadParts",
        ],
        "Resource": ["arn:aws:s3:::unilim-users/users/alice/*"],
    }


def test_every_statement_allows_in_the_policy_language_the_s3_server_knows() -> None:
    # A statement without "Effect": "Allow", or an older "Version" (no policy variables),
    # would leave the person with credentials that can do nothing.
    policy = _document(storage.session_policy(read_write=[ALICE], read_only=[Prefix(COURSES)]))
    assert policy["Version"] == "2012-10-17"
    assert len(policy["Statement"]) == 4  # a listing per bucket, read, write
    assert all(statement["Effect"] == "Allow" for statement in policy["Statement"])


def test_the_text_sent_is_the_policy_itself_as_compact_json() -> None:
    policy = storage.session_policy(read_write=[ALICE], read_only=[Prefix(COURSES, "info101/")])
    assert isinstance(policy, SessionPolicy)
    assert json.loads(policy.text) == policy.document
    assert " " not in policy.text


def test_read_only_policy_has_no_write_statement() -> None:
    policy = _document(storage.session_policy(read_only=[Prefix(COURSES, "stat202/")]))
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject"}


def test_whole_bucket_prefix_lists_everything() -> None:
    policy = _document(storage.session_policy(read_only=[Prefix(COURSES)]))
    assert policy["Statement"][0]["Condition"]["StringLike"]["s3:prefix"] == ["*"]


@pytest.mark.parametrize(
    "name",
    [
        "al*",
        "a?",
        "${aws:username}",
        "a/b",
        "",
        # Issue 10.5: names that walk out of the prefix or forge a wildcard.
        ".",
        "..",
        "../*",
        "alice bob",
        "alice\x00",
        "alice\n",
        "al∗",  # U+2217 ASTERISK OPERATOR
        "al＊",  # U+FF0A FULLWIDTH ASTERISK
        "al⁎",  # U+204E LOW ASTERISK
        ".hidden",
    ],
)
def test_names_that_would_widen_a_policy_are_refused(name: str) -> None:
    with pytest.raises(UnsafeName):
        storage.user_prefix(USERS, name)


@pytest.mark.parametrize("prefix", ["users/../", "users/./", "users//", "/users/", "users/../*/"])
def test_prefixes_that_walk_out_are_refused_whoever_builds_them(prefix: str) -> None:
    with pytest.raises(UnsafeName):
        Prefix(USERS, prefix)


@pytest.mark.parametrize("bucket", ["", "a", "Users", "users/x", "users*", "b" * 64])
def test_invalid_bucket_names_are_refused(bucket: str) -> None:
    with pytest.raises(UnsafeName):
        Prefix(bucket)


def test_a_course_is_granted_its_own_folder_of_the_courses_bucket_only() -> None:
    assert storage.course_prefix(COURSES, "info101") == Prefix(COURSES, "info101/")
    with pytest.raises(UnsafeName, match=re.escape("'info101/..' cannot name an S3 prefix")):
        storage.course_prefix(COURSES, "info101/..")


@pytest.mark.parametrize(
    ("bucket", "prefix", "told"),
    [
        ("Users", "", "invalid S3 bucket name 'Users'"),
        (USERS, "users/../", "unsafe segment '..' in S3 prefix 'users/../'"),
    ],
)
def test_the_error_of_a_refused_name_names_it_for_the_admins_log(
    bucket: str, prefix: str, told: str
) -> None:
    with pytest.raises(UnsafeName, match=f"^{re.escape(told)}$"):
        Prefix(bucket, prefix)


def test_prefix_must_end_with_a_slash() -> None:
    # "users/al" would match "users/alice/..." too.
    with pytest.raises(ValueError, match="must end with"):
        Prefix(USERS, "users/al")


def test_empty_policy_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^a session policy needs at least one prefix$"):
        storage.session_policy()


def test_oversized_policy_is_an_explained_outcome_not_an_error() -> None:
    courses = [Prefix(COURSES, f"course-{n:03d}/") for n in range(40)]
    policy = storage.session_policy(read_write=[ALICE], read_only=courses)
    assert policy == PolicyTooLong(chars=policy.chars, limit=2048, prefixes=41)  # type: ignore[union-attr]
    assert policy.chars > MAX_SESSION_POLICY_CHARS  # type: ignore[union-attr]


def test_a_policy_just_under_the_limit_is_sent_as_compact_json() -> None:
    sizes = []
    for count in range(60):
        courses = [Prefix(COURSES, f"c{n:02d}/") for n in range(count)]
        policy = storage.session_policy(read_write=[ALICE], read_only=courses)
        if isinstance(policy, PolicyTooLong):
            break
        sizes.append(len(policy.text))
    # The last policy that fits is within one course of the limit, and was sent whole.
    assert MAX_SESSION_POLICY_CHARS - 80 < sizes[-1] <= MAX_SESSION_POLICY_CHARS
    assert policy.chars > MAX_SESSION_POLICY_CHARS


def test_a_policy_of_exactly_the_limit_is_sent_one_character_more_is_too_long() -> None:
    courses = [Prefix(COURSES, f"c{n:02d}/") for n in range(25)]
    at_limit = storage.session_policy(
        read_write=[storage.user_prefix(USERS, "a" * 47)], read_only=courses
    )
    assert isinstance(at_limit, SessionPolicy)
    assert len(at_limit.text) == MAX_SESSION_POLICY_CHARS == 2048
    # Four characters more for the user's name, three fewer for the first course's.
    over = storage.session_policy(
        read_write=[storage.user_prefix(USERS, "a" * 48)],
        read_only=[Prefix(COURSES, "c0/"), *courses[1:]],
    )
    assert over == PolicyTooLong(chars=2049, limit=2048, prefixes=26)


@given(st.text(max_size=40))
def test_any_accepted_name_stays_inside_its_own_prefix(name: str) -> None:
    try:
        prefix = storage.user_prefix(USERS, name)
    except UnsafeName:
        return
    segment = prefix.prefix.removeprefix("users/").removesuffix("/")
    assert segment == name
    assert name not in {".", ".."}
    assert all(char.isascii() and char.isprintable() and char not in "*?$/ " for char in name)
