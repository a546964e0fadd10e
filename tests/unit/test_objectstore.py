"""STS answers, without a server (the real one: tests/integration)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from unilim_hub import objectstore
from unilim_hub.policy.models import GroupNaming, S3Settings
from unilim_hub.policy.s3names import server_grant

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


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
            policy=server_grant(S3Settings(), GroupNaming(), "alice", []).policy,
            duration_seconds=900,
            timeout=2,
        )
