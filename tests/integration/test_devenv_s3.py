"""The devenv's SeaweedFS enforces per-user S3 access through STS session policies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devenv import ports, procs
from devenv import s3 as seaweedfs
from tests.integration import sockets
from unilim_hub import objectstore
from unilim_hub.objectstore import STSError, TemporaryCredentials
from unilim_hub.policy import storage
from unilim_hub.policy.models import GroupNaming, S3Settings
from unilim_hub.policy.s3names import server_grant
from unilim_hub.policy.storage import Prefix, SessionPolicy

USERS = seaweedfs.BUCKETS[0]
COURSES = seaweedfs.BUCKETS[1]
INFO101 = Prefix(COURSES, "info101/")


def _client(access_key: str, secret_key: str, token: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=seaweedfs.ENDPOINT,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        region_name=seaweedfs.REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, proxies={}),
    )


def _server_policy(username: str, groups: list[str] | None = None) -> SessionPolicy:
    """The policy of a server of ``username``, as the hub grants it."""
    return server_grant(S3Settings(), GroupNaming(), username, groups or []).policy


def _session(policy: SessionPolicy | storage.PolicyTooLong, name: str) -> TemporaryCredentials:
    assert isinstance(policy, SessionPolicy)
    return objectstore.assume_role(
        seaweedfs.ENDPOINT,
        seaweedfs.ADMIN_ACCESS_KEY,
        seaweedfs.ADMIN_SECRET_KEY,
        policy=policy,
        duration_seconds=900,
        session_name=name,
    )


def _as(credentials: TemporaryCredentials) -> Any:
    return _client(credentials.access_key, credentials.secret_key, credentials.session_token)


def _denied(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def run_id(s3: str) -> Iterator[str]:
    """Unique user names per run: objects of earlier runs stay in the devenv's S3."""
    suffix = uuid.uuid4().hex[:8]
    admin = seaweedfs.admin_client()
    admin.put_object(Bucket=COURSES, Key="info101/tp1.ipynb", Body=b"{}")
    yield suffix


@pytest.fixture(scope="module")
def alice(run_id: str) -> Any:
    policy = _server_policy(f"alice-{run_id}", ["course-info101"])
    return _as(_session(policy, f"alice-{run_id}"))


@pytest.fixture(scope="module")
def bob(run_id: str) -> Any:
    client = _as(_session(_server_policy(f"bob-{run_id}"), f"bob-{run_id}"))
    client.put_object(Bucket=USERS, Key=f"users/bob-{run_id}/notes.txt", Body=b"bob's")
    return client


def test_own_prefix_is_readable_writable_listable(alice: Any, run_id: str) -> None:
    key = f"users/alice-{run_id}/hello.txt"
    alice.put_object(Bucket=USERS, Key=key, Body=b"hello")
    assert alice.get_object(Bucket=USERS, Key=key)["Body"].read() == b"hello"
    listing = alice.list_objects_v2(Bucket=USERS, Prefix=f"users/alice-{run_id}/")
    assert [o["Key"] for o in listing["Contents"]] == [key]
    alice.delete_object(Bucket=USERS, Key=key)


def test_another_users_prefix_is_out_of_reach(alice: Any, bob: Any, run_id: str) -> None:
    theirs = f"users/bob-{run_id}/"
    assert _denied(lambda: alice.get_object(Bucket=USERS, Key=theirs + "notes.txt"))
    assert _denied(lambda: alice.put_object(Bucket=USERS, Key=theirs + "x", Body=b"x"))
    assert _denied(lambda: alice.delete_object(Bucket=USERS, Key=theirs + "notes.txt"))
    assert _denied(lambda: alice.list_objects_v2(Bucket=USERS, Prefix=theirs))
    # Listing the parent would reveal every user's files.
    assert _denied(lambda: alice.list_objects_v2(Bucket=USERS, Prefix="users/"))
    assert _denied(lambda: alice.list_objects_v2(Bucket=USERS))
    assert bob.get_object(Bucket=USERS, Key=theirs + "notes.txt")["Body"].read() == b"bob's"


def test_course_prefix_is_read_only(alice: Any, run_id: str) -> None:
    assert alice.get_object(Bucket=COURSES, Key="info101/tp1.ipynb")["Body"].read() == b"{}"
    assert alice.list_objects_v2(Bucket=COURSES, Prefix="info101/")["KeyCount"] >= 1
    assert _denied(lambda: alice.put_object(Bucket=COURSES, Key="info101/x", Body=b"x"))
    assert _denied(lambda: alice.delete_object(Bucket=COURSES, Key="info101/tp1.ipynb"))
    assert _denied(lambda: alice.list_objects_v2(Bucket=COURSES, Prefix="stat202/"))


def test_read_only_session_cannot_write(run_id: str) -> None:
    reader = _as(_session(storage.session_policy(read_only=[INFO101]), f"ro-{run_id}"))
    assert reader.get_object(Bucket=COURSES, Key="info101/tp1.ipynb")["Body"].read() == b"{}"
    assert _denied(lambda: reader.put_object(Bucket=COURSES, Key="info101/y", Body=b"y"))
    assert _denied(lambda: reader.put_object(Bucket=USERS, Key=f"users/ro-{run_id}/y", Body=b"y"))
    assert _denied(lambda: reader.create_bucket(Bucket=f"ro-{run_id}"))


def test_unknown_or_forged_keys_are_refused(s3: str, run_id: str) -> None:
    stranger = _client("nobody", "nothing")
    assert _denied(lambda: stranger.list_objects_v2(Bucket=USERS)) == "InvalidAccessKeyId"
    assert _denied(lambda: stranger.put_object(Bucket=USERS, Key="users/x/y", Body=b"y"))
    wrong_secret = _client(seaweedfs.ADMIN_ACCESS_KEY, "not-the-secret")
    assert _denied(lambda: wrong_secret.list_objects_v2(Bucket=USERS))
    with pytest.raises(STSError) as refused:
        objectstore.assume_role(
            s3,
            "nobody",
            "nothing",
            policy=_server_policy("nobody"),
            duration_seconds=900,
        )
    assert refused.value.status == 403
    assert refused.value.code == "InvalidAccessKeyId"


def test_tampered_session_token_is_refused(run_id: str) -> None:
    real = _session(_server_policy(f"carl-{run_id}"), f"carl-{run_id}")
    # Grant ourselves bob's prefix by reusing the keys with another session's token.
    other = _session(storage.session_policy(read_write=[Prefix(USERS)]), f"x-{run_id}")
    forged = _client(real.access_key, real.secret_key, other.session_token)
    assert _denied(lambda: forged.list_objects_v2(Bucket=USERS, Prefix="users/"))


def test_sts_answer_carries_an_expiry(run_id: str) -> None:
    credentials = _session(_server_policy(f"dan-{run_id}"), f"dan-{run_id}")
    assert credentials.expiration.tzinfo is not None
    assert credentials.session_token


# --- loopback only: every socket the IdP and the S3 server listen on -------------------


@pytest.mark.parametrize(
    ("component", "port"), [("s3", ports.SEAWEEDFS_S3), ("keycloak", ports.KEYCLOAK)]
)
def test_every_listener_is_on_loopback(
    request: pytest.FixtureRequest, component: str, port: int
) -> None:
    request.getfixturevalue(component)
    leader = procs.pid(component)
    assert leader is not None, f"{component} is not running"
    found = sockets.listeners_of(procs.session_pids(leader))
    assert any(listener.port == port for listener in found), f"{component}: {found}"
    outside = [str(listener) for listener in sockets.outside_loopback(found)]
    assert outside == [], f"{component} listens outside loopback: {outside}"
