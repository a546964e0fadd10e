"""S3 down when a server starts (its endpoint a closed loopback port): the server starts
without S3 and the person reads a notice; in strict mode the start fails and says why."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes_asyncio import client

from .hub import Hub
from .s3_clients import closed_loopback_port, progress_messages, run_id, secret_files, start, stop
from .test_s3_hub import hub_config

RUN = run_id()
PORTS = (18300, 18301, 18381)
# Every start answers after a second (202), still starting, and the person waits on the
# start page: a server ready within JupyterHub's slow_spawn_timeout (10 s) would go
# straight to JupyterLab, and the start page's notice would go unchecked. Not 0 s: the
# start page would then ask for the progress before the spawner has begun to start.
ON_THE_START_PAGE = """
c.UnilimSite.default_language = 'fr'
c.JupyterHub.tornado_settings.update({"slow_spawn_timeout": 1})
"""


@pytest.fixture(scope="module")
def down_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = Hub(tmp_path_factory.mktemp("s3-down-hub"), ports=PORTS)
    endpoint = f"http://127.0.0.1:{closed_loopback_port()}"
    hub.start(hub_config(endpoint) + ON_THE_START_PAGE)
    try:
        yield hub
    finally:
        hub.stop()


async def test_server_starts_without_s3_and_the_user_reads_a_notice(
    down_hub: Hub, core_v1: client.CoreV1Api
) -> None:
    name = f"s3down{RUN}"
    down_hub.add_user(name, ["student"])
    started = start(down_hub, name)
    try:
        assert started.status_code == 202  # the person waits on the start page
        events = list(progress_messages(down_hub, name))
        assert events[-1].get("ready"), events
        messages = [event.get("message", "") for event in events]
        assert any(m.startswith("Le stockage S3 ne répond pas pour le moment") for m in messages)
        # In JupyterLab, the credentials file says the same (what a person reads whose
        # server was ready within slow_spawn_timeout, never shown the start page).
        files = await secret_files(core_v1, f"jupyter-{name}")
        assert files is not None and "aws_access_key_id" not in files["credentials"]
        assert "# Le stockage S3 ne répond pas pour le moment" in files["credentials"]
    finally:
        stop(down_hub, name)
        down_hub.wait_stopped(name)


def test_strict_mode_fails_the_start_with_a_clear_message(
    platform: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    hub = Hub(tmp_path_factory.mktemp("s3-strict-hub"), ports=(18400, 18401, 18481))
    endpoint = f"http://127.0.0.1:{closed_loopback_port()}"
    hub.start(hub_config(endpoint, strict=True))
    name = f"s3strict{RUN}"
    try:
        hub.add_user(name, ["student"])
        # The refusal comes before the pod is created: the start request itself answers it.
        refused = hub.api("POST", f"/users/{name}/server", json={"profile": "python"})
        assert refused.status_code == 503
        assert refused.json()["message"].startswith(
            "Your server cannot start: the S3 storage service does not answer"
        )
        hub.wait_stopped(name)
        assert "No S3 credentials for" in hub.log_path.read_text()
    finally:
        stop(hub, name)
        hub.stop()
