"""The pod runner's Secret volumes follow the Secret, as a kubelet's do."""

from __future__ import annotations

import base64
import contextlib
import uuid

import pytest
from kubernetes_asyncio import client

from devenv import kube, secretvolumes


def _pod(secret: str) -> client.V1Pod:
    name = f"secret-volume-{uuid.uuid4().hex[:6]}"
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, namespace=kube.USER_NAMESPACE),
        spec=client.V1PodSpec(
            volumes=[
                client.V1Volume(
                    name="creds",
                    secret=client.V1SecretVolumeSource(secret_name=secret, optional=True),
                )
            ],
            containers=[
                client.V1Container(
                    name="notebook",
                    volume_mounts=[client.V1VolumeMount(name="creds", mount_path="/etc/creds")],
                )
            ],
        ),
    )


def _data(**files: str) -> dict[str, str]:
    return {key: base64.b64encode(text.encode()).decode() for key, text in files.items()}


@pytest.fixture
async def secret(core_v1: client.CoreV1Api):
    name = f"secret-volume-{uuid.uuid4().hex[:6]}"
    yield name
    with contextlib.suppress(client.ApiException):
        await core_v1.delete_namespaced_secret(name, kube.USER_NAMESPACE)


async def test_a_running_server_sees_the_secret_change(core_v1, secret) -> None:
    pod = _pod(secret)
    [mount] = secretvolumes.secret_mounts(pod)
    env = secretvolumes.local_env({"AWS_CONFIG_FILE": "/etc/creds/config", "HOME": "/h"}, [mount])
    assert env == {"AWS_CONFIG_FILE": f"{mount.folder}/config", "HOME": "/h"}
    try:
        # Optional and not created yet: an empty folder, as the kubelet mounts it.
        await secretvolumes.sync(core_v1, kube.USER_NAMESPACE, mount)
        assert list(mount.folder.iterdir()) == []

        body = client.V1Secret(metadata=client.V1ObjectMeta(name=secret), data=_data(config="one"))
        await core_v1.create_namespaced_secret(kube.USER_NAMESPACE, body)
        await secretvolumes.sync(core_v1, kube.USER_NAMESPACE, mount)
        assert (mount.folder / "config").read_text() == "one"

        await core_v1.patch_namespaced_secret(
            secret, kube.USER_NAMESPACE, {"data": _data(config="two")}
        )
        await secretvolumes.sync(core_v1, kube.USER_NAMESPACE, mount)
        assert (mount.folder / "config").read_text() == "two"

        await core_v1.delete_namespaced_secret(secret, kube.USER_NAMESPACE)
        await secretvolumes.sync(core_v1, kube.USER_NAMESPACE, mount)
        assert list(mount.folder.iterdir()) == []
    finally:
        secretvolumes.forget(pod.metadata.name)
