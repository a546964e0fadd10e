"""Each user server's own S3 credentials, in a Kubernetes Secret mounted as AWS client files.

At start the hub asks the S3 server for temporary credentials confined to what the user
may touch (:func:`unilim_hub.policy.s3names.server_grant`), writes them into the Secret
``<pod>-s3`` and mounts it at :data:`MOUNT_PATH` as the shared credentials and config files
that boto3, s3fs and the AWS CLI read (``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_CONFIG_FILE``).
The keys are never in the pod spec, only the files' paths are. While the server runs, the
hub writes new credentials into the Secret every ``s3_refresh_interval`` seconds; the
kubelet updates the mounted files. The Secret is owned by the pod (garbage-collected with
it) and deleted at stop.

When the S3 server does not answer at start, the server starts without credentials (or,
with ``s3_strict``, the start fails): the user reads a notice on the start page, the
Secret holds files that say why (:func:`waiting_files`), and the renewal loop writes the
keys once S3 answers. The volume is mounted ``optional``: a Secret the API server could not
take does not stop the pod.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
from datetime import UTC
from typing import Any

from kubernetes_asyncio.client import (
    V1EnvVar,
    V1ObjectMeta,
    V1Secret,
    V1SecretVolumeSource,
    V1Volume,
    V1VolumeMount,
)
from kubernetes_asyncio.client.rest import ApiException

from . import kubeapi, objectstore
from .errors import spawn_error
from .i18n import translate
from .objectstore import STSError, TemporaryCredentials
from .policy.models import LANGUAGES, S3Mode, S3Settings
from .policy.s3names import S3Grant, server_grant
from .policy.untrusted import shown

MOUNT_PATH = "/etc/unilim/s3"
VOLUME = "unilim-s3"
CREDENTIALS_FILE = "credentials"
CONFIG_FILE = "config"
EXPIRATION_FILE = "expiration"
LABEL = "unilim.fr/s3-credentials"
# A renewal that failed is tried again after this many seconds (or the interval if shorter).
RETRY_SECONDS = 60
# How long a start keeps trying to write its Secret while the API server does not answer;
# after that it starts without S3 (the renewal writes the Secret once the server is back).
SECRET_WRITE_SECONDS = 30
# Everything that means "no credentials in the Secret now": S3 or the API server failed.
UNAVAILABLE = (STSError, *kubeapi.FAILURES)


def secret_name(spawner: Any) -> str:
    return f"{spawner.pod_name}-s3"


def enabled(spawner: Any) -> bool:
    return bool(spawner.settings.storage.s3.mode is S3Mode.STS)


def client_files(s3: S3Settings, credentials: TemporaryCredentials) -> dict[str, str]:
    """The files the standard S3 clients read: keys, endpoint and region, path-style URLs."""
    return {
        CREDENTIALS_FILE: (
            "[default]\n"
            f"aws_access_key_id = {credentials.access_key}\n"
            f"aws_secret_access_key = {credentials.secret_key}\n"
            f"aws_session_token = {credentials.session_token}\n"
        ),
        CONFIG_FILE: _config_file(s3),
        EXPIRATION_FILE: credentials.expiration.astimezone(UTC).isoformat() + "\n",
    }


def waiting_files(s3: S3Settings) -> dict[str, str]:
    """The files of a server whose credentials could not be issued yet: no keys, and why.

    The start page's notice is missed by whoever's server starts within JupyterHub's
    ``slow_spawn_timeout`` (straight to JupyterLab); a client that finds no credentials
    sends its user to this file, which says why in every language.
    """
    why = "".join(f"# {translate('spawn.s3_notice', language)}\n" for language in LANGUAGES)
    return {CREDENTIALS_FILE: why, CONFIG_FILE: _config_file(s3), EXPIRATION_FILE: ""}


def _config_file(s3: S3Settings) -> str:
    # endpoint_url in the config file: botocore >= 1.31 (boto3, s3fs, AWS CLI v2).
    return (
        "[default]\n"
        f"region = {s3.region}\n"
        f"endpoint_url = {s3.endpoint}\n"
        "s3 =\n"
        "    addressing_style = path\n"
    )


def grant_for(spawner: Any) -> S3Grant:
    settings = spawner.settings
    groups = [group.name for group in spawner.user.groups]
    off = spawner.course_switches().s3_off
    return server_grant(settings.storage.s3, settings.groups, spawner.user.name, groups, off)


async def issue(spawner: Any, grant: S3Grant) -> TemporaryCredentials:
    """New credentials for ``grant`` from the S3 server's STS (blocking call off the loop)."""
    s3 = spawner.settings.storage.s3
    return await asyncio.to_thread(
        objectstore.assume_role,
        s3.endpoint,
        spawner.s3_access_key,
        spawner.s3_secret_key,
        policy=grant.policy,
        duration_seconds=s3.credentials_duration,
        # Names the session in the S3 server's logs; the segment is ASCII and short.
        session_name=f"unilim-{grant.own.prefix.split('/')[1]}"[:64],
        region=s3.region,
    )


