"""The local Kubernetes platform: real scheduler, PSA, rooms of KWOK nodes, pod runner."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from devenv import kube, kwok, procs
from devenv import platform as devenv_platform
from tests.integration import sockets

ZONE = "topology.kubernetes.io/zone"


async def eventually(
    probe: Callable[[], Awaitable[Any]], timeout: float = 30, interval: float = 0.25
) -> Any:
    """Await `probe` until it returns something truthy; fail with its last value."""
    deadline, value = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met after {timeout} s (last value: {value!r})")


def pod_manifest(name: str, room: str | None = None, **extra: Any) -> dict[str, Any]:
    """A pod that PSA `restricted` accepts, served by the pod runner's echo server."""
    spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "echo",
                "image": "registry.invalid/echo:1",
                "ports": [{"containerPort": 8080}],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                    "runAsUser": 1000,
                },
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            }
        ],
        "terminationGracePeriodSeconds": 1,
    }
    if room:
        term = {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [room]}]}
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    spec.update(extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"unilim.fr/podrunner": "http-echo"}},
        "spec": spec,
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def read_pod(core_v1: client.CoreV1Api, ns: str, name: str) -> client.V1Pod:
    return await core_v1.read_namespaced_pod(name, ns)


async def running(core_v1: client.CoreV1Api, ns: str, name: str) -> client.V1Pod | None:
    pod = await read_pod(core_v1, ns, name)
    return pod if pod.status.phase == "Running" and pod.status.pod_ip else None


def http_get_json(url: str) -> dict[str, Any] | None:
    """GET a loopback URL without any proxy; None when nothing answers."""
    host = urllib.parse.urlsplit(url).hostname or ""
    assert ipaddress.ip_address(host).is_loopback, url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


@pytest.fixture
async def pods(core_v1: client.CoreV1Api, user_namespace: str):
    """Create pods through this fixture; they are deleted after the test."""
    created: list[str] = []

    async def create(manifest: dict[str, Any]) -> str:
        await core_v1.create_namespaced_pod(user_namespace, manifest)
        created.append(manifest["metadata"]["name"])
        return manifest["metadata"]["name"]

    yield create
    for name in created:
        try:
            await core_v1.delete_namespaced_pod(name, user_namespace, grace_period_seconds=0)
        except ApiException as error:
            if error.status != 404:
                raise


