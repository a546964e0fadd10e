"""A server's S3 credentials: the Secret, the mounted files, S3 down at start, the settings."""

from __future__ import annotations

import asyncio
import base64
import configparser
import json
import logging
import socket
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import V1Container, V1ObjectMeta, V1Pod, V1PodSpec
from kubernetes_asyncio.client.rest import ApiException
from tornado import web
from traitlets.config import Config

from unilim_hub import configuration, s3access
from unilim_hub.objectstore import STSError, TemporaryCredentials
from unilim_hub.policy.models import GroupNaming, S3Mode, S3Settings, Settings, Storage
from unilim_hub.policy.properties import CourseSwitches

CREDENTIALS = TemporaryCredentials(
    "AKIA-TEST", "secret-of-test", "token-of-test", datetime(2030, 1, 1, tzinfo=UTC)
)


def closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: nothing listens


class FakeSecrets:
    """The few CoreV1Api calls on Secrets, kept in a dict."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.patches: list[Any] = []

    async def create_namespaced_secret(self, namespace: str, body: Any) -> None:
        if body.metadata.name in self.secrets:
            raise ApiException(status=409)
        self.secrets[body.metadata.name] = dict(body.data)

    async def patch_namespaced_secret(self, name: str, namespace: str, patch: Any) -> None:
        if name not in self.secrets:
            raise ApiException(status=404)
        self.patches.append(patch)
        self.secrets[name].update(patch.get("data", {}))

    async def delete_namespaced_secret(self, name: str, namespace: str) -> None:
        if self.secrets.pop(name, None) is None:
            raise ApiException(status=404)

    async def read_namespaced_pod(self, name: str, namespace: str) -> Any:
        raise ApiException(status=404)


def spawner(
    endpoint: str,
    *,
    strict: bool = False,
    groups: tuple[str, ...] = (),
    s3_off: frozenset[str] = frozenset(),
) -> Any:
    s3 = S3Settings(mode=S3Mode.STS, endpoint=endpoint, strict=strict)
    settings = Settings(GroupNaming(), (), {}, (), replace(Storage(), s3=s3), default_language="en")
    return SimpleNamespace(
        settings=settings,
        user=SimpleNamespace(name="chloe", groups=[SimpleNamespace(name=g) for g in groups]),
        pod_name="jupyter-chloe",
        namespace="jupyterhub",
        pod_reflector=None,
        common_labels={"app": "jupyterhub"},
        api=FakeSecrets(),
        log=logging.getLogger("test-s3access"),
        s3_access_key="unilim-hub-admin",
        s3_secret_key="hub-admin-secret-value",
        language=lambda: "fr",
        course_switches=lambda: CourseSwitches(s3_off=s3_off),
    )


def pod() -> V1Pod:
    return V1Pod(
        metadata=V1ObjectMeta(name="jupyter-chloe"),
        spec=V1PodSpec(containers=[V1Container(name="notebook", env=[])]),
    )


def test_client_files_hold_keys_endpoint_and_region_as_boto3_reads_them() -> None:
    s3 = S3Settings(mode=S3Mode.STS, endpoint="https://s3.example.org")
    files = s3access.client_files(s3, CREDENTIALS)
    credentials, config = configparser.ConfigParser(), configparser.ConfigParser()
    credentials.read_string(files["credentials"])
    config.read_string(files["config"])
    assert dict(credentials["default"]) == {
        "aws_access_key_id": "AKIA-TEST",
        "aws_secret_access_key": "secret-of-test",
        "aws_session_token": "token-of-test",
    }
    assert config["default"]["endpoint_url"] == "https://s3.example.org"
    assert config["default"]["region"] == "us-east-1"
    assert "addressing_style = path" in config["default"]["s3"]


async def test_credentials_reach_the_pod_as_files_never_in_its_spec(monkeypatch) -> None:
    server = spawner("http://127.0.0.1:1")

    async def issued(spawner: Any, grant: Any) -> TemporaryCredentials:
        return CREDENTIALS

    monkeypatch.setattr(s3access, "issue", issued)
    manifest = await s3access.attach(server, pod())
    stored = server.api.secrets["jupyter-chloe-s3"]
    assert "secret-of-test" in base64.b64decode(stored["credentials"]).decode()
    spec = str(manifest.to_dict())
    assert "secret-of-test" not in spec and "token-of-test" not in spec
    env = {var.name: var.value for var in manifest.spec.containers[0].env}
    assert env == {
        "AWS_SHARED_CREDENTIALS_FILE": "/etc/unilim/s3/credentials",
        "AWS_CONFIG_FILE": "/etc/unilim/s3/config",
        "UNILIM_S3_BUCKET": "unilim-users",
        "UNILIM_S3_PREFIX": "users/chloe/",
        "UNILIM_S3_COURSES_BUCKET": "unilim-courses",
    }
    assert manifest.spec.volumes[0].secret.secret_name == "jupyter-chloe-s3"
    assert manifest.spec.containers[0].volume_mounts[0].read_only is True
    assert s3access.notices(server) == []


async def test_s3_down_at_start_starts_without_s3_and_tells_the_user(caplog) -> None:
    server = spawner(f"http://127.0.0.1:{closed_loopback_port()}")
    server.api.secrets["jupyter-chloe-s3"] = {"credentials": "b2xk"}  # from an earlier start
    manifest = await s3access.attach(server, pod())
    # Old credentials are not passed off as new ones; the file a client reads says why.
    files = {
        k: base64.b64decode(v).decode() for k, v in server.api.secrets["jupyter-chloe-s3"].items()
    }
    assert "aws_access_key_id" not in files["credentials"]
    assert "# Le stockage S3 ne répond pas pour le moment" in files["credentials"]
    assert "# S3 storage does not answer at the moment" in files["credentials"]
    assert "endpoint_url = http://127.0.0.1:" in files["config"]
    assert manifest.spec.volumes[0].secret.optional is True
    [notice] = s3access.notices(server)
    assert notice["message"].startswith("Le stockage S3 ne répond pas pour le moment")
    assert "No S3 credentials for chloe's server" in caplog.text
    assert "hub-admin-secret-value" not in caplog.text


async def test_strict_mode_fails_the_start_with_a_clear_message() -> None:
    server = spawner(f"http://127.0.0.1:{closed_loopback_port()}", strict=True)
    with pytest.raises(web.HTTPError) as refused:
        await s3access.attach(server, pod())
    message = str(getattr(refused.value, "jupyterhub_message", refused.value))
    assert "le service de stockage S3 ne répond pas" in message
    assert refused.value.status_code == 503


async def test_too_many_courses_are_left_out_with_a_notice(monkeypatch) -> None:
    courses = tuple(f"course-c{n:03d}" for n in range(60))
    server = spawner("http://127.0.0.1:1", groups=courses)

    async def issued(spawner: Any, grant: Any) -> TemporaryCredentials:
        return CREDENTIALS

    monkeypatch.setattr(s3access, "issue", issued)
    await s3access.attach(server, pod())
    [notice] = s3access.notices(server)
    assert "ne peut pas couvrir tous vos cours" in notice["message"]
    assert "c059" in notice["message"]


def test_course_whose_s3_data_is_switched_off_is_not_in_the_credentials() -> None:
    server = spawner(
        "http://127.0.0.1:1",
        groups=("course-info101", "course-math201"),
        s3_off=frozenset({"info101"}),
    )
    grant = s3access.grant_for(server)
    assert grant.followed == ("math201",) and grant.left_out == ()
    assert "info101" not in json.dumps(grant.policy.document)


async def test_stop_deletes_the_secret() -> None:
    server = spawner("http://127.0.0.1:1")
    server.api.secrets["jupyter-chloe-s3"] = {}
    await s3access.stop(server)
    assert server.api.secrets == {}


def s3_problems(**traits: object) -> dict[str, str]:
    config = Config({"UnilimSpawner": {"s3_mode": "sts", "s3_endpoint": "http://s3", **traits}})
    _, problems = configuration.check(config)
    return {problem.key: problem.code for problem in problems}


@pytest.mark.parametrize(
    ("traits", "key"),
    [
        ({"s3_credentials_duration": 899}, "UnilimSpawner.s3_credentials_duration"),
        ({"s3_credentials_duration": 43201}, "UnilimSpawner.s3_credentials_duration"),
        (
            {"s3_credentials_duration": 900, "s3_refresh_interval": 451},
            "UnilimSpawner.s3_refresh_interval",
        ),
        ({"s3_refresh_interval": -5}, "UnilimSpawner.s3_refresh_interval"),
    ],
)
def test_credential_lifetimes_outside_what_sts_accepts_are_named(traits, key) -> None:
    assert s3_problems(**traits) == {key: "value.between"}


def test_refresh_interval_defaults_to_half_the_duration() -> None:
    config = Config({"UnilimSpawner": {"s3_credentials_duration": 900}})
    settings, problems = configuration.check(config)
    assert problems == () and settings is not None
    assert settings.storage.s3.refresh_interval == 450


async def test_running_server_gets_new_credentials_every_interval(monkeypatch, caplog) -> None:
    server = spawner("http://127.0.0.1:1")
    s3 = replace(server.settings.storage.s3, refresh_interval=1)
    server.settings = replace(server.settings, storage=replace(server.settings.storage, s3=s3))
    issued = iter(
        [
            CREDENTIALS,
            STSError("STS endpoint unreachable"),  # one failed renewal: logged, tried again
            replace(CREDENTIALS, secret_key="second-secret"),
        ]
    )

    async def issue(spawner: Any, grant: Any) -> TemporaryCredentials:
        answer = next(issued)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(s3access, "issue", issue)
    await s3access.attach(server, pod())
    s3access.keep_fresh(server)
    for _ in range(50):
        stored = base64.b64decode(server.api.secrets["jupyter-chloe-s3"]["credentials"]).decode()
        if "second-secret" in stored:
            break
        await asyncio.sleep(0.1)
    assert "second-secret" in stored
    assert "Cannot renew the S3 credentials of chloe's server" in caplog.text
    await s3access.stop(server)
    assert server.api.secrets == {}


class SilentApiServer(FakeSecrets):
    """An API server that does not answer (restarting): every Secret call fails to connect."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def _refused(self, *args: Any) -> None:
        self.calls += 1
        raise aiohttp.ClientConnectionError("Cannot connect to host 127.0.0.1:1")

    create_namespaced_secret = patch_namespaced_secret = delete_namespaced_secret = _refused
    read_namespaced_pod = _refused


