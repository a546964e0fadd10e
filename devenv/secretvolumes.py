"""Secret volumes for the pod runner's servers, kept up to date as a kubelet keeps them.

A pod that mounts a Secret at ``/etc/unilim/s3`` gets, on this machine, the folder
``STATE/podrunner/secrets/<pod>/<volume>`` with one file per key, and every environment
value that names a path under the mount path is rewritten to that folder (the server runs
as a local process, not in a container). While the server runs, the folder follows the
Secret: a changed key is rewritten (atomically, by a rename, as the kubelet swaps its
symlink), a deleted Secret empties it; an ``optional`` Secret that does not exist yet is an
empty folder, filled once it is created.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from devenv import paths

log = logging.getLogger("podrunner.secrets")
# How often a running server's Secret volumes are read again (the kubelet's sync is ~1 min).
SYNC_SECONDS = 2.0


@dataclass(frozen=True)
class SecretMount:
    secret: str
    mount_path: str  # in the pod
    folder: Path  # on this machine


def secret_mounts(pod: client.V1Pod) -> list[SecretMount]:
    """The first container's mounts of Secret volumes."""
    secrets = {
        volume.name: volume.secret.secret_name
        for volume in pod.spec.volumes or []
        if volume.secret is not None
    }
    root = paths.state_dir("podrunner") / "secrets" / pod.metadata.name
    return [
        SecretMount(secrets[mount.name], mount.mount_path.rstrip("/"), root / mount.name)
        for mount in pod.spec.containers[0].volume_mounts or []
        if mount.name in secrets
    ]


def local_env(env: dict[str, str], mounts: list[SecretMount]) -> dict[str, str]:
    """``env`` with paths under a Secret's mount path pointing at its local folder."""
    result = dict(env)
    for name, value in env.items():
        for mount in mounts:
            if value == mount.mount_path or value.startswith(mount.mount_path + "/"):
                result[name] = str(mount.folder) + value[len(mount.mount_path) :]
    return result


async def sync(api: client.CoreV1Api, namespace: str, mount: SecretMount) -> None:
    """Make the folder hold the Secret's current keys (none if the Secret does not exist)."""
    try:
        secret = await api.read_namespaced_secret(mount.secret, namespace)
        data = {key: base64.b64decode(value) for key, value in (secret.data or {}).items()}
    except ApiException as error:
        if error.status != 404:
            raise
        data = {}
    mount.folder.mkdir(parents=True, exist_ok=True)
    for key, content in data.items():
        target = mount.folder / key
        if not target.exists() or target.read_bytes() != content:
            staged = mount.folder / f".{key}.new"
            staged.write_bytes(content)
            staged.replace(target)
    for stale in mount.folder.iterdir():
        if stale.name not in data:
            stale.unlink()


async def keep_synced(api: client.CoreV1Api, namespace: str, mounts: list[SecretMount]) -> None:
    """Follow the Secrets until cancelled (the server stopped)."""
    while True:
        await asyncio.sleep(SYNC_SECONDS)
        for mount in mounts:
            try:
                await sync(api, namespace, mount)
            except (ApiException, OSError) as error:
                log.warning("cannot sync secret %s: %s", mount.secret, error)


def forget(pod_name: str) -> None:
    shutil.rmtree(paths.state_dir("podrunner") / "secrets" / pod_name, ignore_errors=True)
