"""Loopback only, for the hub side: JupyterHub, its proxy and a user's server listen on
loopback addresses and nowhere else (DESIGN.md, "Loopback only")."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from devenv import ports, procs
from tests.integration import sockets
from tests.integration.hub import HOST, Hub

USER = "lou"


@pytest.fixture
def lou_server(hub: Hub) -> Iterator[dict]:
    """lou's default server, started through the REST API and stopped at the end."""
    hub.add_user(USER, ["student"])
    hub.api("POST", f"/users/{USER}/server", json={"profile": "python"}).raise_for_status()
    try:
        yield hub.wait_ready(USER)
    finally:
        hub.api("DELETE", f"/users/{USER}/server")
        hub.wait_stopped(USER)


def singleuser_servers() -> dict[str, dict]:
    """What the pod runner serves, by pod key (namespace/name/uid): ip, port, kind, pid."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://{ports.HOST}:{ports.PODRUNNER}/", timeout=5) as answer:
        served = json.loads(answer.read())
    return {key: pod for key, pod in served.items() if pod["kind"] == "singleuser"}


def test_hub_proxy_and_user_server_listen_on_loopback_only(hub: Hub, lou_server: dict) -> None:
    assert hub.process is not None
    # JupyterHub runs in a session of its own, and starts the proxy in another one.
    proxy_pid = int((hub.workdir / "jupyterhub-proxy.pid").read_text())
    servers = singleuser_servers()
    pod_name = lou_server["state"]["pod_name"]
    lou = [pod for key, pod in servers.items() if key.split("/")[1] == pod_name]
    assert len(lou) == 1, f"the pod runner does not serve {pod_name}: {servers}"

    pids = procs.session_pids(hub.process.pid) + procs.session_pids(proxy_pid)
    pids += [pod["pid"] for pod in servers.values()]
    found = sockets.listeners_of(pids)

    # The hub's three ports and lou's server: proof that the check sees what it must.
    expected = {(HOST, port) for port in hub.ports}
    expected.add((lou[0]["ip"], lou[0]["port"]))
    assert expected <= {(str(listener.ip), listener.port) for listener in found}, found
    outside = [str(listener) for listener in sockets.outside_loopback(found)]
    assert outside == [], f"the hub side listens outside loopback: {outside}"
