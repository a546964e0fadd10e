"""Quotas and the class-start rush, through a real hub on the local platform.

Light pods (the pod runner's tiny responder) keep 300 servers cheap. The hub uses its own
RBAC-limited service account, with consecutive_failure_limit = 5 as z2jh sets it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import requests
from kubernetes_asyncio import client, watch

from devenv import kube, kwok, procs
from devenv import platform as devenv_platform
from unilim_hub.cluster import CHARGED_GROUP

from .hub import (
    LIGHT_PODS,
    Hub,
    add_users,
    group_usage,
    light_pod_hub,
    outcome,
    start_at_once,
    stop_all,
)

PORTS = (18500, 18501, 18581)
BURST = 300
EXTRA_CONFIG = f"""{LIGHT_PODS}
c.KubeSpawner.start_timeout = 120
"""


@pytest.fixture(scope="module")
def quota_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with light_pod_hub(tmp_path_factory.mktemp("quota-hub"), PORTS, EXTRA_CONFIG) as hub:
        yield hub


def start_page_message(hub: Hub, name: str) -> str:
    """What the start page tells the user about their last start (its progress events)."""
    events = hub.api("GET", f"/users/{name}/server/progress").text
    return "".join(
        json.loads(line.removeprefix("data:")).get("message", "")
        for line in events.splitlines()
        if line.startswith("data:")
    )


def hub_is_up(hub: Hub) -> bool:
    time.sleep(3)  # JupyterHub exits 2 s after its failure limit is reached
    return hub.process is not None and hub.process.poll() is None and hub.api("GET", "/").ok


class LivePods:
    """Watches the group's pods at the API server and remembers the most seen at once."""

    def __init__(self, api: client.CoreV1Api, group: str) -> None:
        self.api, self.group = api, group
        self.live: set[str] = set()
        self.most = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        selector = f"{CHARGED_GROUP}={self.group}"
        while True:
            listing = await self.api.list_namespaced_pod(
                kube.USER_NAMESPACE, label_selector=selector
            )
            self.live = {p.metadata.name for p in listing.items if _holds(p)}
            self.most = max(self.most, len(self.live))
            stream = watch.Watch().stream(
                self.api.list_namespaced_pod,
                kube.USER_NAMESPACE,
                label_selector=selector,
                resource_version=listing.metadata.resource_version,
                timeout_seconds=600,
            )
            try:
                async for event in stream:
                    pod = event["object"]
                    if event["type"] == "DELETED" or not _holds(pod):
                        self.live.discard(pod.metadata.name)
                    else:
                        self.live.add(pod.metadata.name)
                    self.most = max(self.most, len(self.live))
            except Exception:  # the API server stopped: list again
                await asyncio.sleep(1)


def _holds(pod: client.V1Pod) -> bool:
    return pod.status.phase not in ("Succeeded", "Failed")


@pytest_asyncio.fixture
async def live_pods(core_v1: client.CoreV1Api) -> AsyncIterator[LivePods]:
    sampler = LivePods(core_v1, "student")
    sampler.task = asyncio.create_task(sampler.run())
    await asyncio.sleep(1)
    yield sampler
    sampler.task.cancel()


QUOTA_MESSAGE = "the group 'student' already has 100 of its 100 servers running"


async def test_class_start_of_300_never_exceeds_a_limit_of_100(quota_hub: Hub, live_pods: LivePods):
    names = [f"rush{n:03}" for n in range(BURST)]
    add_users(quota_hub, names, "student")
    quota_hub.set_properties("student", {"quota.servers": "100"})  # as an admin would
    responses = await asyncio.to_thread(start_at_once, quota_hub, names)
    refused = [r for r in responses if r.status_code == 429]
    assert all(QUOTA_MESSAGE in r.json()["message"] for r in refused), refused[0].text
    # The hub answers 202 to a start it could not finish in 10 s (it is busy): the refusal
    # then ends that start, and the user reads it on the start page.
    started = [n for n, r in zip(names, responses, strict=True) if r.status_code in (201, 202)]
    assert len(started) + len(refused) == BURST, {r.status_code for r in responses}
    outcomes = await asyncio.to_thread(lambda: [outcome(quota_hub, name, 150) for name in started])
    assert outcomes.count("ready") == 100, outcomes
    ended = [name for name, o in zip(started, outcomes, strict=True) if o != "ready"]
    assert all(QUOTA_MESSAGE in start_page_message(quota_hub, name) for name in ended)
    assert live_pods.most == 100
    assert await asyncio.to_thread(hub_is_up, quota_hub), quota_hub.log_tail()
    print(f"limit 100: {len(refused)} refused at once, {len(ended)} refused after 202")
    # The picker of a student who was refused shows the room left to the group.
    waiting = next(name for name in names if name in ended or name not in started)
    page = quota_hub.login(waiting).get(f"{quota_hub.url}/hub/spawn", timeout=30).text
    assert "student: 100 / 100 servers running" in page


