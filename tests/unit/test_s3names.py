"""S3 prefixes of people and courses: safe for any name, distinct for distinct names
(the S3 server's own check: tests/integration/test_hostile_names.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.policy.models import GroupNaming, S3Settings
from unilim_hub.policy.s3names import course_data, s3_segment, server_grant, user_prefix
from unilim_hub.policy.storage import (
    MAX_SESSION_POLICY_CHARS,
    PolicyTooLong,
    Prefix,
    session_policy,
)

S3 = S3Settings()
NAMING = GroupNaming()

HOSTILE = [
    "",
    ".",
    "..",
    "../bob",
    "..%2f",
    "a/../../b",
    "/",
    "alice/",
    "alice*",
    "*",
    "?",
    "${aws:username}",
    "al∗ice",  # U+2217
    "al＊",  # U+FF0A
    "Alice",
    "ALICE",
    "alice.",
    ".alice",
    "a..b",
    "a--b",
    "alice-",
    "élodie",
    "Élodie.Martin",
    "李雷",
    "user@unilim.fr",
    "a b",
    "a\nb",
    "a\x00b",
    "a\\b",
    "\u202eevil",
    "x" * 64,
    "x" * 500,
    "course-info101",
    "info101",
    "stat202",
    "e\u0301",  # e + combining acute: not the same name as U+00E9
    "\u00e9",
    "\udcff",  # a lone surrogate
]


def _accepted_by_the_policy(segment: str) -> Prefix:
    return Prefix(S3.users_bucket, f"users/{segment}/")  # raises UnsafeName otherwise


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_become_one_safe_segment(name: str) -> None:
    segment = s3_segment(name)
    _accepted_by_the_policy(segment)
    assert "/" not in segment and ".." not in segment and "*" not in segment
    assert segment.isascii() and segment == segment.lower()
    assert 1 <= len(segment) <= 63
    assert not segment.startswith(".") and not segment.endswith(".")


def test_hostile_names_give_distinct_segments() -> None:
    assert len({s3_segment(name) for name in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("name", ["alice", "jean-pierre", "m.dupont", "info101", "a_b", "x" * 63])
def test_plain_names_are_their_own_prefix(name: str) -> None:
    assert s3_segment(name) == name


@pytest.mark.parametrize("name", ["Alice", "a--b", "élodie", "x" * 64, "a..b", "a."])
def test_other_names_are_hashed_after_a_readable_stem(name: str) -> None:
    stem, _, digest = s3_segment(name).partition("--")
    assert len(digest) == 20 and stem


@given(st.text(max_size=300))
def test_any_name_gives_a_segment_the_policy_accepts(name: str) -> None:
    segment = s3_segment(name)
    prefix = _accepted_by_the_policy(segment)
    assert prefix.prefix.count("/") == 2  # users/<segment>/: never a level more or less
    assert ".." not in segment and len(segment) <= 63


@given(st.text(max_size=80), st.text(max_size=80))
def test_distinct_names_give_distinct_segments(first: str, second: str) -> None:
    if first != second:
        assert s3_segment(first) != s3_segment(second)


@given(st.from_regex(r"[a-z0-9][a-z0-9.-]{0,10}", fullmatch=True))
def test_plain_looking_names_never_collide_with_hashed_ones(name: str) -> None:
    # A hashed segment always holds "--"; a plain one never does.
    assert ("--" in s3_segment(name)) == (s3_segment(name) != name)


def test_prefixes_of_existing_users_and_courses_never_change() -> None:
    # A person's objects stay under the prefix they were written to: a release that named
    # it otherwise would show them an empty folder. These are the segments handed out.
    assert s3_segment("Élodie.Martin") == "elodie.martin--5e4f189236763fbce79b"
    assert s3_segment("jean.-Pierre") == "jean-pierre--71abd79e6b39b7289a06"
    assert s3_segment("-.Bob._") == "bob--e9b65bb3b2b4084d9c3d"
    assert s3_segment("a..b") == "a.b--f62b42414c514fa689d3"
    assert s3_segment("..") == "x--5ec1f7e700f37c3d0b29"
    assert s3_segment("\udcff") == "x--8f1d0f9c88065271ef88"
    assert s3_segment("X" * 64) == "x" * 40 + "--be4d3ed1fc5f5cfa0073"


@pytest.mark.parametrize("name", ["Alice", "a--b", "..", "", "x" * 64, "jean.-Pierre"])
def test_a_hashed_segment_typed_as_a_name_gets_a_prefix_of_its_own(name: str) -> None:
    # Someone named like another person's hashed segment never reads that person's objects.
    segment = s3_segment(name)
    assert s3_segment(segment) != segment


def test_user_and_course_prefixes_live_in_their_buckets() -> None:
    assert user_prefix(S3, "alice") == Prefix("unilim-users", "users/alice/")
    assert course_data(S3, "info101") == Prefix("unilim-courses", "info101/")


def _grants(policy_text: str) -> tuple[set[str], set[str]]:
    statements = json.loads(policy_text)["Statement"]
    reads = {r for s in statements if "s3:GetObject" in s["Action"] for r in s["Resource"]}
    writes = {r for s in statements if "s3:PutObject" in s["Action"] for r in s["Resource"]}
    return reads, writes


def test_student_reads_their_courses_and_writes_only_their_own_prefix() -> None:
    grant = server_grant(S3, NAMING, "chloe", ["student", "course-info101", "course-stat202"])
    reads, writes = _grants(grant.policy.text)
    assert writes == {"arn:aws:s3:::unilim-users/users/chloe/*"}
    assert reads == writes | {
        "arn:aws:s3:::unilim-courses/info101/*",
        "arn:aws:s3:::unilim-courses/stat202/*",
    }
    assert grant.followed == ("info101", "stat202") and grant.taught == ()


def test_teacher_writes_the_courses_they_teach() -> None:
    groups = ["faculty", "teacher-stat202", "course-stat202", "course-info101"]
    grant = server_grant(S3, NAMING, "tina", groups)
    _, writes = _grants(grant.policy.text)
    assert "arn:aws:s3:::unilim-courses/stat202/*" in writes
    assert "arn:aws:s3:::unilim-courses/info101/*" not in writes
    assert grant.taught == ("stat202",) and grant.followed == ("info101",)


def test_courses_whose_s3_data_is_switched_off_are_not_granted() -> None:
    groups = ["teacher-stat202", "course-info101", "course-bio303"]
    grant = server_grant(S3, NAMING, "tina", groups, switched_off={"stat202", "info101"})
    reads, writes = _grants(grant.policy.text)
    assert not any("stat202" in arn or "info101" in arn for arn in reads | writes)
    assert (grant.taught, grant.followed, grant.left_out) == ((), ("bio303",), ())


def test_too_many_courses_leave_the_last_followed_ones_out_and_say_so() -> None:
    groups = [f"course-c{n:03d}" for n in range(60)] + ["teacher-zz-taught"]
    grant = server_grant(S3, NAMING, "tina", groups)
    assert len(grant.policy.text) <= MAX_SESSION_POLICY_CHARS
    assert grant.taught == ("zz-taught",)  # taught courses are kept first
    assert grant.left_out and grant.left_out[-1] == "c059"
    assert set(grant.followed) | set(grant.left_out) == {f"c{n:03d}" for n in range(60)}


@pytest.mark.parametrize(
    ("taught", "followed"),
    [(40, 5), (10, 40), (1, 0), (0, 1), (2, 3)],
)
def test_each_course_is_either_granted_as_told_or_said_left_out(taught: int, followed: int) -> None:
    # What the grant says (shown to the person) is exactly what the credentials allow:
    # taught courses written, followed ones read, the others named as left out.
    groups = [f"teacher-t{n:03d}" for n in range(taught)]
    groups += [f"course-f{n:03d}" for n in range(followed)]
    grant = server_grant(S3, NAMING, "tina", groups)
    reads, writes = _grants(grant.policy.text)
    own = {"arn:aws:s3:::unilim-users/users/tina/*"}
    assert writes == own | {f"arn:aws:s3:::unilim-courses/{c}/*" for c in grant.taught}
    assert reads == writes | {f"arn:aws:s3:::unilim-courses/{c}/*" for c in grant.followed}
    every = [f"t{n:03d}" for n in range(taught)] + [f"f{n:03d}" for n in range(followed)]
    assert [*grant.taught, *grant.followed, *grant.left_out] == every
    # Followed courses are left out before any taught one.
    assert not grant.followed or len(grant.taught) == taught
    # No course is left out that would have fitted: one more is too long.
    if grant.left_out:
        next_one = grant.left_out[0]
        taught_more = [*grant.taught, *([next_one] if next_one.startswith("t") else [])]
        followed_more = [*grant.followed, *([next_one] if next_one.startswith("f") else [])]
        longer = session_policy(
            read_write=[grant.own, *(course_data(S3, c) for c in taught_more)],
            read_only=[course_data(S3, c) for c in followed_more],
        )
        assert isinstance(longer, PolicyTooLong)


def test_the_configured_users_bucket_is_the_one_granted() -> None:
    grant = server_grant(S3Settings(users_bucket="site-home"), NAMING, "alice", [])
    policy = json.loads(grant.policy.text)
    assert policy["Statement"][0]["Resource"] == ["arn:aws:s3:::site-home"]


def test_a_very_long_username_still_gets_its_prefix() -> None:
    grant = server_grant(S3, NAMING, "é" * 10_000, [])
    assert grant.own.prefix.startswith("users/e") and grant.left_out == ()