def secret_manifest(spawner: Any, files: dict[str, str]) -> V1Secret:
    return V1Secret(
        metadata=V1ObjectMeta(
            name=secret_name(spawner),
            labels={**spawner.common_labels, LABEL: "true"},
        ),
        type="Opaque",
        data={name: base64.b64encode(text.encode()).decode() for name, text in files.items()},
    )


async def write_secret(spawner: Any, files: dict[str, str]) -> None:
    """Create the Secret, or replace its content (keeping its owner reference)."""
    body = secret_manifest(spawner, files)
    try:
        await spawner.api.create_namespaced_secret(spawner.namespace, body)
    except ApiException as error:
        if error.status != 409:
            raise
        await spawner.api.patch_namespaced_secret(
            secret_name(spawner), spawner.namespace, {"data": body.data}
        )


async def delete_secret(spawner: Any) -> None:
    try:
        await spawner.api.delete_namespaced_secret(secret_name(spawner), spawner.namespace)
    except ApiException as error:
        if error.status != 404:
            raise


def mount(pod: Any, spawner: Any, grant: S3Grant) -> Any:
    """The Secret as files in the pod (optional: a start without S3 still runs).

    The environment names the files and where the user's objects are, never a key.
    """
    pod.spec.volumes = [
        *(pod.spec.volumes or []),
        V1Volume(
            name=VOLUME,
            secret=V1SecretVolumeSource(secret_name=secret_name(spawner), optional=True),
        ),
    ]
    container = pod.spec.containers[0]
    container.volume_mounts = [
        *(container.volume_mounts or []),
        V1VolumeMount(name=VOLUME, mount_path=MOUNT_PATH, read_only=True),
    ]
    container.env = [
        *(container.env or []),
        V1EnvVar(name="AWS_SHARED_CREDENTIALS_FILE", value=f"{MOUNT_PATH}/{CREDENTIALS_FILE}"),
        V1EnvVar(name="AWS_CONFIG_FILE", value=f"{MOUNT_PATH}/{CONFIG_FILE}"),
        V1EnvVar(name="UNILIM_S3_BUCKET", value=grant.own.bucket),
        V1EnvVar(name="UNILIM_S3_PREFIX", value=grant.own.prefix),
        V1EnvVar(name="UNILIM_S3_COURSES_BUCKET", value=spawner.settings.storage.s3.courses_bucket),
    ]
    return pod


async def attach(spawner: Any, pod: Any) -> Any:
    """Issue the server's credentials into its Secret and mount it; notices for the user.

    Returns the pod. Raises the spawn error of ``s3_strict`` when S3 cannot be reached.
    """
    spawner._s3_notices = []
    spawner._s3_missing = False
    if not enabled(spawner):
        return pod
    grant = grant_for(spawner)
    if grant.left_out:
        courses = ", ".join(grant.left_out)
        _log(spawner, "log.s3_courses_left_out", courses=courses)
        _tell(spawner, "spawn.s3_courses_left_out", courses=courses)
    try:
        credentials = await issue(spawner, grant)
        files = client_files(spawner.settings.storage.s3, credentials)
        await kubeapi.retrying(
            lambda: write_secret(spawner, files), SECRET_WRITE_SECONDS, "Writing an S3 Secret"
        )
    except UNAVAILABLE as error:
        _log(spawner, "log.s3_unavailable", error=shown(str(error)))
        if spawner.settings.storage.s3.strict:
            raise spawn_error(
                "spawn.s3_unavailable", spawner.language(), reason="s3_unavailable", status=503
            ) from None
        await _say_why(spawner)
        _tell(spawner, "spawn.s3_notice")
        spawner._s3_missing = True
    return mount(pod, spawner, grant)


async def _say_why(spawner: Any) -> None:
    """Replace the keys of an earlier start (they must not stand in for ones that could
    not be issued) by the files that say why there are none."""
    try:
        await write_secret(spawner, waiting_files(spawner.settings.storage.s3))
    except kubeapi.FAILURES:
        await _forget_old(spawner)


