"""Session policies and STS answers, without a server (the real one: tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from unilim_hub import objectstore
from unilim_hub.objectstore import Prefix

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def test_user_policy_confines_listing_and_objects_to_the_users_prefix() -> None:
    policy = objectstore.user_session_policy(
        "alice", courses=[Prefix("unilim-courses", "info101/")]
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


def test_read_only_policy_has_no_write_statement() -> None:
    policy = objectstore.session_policy(read_only=[Prefix("unilim-courses", "stat202/")])
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject"}


def test_whole_bucket_prefix_lists_everything() -> None:
    policy = objectstore.session_policy(read_only=[Prefix("unilim-courses")])
    assert policy["Statement"][0]["Condition"]["StringLike"]["s3:prefix"] == ["*"]


@pytest.mark.parametrize("name", ["al*", "a?", "${aws:username}", "a/b", ""])
def test_names_that_would_widen_a_policy_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        objectstore.user_prefix(name)


def test_prefix_must_end_with_a_slash() -> None:
    # "users/al" would match "users/alice/..." too.
    with pytest.raises(ValueError, match="must end with"):
        Prefix("unilim-users", "users/al")


def test_empty_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        objectstore.session_policy()


def test_oversized_policy_is_refused_before_any_request() -> None:
    courses = [Prefix("unilim-courses", f"course-{n:03d}/") for n in range(40)]
    policy = objectstore.user_session_policy("alice", courses=courses)
    assert len(json.dumps(policy)) > objectstore.MAX_SESSION_POLICY_CHARS
    with pytest.raises(ValueError, match="limit"):
        objectstore.assume_role(
            "http://127.0.0.1:9", "k", "s", session_policy=policy, duration_seconds=900
        )


def test_credentials_are_parsed_from_the_sts_answer() -> None:
    answer = f"""<AssumeRoleResponse xmlns="{STS_NS}"><AssumeRoleResult><Credentials>
      <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sec</SecretAccessKey>
      <SessionToken>tok</SessionToken><Expiration>2026-01-02T03:04:05Z</Expiration>
    </Credentials></AssumeRoleResult></AssumeRoleResponse>"""
    credentials = objectstore._parse_credentials(answer)
    assert credentials == objectstore.TemporaryCredentials(
        "ASIAX", "sec", "tok", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )


def test_sts_errors_carry_code_status_and_message() -> None:
    answer = f"""<ErrorResponse xmlns="{STS_NS}"><Error><Type>Sender</Type>
      <Code>AccessDenied</Code><Message>not for you</Message></Error></ErrorResponse>"""
    error = objectstore._error_from(403, answer)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "not for you" in str(error)
    assert objectstore._error_from(502, "<html>bad gateway").status == 502


def test_unreachable_endpoint_is_an_sts_error() -> None:
    with pytest.raises(objectstore.STSError, match="unreachable"):
        objectstore.assume_role(
            "http://127.0.0.1:9",
            "k",
            "s",
            session_policy=objectstore.user_session_policy("alice"),
            duration_seconds=900,
            timeout=2,
        )
