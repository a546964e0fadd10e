"""Hostile usernames and course names on the real components: the API server takes every
volume they name and a pod that mounts them all, and the S3 server keeps the objects of
look-alike names apart. (The rules themselves, property-tested: tests/unit/test_volume_names.py
and tests/unit/test_s3names.py, whose fixed lists are used here.)"""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from kubernetes_asyncio import client

from devenv import s3 as seaweedfs
from devenv import storage as devenv_storage
from tests.unit.test_s3names import HOSTILE as S3_HOSTILE
from tests.unit.test_volume_names import HOSTILE as VOLUME_HOSTILE
from unilim_hub import objectstore, volumes
from unilim_hub.policy.models import GroupNaming, S3Settings, Storage
from unilim_hub.policy.s3names import server_grant
from unilim_hub.policy.volumes import (
    HOME_PATH,
    CourseVolume,
    course_claim_name,
    course_mount_path,
    home_claim_name,
)

NAMES = sorted(set(VOLUME_HOSTILE) | set(S3_HOSTILE))
USERS = seaweedfs.BUCKETS[0]
# Names a person could take for one another, and names that try to climb out of a prefix.
LOOK_ALIKES = [
    "elodie.martin",
    "Elodie.Martin",
    "ELODIE.MARTIN",
    "élodie.martin",
    "e\u0301lodie.martin",  # e + combining acute
    "elodie.martin--" + "0" * 20,  # shaped like a hashed prefix
    "../elodie.martin",
    "elodie.martin/..",
    "..",
    "*",
]


def _course(index: int, name: str) -> CourseVolume:
    # Every other course taught (read-write), the rest followed (read-only).
    return CourseVolume(name, course_claim_name(name), course_mount_path(name), index % 2 == 0)


def _pod(courses: list[CourseVolume]) -> client.V1Pod:
    """A server pod that passes Pod Security `restricted`, with every course folder."""
    container = client.V1Container(
        name="notebook",
        image="quay.io/jupyter/base-notebook:latest",
        security_context=client.V1SecurityContext(
            run_as_non_root=True,
            allow_privilege_escalation=False,
            capabilities=client.V1Capabilities(drop=["ALL"]),
            seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
        ),
        volume_mounts=[client.V1VolumeMount(name="home", mount_path=HOME_PATH)],
    )
    home = client.V1Volume(
        name="home",
        persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
            claim_name=home_claim_name(NAMES[0])
        ),
    )
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="hostile-names"),
        # No service account token mounted (as Zero to JupyterHub's user pods): the
        # mounts the API server returns are exactly the pod's own.
        spec=client.V1PodSpec(
            containers=[container], volumes=[home], automount_service_account_token=False
        ),
    )
    for course in courses:
        volumes.mount_course(pod, course)
    return pod


async def test_the_api_server_takes_the_claims_and_the_pod_of_hostile_names(
    core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    storage = Storage(course_storage_class=devenv_storage.STORAGE_CLASS)
    courses = [_course(index, name) for index, name in enumerate(NAMES)]
    for name, course in zip(NAMES, courses, strict=True):
        home = {
            "metadata": {"name": home_claim_name(name), "labels": {volumes.KIND_LABEL: "home"}},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1"}}},
        }
        await core_v1.create_namespaced_persistent_volume_claim(user_namespace, home, dry_run="All")
        claim = volumes.course_claim(course, storage)
        accepted = await core_v1.create_namespaced_persistent_volume_claim(
            user_namespace, claim, dry_run="All"
        )
        assert accepted.metadata.name == course.claim
    pod = await core_v1.create_namespaced_pod(user_namespace, _pod(courses), dry_run="All")
    mounts = {m.mount_path: bool(m.read_only) for m in pod.spec.containers[0].volume_mounts}
    assert mounts == {HOME_PATH: False} | {c.mount_path: c.read_only for c in courses}
    assert len(mounts) == len(NAMES) + 1  # one folder per name, none shared


def _client_of(name: str) -> tuple[Any, str]:
    """An S3 client with the credentials a server of ``name`` gets, and its own prefix."""
    grant = server_grant(S3Settings(), GroupNaming(), name, [])
    credentials = objectstore.assume_role(
        seaweedfs.ENDPOINT,
        seaweedfs.ADMIN_ACCESS_KEY,
        seaweedfs.ADMIN_SECRET_KEY,
        policy=grant.policy,
        duration_seconds=900,
        region=seaweedfs.REGION,
    )
    made = boto3.client(
        "s3",
        endpoint_url=seaweedfs.ENDPOINT,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.session_token,
        region_name=seaweedfs.REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, proxies={}),
    )
    return made, grant.own.prefix


def _refused_everything(one: Any, prefix: str) -> None:
    """``one`` can neither list, read, write nor delete under another's ``prefix``."""
    key = f"{prefix}probe.txt"
    with pytest.raises(ClientError):
        one.get_object(Bucket=USERS, Key=key)
    with pytest.raises(ClientError):
        one.list_objects_v2(Bucket=USERS, Prefix=prefix)
    with pytest.raises(ClientError):
        one.put_object(Bucket=USERS, Key=key, Body=b"overwritten")
    with pytest.raises(ClientError):
        one.delete_object(Bucket=USERS, Key=key)


def test_look_alike_names_write_their_own_prefix_and_cannot_touch_each_other(s3: str) -> None:
    people = {name: _client_of(name) for name in LOOK_ALIKES}
    assert len({prefix for _, prefix in people.values()}) == len(LOOK_ALIKES)
    admin = seaweedfs.admin_client()
    for name, (own, prefix) in people.items():
        own.put_object(Bucket=USERS, Key=f"{prefix}probe.txt", Body=name.encode())
        # The key is exactly the prefix and the file name: nothing was normalised away.
        stored = admin.get_object(Bucket=USERS, Key=f"{prefix}probe.txt")["Body"].read()
        assert stored == name.encode()
    for (_, (one, _)), (other, (_, prefix)) in itertools.permutations(people.items(), 2):
        _refused_everything(one, prefix)
        stored = admin.get_object(Bucket=USERS, Key=f"{prefix}probe.txt")["Body"].read()
        assert stored == other.encode()