async def _forget_old(spawner: Any) -> None:
    # If the API server does not answer, the Secret goes with its pod (its owner) anyway.
    try:
        await delete_secret(spawner)
    except kubeapi.FAILURES as error:
        spawner.log.warning("Cannot delete %s: %s", secret_name(spawner), shown(str(error)))


def _tell(spawner: Any, code: str, **params: object) -> None:
    spawner._s3_notices.append((code, params))


def _log(spawner: Any, code: str, **params: object) -> None:
    language = spawner.settings.default_language
    spawner.log.warning("%s", translate(code, language, user=shown(spawner.user.name), **params))


def notices(spawner: Any) -> list[dict[str, Any]]:
    """The start page's progress events telling the user what the S3 step could not do."""
    language = spawner.language()
    return [
        {"progress": 50, "message": translate(code, language, **params)}
        for code, params in getattr(spawner, "_s3_notices", [])
    ]


def keep_fresh(spawner: Any, *, soon: bool = False) -> None:
    """Start renewing the server's credentials, unless already doing so or S3 is off.

    ``soon``: renew within a minute rather than after a whole interval (the hub restarted
    and does not know when the credentials in the Secret expire).
    """
    task = getattr(spawner, "_s3_renewal", None)
    if not enabled(spawner) or (task is not None and not task.done()):
        return
    if soon:
        spawner._s3_missing = True
    spawner._s3_renewal = asyncio.ensure_future(_renew_forever(spawner))


async def stop(spawner: Any) -> None:
    """Stop renewing and delete the Secret (its keys stay valid until they expire)."""
    task = getattr(spawner, "_s3_renewal", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    spawner._s3_renewal = None
    if enabled(spawner):
        await _forget_old(spawner)


async def _renew_forever(spawner: Any) -> None:
    await _own_by_pod(spawner)
    interval = spawner.settings.storage.s3.refresh_interval
    retry = min(RETRY_SECONDS, interval)
    # Without credentials (S3 was down at start), or not knowing when they expire (the hub
    # restarted), renew soon rather than after an interval: at a random moment of the
    # next `retry` seconds, so that a hub restarted with 1,000 servers does not ask STS
    # for 1,000 credentials in the same second.
    issued = not getattr(spawner, "_s3_missing", False)
    await asyncio.sleep(interval if issued else random.uniform(retry / 2, retry))
    while True:
        issued = await _renew(spawner)
        await asyncio.sleep(interval if issued else retry)


async def _renew(spawner: Any) -> bool:
    try:
        credentials = await issue(spawner, grant_for(spawner))
        await write_secret(spawner, client_files(spawner.settings.storage.s3, credentials))
    except UNAVAILABLE as error:
        seconds = min(RETRY_SECONDS, spawner.settings.storage.s3.refresh_interval)
        _log(spawner, "log.s3_refresh_failed", seconds=seconds, error=shown(str(error)))
        return False
    await _own_by_pod(spawner)
    spawner.log.info("Renewed the S3 credentials of %s", shown(spawner.user.name))
    return True


async def _pod_uid(spawner: Any) -> str:
    """The server's pod's uid: from KubeSpawner's watch of the pods when it has the pod
    (no request to the API server), else read."""
    reflector = spawner.pod_reflector
    pod = reflector.pods.get(f"{spawner.namespace}/{spawner.pod_name}") if reflector else None
    if pod is not None:
        return str(pod["metadata"]["uid"])
    read = await spawner.api.read_namespaced_pod(spawner.pod_name, spawner.namespace)
    return str(read.metadata.uid)


async def _own_by_pod(spawner: Any) -> None:
    """Make the pod the Secret's owner, so that Kubernetes deletes it with the pod."""
    try:
        uid = await _pod_uid(spawner)
        owner = {"apiVersion": "v1", "kind": "Pod", "name": spawner.pod_name, "uid": uid}
        patch = {"metadata": {"ownerReferences": [owner]}}
        await spawner.api.patch_namespaced_secret(secret_name(spawner), spawner.namespace, patch)
    except kubeapi.FAILURES as error:
        # 404: no pod (stopped) or no Secret (S3 down): nothing to own.
        if not (isinstance(error, ApiException) and error.status == 404):
            spawner.log.warning(
                "Cannot set the owner of %s: %s", secret_name(spawner), shown(str(error))
            )
