"""Fixtures shared by the integration and browser tests: the local platform, once per session,
and a real JupyterHub on it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from kubernetes_asyncio import client, config

from devenv import keycloak as idp
from devenv import kube, paths
from devenv import platform as devenv_platform
from devenv import postgres as database_server
from devenv import s3 as seaweedfs
from tests.integration.hub import SSO_REFRESH_AGE, Hub

# Proxy settings of the machine would route even loopback requests (requests, aiohttp and the
# hubs the tests start all honour them) through another host: the tests never use a proxy.
for _variable in (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
):
    os.environ.pop(_variable, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.0/8,localhost"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/unit/" not in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def platform() -> Iterator[list[str]]:
    """Bring the devenv up once; at the end stop only what this session started.

    Yields the names of the components this session started (empty when a
    developer's `python -m devenv up` was already running everything).
    """
    started: list[str] = []
    try:
        devenv_platform.up(started=started)
        yield started
    finally:
        devenv_platform.down(started)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube_api(platform: list[str]) -> AsyncIterator[client.ApiClient]:
    """A kubernetes_asyncio ApiClient authenticated as the devenv's admin."""
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(paths.KUBECONFIG), client_configuration=configuration
    )
    async with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture(scope="session")
def core_v1(kube_api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api)


@pytest.fixture(scope="session")
def user_namespace(platform: list[str]) -> str:
    return kube.USER_NAMESPACE


def _only(name: str, value: str) -> Iterator[str]:
    """Start one devenv component if needed; stop it at the end only if this session did."""
    started: list[str] = []  # filled as parts start, so a half-started one is stopped too
    try:
        devenv_platform.up([name], started)
        yield value
    finally:
        devenv_platform.down(started)


@pytest.fixture(scope="session")
def keycloak() -> Iterator[str]:
    """Keycloak with the `unilim` realm imported; yields the realm's issuer URL."""
    yield from _only(idp.Keycloak.name, idp.ISSUER)


@pytest.fixture(scope="session")
def s3() -> Iterator[str]:
    """SeaweedFS with the hub's admin identity and its buckets; yields the S3 endpoint."""
    yield from _only(seaweedfs.SeaweedFS.name, seaweedfs.ENDPOINT)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """PostgreSQL, where the hubs keep their databases; yields its host:port."""
    yield from _only(database_server.PostgreSQL.name, database_server.ADDRESS)


@pytest.fixture(scope="session")
def hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A real JupyterHub with UnilimSpawner on the devenv, policy from config/unilim.yaml."""
    running = Hub(tmp_path_factory.mktemp("hub"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def sso_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A real JupyterHub where people log in through the devenv's Keycloak (UnilimAuthenticator).

    On its own ports, so that it runs beside the `hub` fixture's hub.
    """
    running = Hub(tmp_path_factory.mktemp("sso-hub"), "sso", refresh_age=SSO_REFRESH_AGE)
    try:
        running.start()
        yield running
    finally:
        running.stop()