async def test_class_start_of_300_within_the_limits_all_become_ready(
    quota_hub: Hub, live_pods: LivePods
):
    await asyncio.to_thread(stop_all, quota_hub)
    names = [f"rush{n:03}" for n in range(BURST)]
    add_users(quota_hub, names, "student")
    quota_hub.set_properties("student", {})  # the baseline: 900 servers
    began = time.monotonic()
    responses = await asyncio.to_thread(start_at_once, quota_hub, names)
    assert {r.status_code for r in responses} <= {201, 202}, [r.text for r in responses][:3]
    outcomes = await asyncio.to_thread(lambda: [outcome(quota_hub, n, 150) for n in names])
    elapsed = time.monotonic() - began
    assert outcomes.count("ready") == BURST, {o: outcomes.count(o) for o in set(outcomes)}
    assert await asyncio.to_thread(hub_is_up, quota_hub), quota_hub.log_tail()
    print(f"{BURST} servers ready {elapsed:.1f} s after the first request")
    await asyncio.to_thread(stop_all, quota_hub)


def start(hub: Hub, name: str) -> requests.Response:
    return hub.api("POST", f"/users/{name}/server", json={"profile": "python"})


def test_an_admin_changes_a_quota_and_the_next_start_honours_it(quota_hub: Hub):
    add_users(quota_hub, ["adele"], "staff")
    quota_hub.set_properties("staff", {"quota.servers": "0"})
    refused = start(quota_hub, "adele")
    assert refused.status_code == 429
    assert "the group 'staff' already has 0 of its 0 servers" in refused.json()["message"]
    # A junk value is reported in the hub log and the baseline (100 servers) applies.
    quota_hub.set_properties("staff", {"quota.servers": "lots"})
    assert start(quota_hub, "adele").status_code in (201, 202)
    assert outcome(quota_hub, "adele", 60) == "ready"
    assert "Group staff: quota.servers: 'lots' is not a whole number" in quota_hub.log_tail(500)
    quota_hub.api("DELETE", "/users/adele/server")
    quota_hub.wait_stopped("adele")


def lists(resource: str, scope: str) -> float:
    """How many LISTs of ``resource`` (pods, events) the API server has answered, in a
    namespace or the whole cluster, from any client (its /metrics)."""
    labels = f'resource="{resource}",scope="{scope}",subresource="",verb="LIST"'
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in kube.kubectl("get", "--raw", "/metrics").splitlines()
        if line.startswith("apiserver_request_total{") and labels in line
    )


def test_the_hub_watches_pods_once_and_lists_pods_and_events_once_a_minute(quota_hub: Hub):
    """Each list decodes every pod or event of the namespace (or cluster): at KubeSpawner's
    10 s per watch, three watches listed again were an eighth of the hub's CPU in a class
    start. One watch of pods serves KubeSpawner and the quotas, each lists once a minute."""
    add_users(quota_hub, ["jules"], "faculty")
    assert start(quota_hub, "jules").status_code in (201, 202)
    assert outcome(quota_hub, "jules", 60) == "ready"  # KubeSpawner's watches are on
    scopes = [("pods", "namespace"), ("pods", "cluster"), ("events", "namespace")]
    before = {scope: lists(*scope) for scope in scopes}
    time.sleep(25)  # KubeSpawner's own watches would list two or three times each
    listed = {scope: lists(*scope) - before[scope] for scope in scopes}
    # No pod list in the namespace: KubeSpawner's own pod watch (the view watches the
    # cluster). At most one list of the cluster's pods and of the events (the platform's
    # controllers list once at their start, not again).
    assert listed == {
        ("pods", "namespace"): 0,
        ("pods", "cluster"): pytest.approx(0.5, abs=0.5),
        ("events", "namespace"): pytest.approx(0.5, abs=0.5),
    }
    quota_hub.api("DELETE", "/users/jules/server")
    quota_hub.wait_stopped("jules")


async def group_pods(core_v1: client.CoreV1Api, group: str) -> set[str]:
    listing = await core_v1.list_namespaced_pod(
        kube.USER_NAMESPACE, label_selector=f"{CHARGED_GROUP}={group}"
    )
    return {p.metadata.name for p in listing.items if _holds(p)}