async def test_api_server_down_at_start_starts_without_s3_not_a_500(monkeypatch, caplog) -> None:
    server = spawner("http://127.0.0.1:1")
    server.api = SilentApiServer()

    async def issued(spawner: Any, grant: Any) -> TemporaryCredentials:
        return CREDENTIALS

    monkeypatch.setattr(s3access, "issue", issued)
    monkeypatch.setattr(s3access, "SECRET_WRITE_SECONDS", 1.5)
    manifest = await s3access.attach(server, pod())
    assert server.api.calls > 2  # retried while the API server was silent
    assert manifest.spec.volumes[0].secret.optional is True
    [notice] = s3access.notices(server)
    assert notice["message"].startswith("Le stockage S3 ne répond pas pour le moment")
    assert "secret-of-test" not in caplog.text
    await s3access.stop(server)  # stopping while the API server is silent does not raise


async def test_renewal_outlives_an_api_server_outage(monkeypatch) -> None:
    server = spawner("http://127.0.0.1:1")
    s3 = replace(server.settings.storage.s3, refresh_interval=1)
    server.settings = replace(server.settings, storage=replace(server.settings.storage, s3=s3))
    monkeypatch.setattr(s3access, "issue", lambda *_: asyncio.sleep(0, CREDENTIALS))
    api = server.api = SilentApiServer()
    s3access.keep_fresh(server)
    await asyncio.sleep(2.5)  # two renewals meet the silent API server
    assert api.calls >= 2 and not server._s3_renewal.done()
    server.api = FakeSecrets()  # it answers again: the next renewal writes the Secret
    for _ in range(30):
        if "jupyter-chloe-s3" in server.api.secrets:
            break
        await asyncio.sleep(0.1)
    assert "jupyter-chloe-s3" in server.api.secrets
    await s3access.stop(server)


async def test_the_secret_is_owned_by_the_pod_kubespawner_watches_without_reading_it() -> None:
    made = spawner("https://s3.example.org")
    made.api.secrets[s3access.secret_name(made)] = {}
    made.pod_reflector = SimpleNamespace(
        pods={"jupyterhub/jupyter-chloe": {"metadata": {"name": "jupyter-chloe", "uid": "u-1"}}}
    )
    await s3access._own_by_pod(made)  # the fake API answers 404 to any read of a pod
    owner = {"apiVersion": "v1", "kind": "Pod", "name": "jupyter-chloe", "uid": "u-1"}
    assert made.api.patches == [{"metadata": {"ownerReferences": [owner]}}]