async def test_pod_in_salle_b_is_scheduled_and_served(core_v1, user_namespace, pods):
    name = await pods(pod_manifest(unique("echo-b"), room="salle-b"))

    pod = await eventually(lambda: running(core_v1, user_namespace, name), timeout=60)

    assert pod.spec.node_name in kwok.ROOMS["salle-b"]
    scheduled = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    assert scheduled and scheduled[0].status == "True"
    events = await core_v1.list_namespaced_event(
        user_namespace, field_selector=f"involvedObject.name={name}"
    )
    assert any(e.reason == "Scheduled" for e in events.items), "no event from kube-scheduler"
    ip = ipaddress.ip_address(pod.status.pod_ip)
    assert ip.is_loopback and ip in ipaddress.ip_network("127.10.0.0/16")

    url = f"http://{ip}:8080/hello"
    answer = await eventually(lambda: asyncio.to_thread(http_get_json, url), timeout=30)
    assert answer["pod"] == name and answer["ip"] == str(ip) and answer["path"] == "/hello"
    runner = procs.pid("podrunner")
    stat = Path(f"/proc/{answer['pid']}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[1]) == runner, "the answer must come from a process the pod runner started"

    await core_v1.delete_namespaced_pod(name, user_namespace, grace_period_seconds=0)
    await eventually(lambda: asyncio.to_thread(lambda: http_get_json(url) is None), timeout=30)


async def test_light_mode_answers_without_a_server(core_v1, user_namespace, pods):
    manifest = pod_manifest(unique("light"))
    manifest["metadata"]["labels"]["unilim.fr/podrunner"] = "light"
    name = await pods(manifest)
    pod = await eventually(lambda: running(core_v1, user_namespace, name), timeout=60)

    url = f"http://{pod.status.pod_ip}:8080/user/someone/api"
    answer = await eventually(lambda: asyncio.to_thread(http_get_json, url), timeout=30)

    assert answer == {"version": "2.0.0", "pod": name}


async def test_privileged_pod_is_rejected_by_pod_security(core_v1, user_namespace, pods):
    manifest = pod_manifest(unique("privileged"))
    manifest["spec"]["containers"][0]["securityContext"] = {"privileged": True}

    with pytest.raises(ApiException) as raised:
        await pods(manifest)

    assert raised.value.status == 403
    body = json.loads(raised.value.body)
    assert 'violates PodSecurity "restricted:latest"' in body["message"]
    assert "privileged" in body["message"]


async def answers(pod: client.V1Pod) -> bool:
    url = f"http://{pod.status.pod_ip}:8080/"
    return await asyncio.to_thread(lambda: http_get_json(url) is not None)


async def silent(pod: client.V1Pod) -> bool:
    return not await answers(pod)


@pytest.mark.parametrize("mode", kwok.DOWN_MODES)
async def test_room_down_then_up(core_v1, user_namespace, pods, mode):
    resident_name = await pods(pod_manifest(unique(f"resident-{mode}"), room="salle-b"))
    resident = await eventually(lambda: running(core_v1, user_namespace, resident_name))
    await eventually(lambda: answers(resident))

    await asyncio.to_thread(kwok.room_down, "salle-b", mode)
    try:
        pinned = await pods(pod_manifest(unique(f"pinned-{mode}"), room="salle-b"))
        free = await pods(pod_manifest(unique(f"free-{mode}")))

        pod = await eventually(lambda: running(core_v1, user_namespace, free), timeout=60)
        assert pod.spec.node_name in kwok.ROOMS["salle-a"]
        await asyncio.sleep(3)  # give the scheduler every chance to misplace it
        waiting = await read_pod(core_v1, user_namespace, pinned)
        assert waiting.status.phase == "Pending" and not waiting.spec.node_name
        reasons = [c.reason for c in waiting.status.conditions or [] if c.type == "PodScheduled"]
        assert reasons == ["Unschedulable"]
        # A cordoned room keeps serving; a room that is gone does not.
        if mode == "unschedulable":
            assert await answers(resident)
        else:
            await eventually(lambda: silent(resident), timeout=15)
    finally:
        await asyncio.to_thread(kwok.room_up, "salle-b")

    pod = await eventually(lambda: running(core_v1, user_namespace, pinned), timeout=60)
    assert pod.spec.node_name in kwok.ROOMS["salle-b"]
    if mode == "notready":
        await eventually(lambda: answers(resident), timeout=15)


async def test_no_devenv_process_listens_outside_loopback(platform, core_v1, user_namespace, pods):
    # An echo pod too, so that pod-runner children are part of the check.
    name = await pods(pod_manifest(unique("listen-check")))
    pod = await eventually(lambda: running(core_v1, user_namespace, name), timeout=60)
    await eventually(
        lambda: asyncio.to_thread(http_get_json, f"http://{pod.status.pod_ip}:8080/"), timeout=30
    )
    leaders = {p for part in devenv_platform.components() if (p := part.pid())}
    assert {"kube-apiserver", "etcd", "kwok", "podrunner"} <= {
        part.name for part in devenv_platform.components() if part.pid()
    }
    pids = {p for leader in leaders for p in procs.session_pids(leader)}
    found = sockets.listeners_of(pids)

    assert found, "found no listening socket at all: the check is broken"
    outside = [str(listener) for listener in sockets.outside_loopback(found)]
    assert outside == [], f"devenv processes listen outside loopback: {outside}"


async def test_hub_identity_is_limited_by_rbac(platform, user_namespace):
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(kube.HUB_KUBECONFIG), client_configuration=configuration
    )
    async with client.ApiClient(configuration) as api:
        hub = client.CoreV1Api(api)
        await hub.list_namespaced_pod(user_namespace)
        nodes = await hub.list_node()
        assert {n.metadata.name for n in nodes.items} >= set(kwok.NODES)
        # Pods are readable everywhere (free pod slots count every pod on a node), and
        # that is all: no secret outside its namespace, no change to anything there.
        await hub.list_pod_for_all_namespaces(limit=1)
        with pytest.raises(ApiException) as raised:
            await hub.list_namespaced_secret("kube-system")
        assert raised.value.status == 403
        with pytest.raises(ApiException) as raised:
            await hub.delete_collection_namespaced_pod("kube-system")
        assert raised.value.status == 403
        with pytest.raises(ApiException) as raised:
            await hub.delete_node("salle-a-1")
        assert raised.value.status == 403
        # Placement reads the volume a home claim is bound to, one by name, no more.
        with pytest.raises(ApiException) as raised:
            await hub.read_persistent_volume("no-such-volume")
        assert raised.value.status == 404
        with pytest.raises(ApiException) as raised:
            await hub.list_persistent_volume()
        assert raised.value.status == 403


def test_hub_token_is_verified_and_reissued(platform, tmp_path, monkeypatch):
    # A kubeconfig of our own: the shared one stays as the hubs of other sessions read it.
    monkeypatch.setattr(kube, "HUB_KUBECONFIG", tmp_path / "hub-kubeconfig")
    namespace = devenv_platform.UserNamespace()
    assert not namespace.healthy(), "no token at all"

    kube.ensure_hub_identity()
    assert namespace.healthy()

    config = json.loads(kube.HUB_KUBECONFIG.read_text())
    head, claims, signature = config["users"][0]["user"]["token"].split(".")
    config["users"][0]["user"]["token"] = f"{head}.{claims}.{signature[::-1]}"
    kube.HUB_KUBECONFIG.write_text(json.dumps(config))
    assert not namespace.healthy(), "a token the API server refuses (401)"

    monkeypatch.setattr(kube, "HUB_TOKEN_HOURS", 1)
    kube.ensure_hub_identity()
    assert not namespace.healthy(), "a token that expires within the day"