async def test_a_hub_restart_counts_running_servers_and_a_start_in_flight_once(
    quota_hub: Hub, core_v1: client.CoreV1Api
):
    names = ["fanny", "gael", "hugo", "ines"]
    add_users(quota_hub, names, "faculty")
    quota_hub.set_properties("faculty", {"quota.servers": "2"})
    for name in names[:2]:
        assert start(quota_hub, name).status_code in (201, 202)
        assert await asyncio.to_thread(outcome, quota_hub, name, 60) == "ready"
    before = start(quota_hub, "hugo").json()["message"]
    assert "the group 'faculty' already has 2 of its 2 servers" in before
    # hugo's start is in flight when the hub stops (reserved, its pod being created or
    # not yet running: the moment varies, the outcome must not).
    quota_hub.set_properties("faculty", {"quota.servers": "3"})
    in_flight = asyncio.create_task(asyncio.to_thread(start, quota_hub, "hugo"))
    await asyncio.sleep(0.5)
    await asyncio.to_thread(quota_hub.stop)
    await asyncio.gather(in_flight, return_exceptions=True)
    await asyncio.to_thread(quota_hub.start, EXTRA_CONFIG)
    # hugo's server survived the restart, or starts again and replaces its pod.
    if await asyncio.to_thread(outcome, quota_hub, "hugo", 30) != "ready":
        assert start(quota_hub, "hugo").status_code in (201, 202), quota_hub.log_tail()
        assert await asyncio.to_thread(outcome, quota_hub, "hugo", 90) == "ready"
    after = start(quota_hub, "ines")
    assert after.status_code == 429, after.text
    assert "the group 'faculty' already has 3 of its 3 servers" in after.json()["message"]
    assert await group_pods(core_v1, "faculty") == {"jupyter-fanny", "jupyter-gael", "jupyter-hugo"}
    # The usage metric follows the servers, not the group's last start request.
    assert group_usage(quota_hub, "faculty") == 3
    quota_hub.api("DELETE", "/users/fanny/server")
    await asyncio.to_thread(quota_hub.wait_stopped, "fanny")
    deadline = time.monotonic() + 30
    while group_usage(quota_hub, "faculty") != 2 and time.monotonic() < deadline:
        await asyncio.sleep(1)
    assert group_usage(quota_hub, "faculty") == 2
    # And after a restart, before any start: the hub's first polls start its watch.
    await asyncio.to_thread(quota_hub.stop)
    await asyncio.to_thread(quota_hub.start, EXTRA_CONFIG)
    deadline = time.monotonic() + 30
    while group_usage(quota_hub, "faculty") is None and time.monotonic() < deadline:
        await asyncio.sleep(1)
    assert group_usage(quota_hub, "faculty") == 2


def set_pod_slots(slots: dict[str, int]) -> None:
    for node, count in slots.items():
        patch = {"status": {"capacity": {"pods": str(count)}, "allocatable": {"pods": str(count)}}}
        kwok.kubectl(
            "patch", "node", node, "--subresource=status", "--type=merge", "-p", json.dumps(patch)
        )


async def test_a_full_cluster_refuses_a_start_at_once_and_leaves_no_pending_pod(
    quota_hub: Hub, core_v1: client.CoreV1Api
):
    add_users(quota_hub, ["jade"], "student")
    pods = await core_v1.list_pod_for_all_namespaces()
    used = {node: 0 for node in kwok.NODES}
    for pod in pods.items:
        if pod.spec.node_name in used and _holds(pod):
            used[pod.spec.node_name] += 1
    try:
        set_pod_slots(used)  # every node's pod slots taken
        await asyncio.sleep(2)  # the hub's watch sees the nodes change
        began = time.monotonic()
        response = start(quota_hub, "jade")
        assert time.monotonic() - began < 5
    finally:
        set_pod_slots({node: int(kwok.max_pods()) for node in kwok.NODES})
    assert response.status_code == 429, response.text
    assert response.json()["message"].startswith(
        "Your server cannot start now: the cluster is full"
    )
    assert not quota_hub.api("GET", "/users/jade").json()["servers"]
    names = {
        p.metadata.name for p in (await core_v1.list_namespaced_pod(kube.USER_NAMESPACE)).items
    }
    assert "jupyter-jade" not in names


def stop_api_server_for(seconds: float) -> None:
    procs.stop("kube-apiserver")
    try:
        time.sleep(seconds)
    finally:
        devenv_platform.up(["kube-apiserver"])


async def test_starts_during_an_api_server_outage_wait_or_fail_cleanly(
    quota_hub: Hub, core_v1: client.CoreV1Api
):
    names = [f"outage{n:02}" for n in range(30)]
    add_users(quota_hub, names, "staff")
    add_users(quota_hub, names, "course-outage")
    # Charged to the course: their highest-priority group with a quota.
    quota_hub.set_properties("course-outage", {"quota.servers": "20", "quota.priority": "50"})
    burst = asyncio.create_task(asyncio.to_thread(start_at_once, quota_hub, names))
    await asyncio.sleep(1)
    await asyncio.to_thread(stop_api_server_for, 20)
    responses = await burst
    admitted = [n for n, r in zip(names, responses, strict=True) if r.status_code in (201, 202)]
    refused = [r for r in responses if r.status_code == 429]
    assert len(admitted) + len(refused) == len(names), [r.text for r in responses][:3]
    assert len(admitted) <= 20
    outcomes = await asyncio.to_thread(lambda: [outcome(quota_hub, n, 150) for n in admitted])
    assert "timeout" not in outcomes
    assert await asyncio.to_thread(hub_is_up, quota_hub), quota_hub.log_tail()
    ready = {f"jupyter-{n}" for n, o in zip(admitted, outcomes, strict=True) if o == "ready"}
    assert await group_pods(core_v1, "course-outage") == ready  # nothing counted twice
    print(f"outage: {len(ready)} ready, {len(admitted) - len(ready)} failed cleanly")
