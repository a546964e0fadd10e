"""The two server rooms, through a real hub, the real kube-scheduler and KWOK's rooms.

The tests run in order, as one story: a class spreads over both rooms; salle-b goes down
(its servers are lost, new starts go to salle-a); it comes back (new starts rebalance);
the hub restarts while salle-b is down again; then salle-b is in maintenance while a
student's home volume is bound to it. Light pods keep the servers cheap.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from kubernetes_asyncio import client

from devenv import kube, kwok
from unilim_hub.cluster import ROOM

from .hub import (
    LIGHT_PODS,
    Hub,
    active_servers,
    add_users,
    light_pod_hub,
    outcome,
    start_at_once,
    stop_all,
)

PORTS = (18600, 18601, 18681)
EXTRA_CONFIG = f"""{LIGHT_PODS}
# JupyterHub's check of running servers (30 s by default). Shorter, and 100 lost servers
# are found within a second or two: as many proxy route deletions at once, more than the
# proxy answers in time on a loaded test machine (JupyterHub then keeps the server).
c.Spawner.poll_interval = 10
c.UnilimSpawner.lost_node_grace = 2
"""
# Homes on volumes (the claim of KubeSpawner's pvc_name_template) that may be bound to a
# room; then salle-b in maintenance.
HOMES_CONFIG = """
c.KubeSpawner.pvc_name_template = "claim-{username}"
home = {"claimName": "claim-{username}"}
c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": home}]
c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
"""
MAINTENANCE_CONFIG = """
zone = "topology.kubernetes.io/zone"
c.UnilimSpawner.rooms = [
    {"name": "salle-a", "display_name": {"fr": "Salle A", "en": "Room A"},
     "node_selector": {zone: "salle-a"}},
    {"name": "salle-b", "display_name": {"fr": "Salle B", "en": "Room B"},
     "node_selector": {zone: "salle-b"}, "maintenance": True},
]
"""


@pytest.fixture(scope="module")
def rooms_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with light_pod_hub(tmp_path_factory.mktemp("rooms-hub"), PORTS, EXTRA_CONFIG) as hub:
        try:
            yield hub
        finally:  # before the servers stop: the servers of a room down cannot end
            for room in kwok.ROOMS:
                kwok.room_up(room)


async def rooms_of(core_v1: client.CoreV1Api) -> dict[str, str]:
    """Each user pod's room, from the node the scheduler bound it to ('' if none yet)."""
    pods = await core_v1.list_namespaced_pod(kube.USER_NAMESPACE, label_selector=ROOM)
    return {
        pod.metadata.name.removeprefix("jupyter-"): (
            kwok.room_of(pod.spec.node_name) if pod.spec.node_name else ""
        )
        for pod in pods.items
        if pod.metadata.deletion_timestamp is None
    }


def start_all(hub: Hub, names: list[str]) -> list[str]:
    responses = start_at_once(hub, names)
    assert {r.status_code for r in responses} <= {201, 202}, [r.text for r in responses][:3]
    return [outcome(hub, name, 150) for name in names]


async def start_class(hub: Hub, core_v1: client.CoreV1Api, prefix: str, size: int) -> set[str]:
    """``size`` new students start at once; all become ready. The rooms they landed in."""
    names = [f"{prefix}{n:02}" for n in range(size)]
    add_users(hub, names, "student")
    outcomes = await asyncio.to_thread(start_all, hub, names)
    assert outcomes.count("ready") == size, Counter(outcomes)
    rooms = await rooms_of(core_v1)
    return {rooms[name] for name in names}


def metric(hub: Hub, name: str, room: str) -> float:
    headers = {"Authorization": f"token {hub.token}"}
    text = requests.get(f"{hub.url}/hub/metrics", headers=headers, timeout=30).text
    found = re.search(rf'^{name}\{{room="{room}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_a_class_start_of_200_spreads_evenly_over_the_two_rooms(
    rooms_hub: Hub, core_v1: client.CoreV1Api
):
    names = [f"spread{n:03}" for n in range(200)]
    add_users(rooms_hub, names, "student")
    outcomes = await asyncio.to_thread(start_all, rooms_hub, names)
    assert outcomes.count("ready") == 200, Counter(outcomes)
    rooms = await rooms_of(core_v1)
    count = Counter(rooms[name] for name in names)
    assert abs(count["salle-a"] - count["salle-b"]) <= 20, count  # within ±10 %
    print(f"200 starts at once: {dict(count)}")
    labels = await core_v1.list_namespaced_pod(kube.USER_NAMESPACE, label_selector=ROOM)
    # The scheduler makes the final binding; it keeps to the preferred room but for a few
    # pods, when the rooms are even and its other scores (spread, balance) tip it over.
    moved = [
        p.metadata.name
        for p in labels.items
        if kwok.room_of(p.spec.node_name) != p.metadata.labels[ROOM]
    ]
    assert len(moved) <= 10, moved
    assert metric(rooms_hub, "unilim_room_open", "salle-b") == 1


async def test_with_salle_b_down_its_servers_are_lost_and_new_starts_go_to_salle_a(
    rooms_hub: Hub, core_v1: client.CoreV1Api
):
    before = await rooms_of(core_v1)
    in_b = sorted(name for name, room in before.items() if room == "salle-b")
    in_a = sorted(name for name, room in before.items() if room == "salle-a")
    kwok.room_down("salle-b")
    began = time.monotonic()
    assert await start_class(rooms_hub, core_v1, "failover", 50) == {"salle-a"}
    names = [f"failover{n:02}" for n in range(50)]
    # salle-b's servers are stopped by the hub (poll), their users told nothing is running.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and set(in_b) & set(active_servers(rooms_hub)):
        await asyncio.sleep(1)
    assert set(active_servers(rooms_hub)) == set(in_a) | set(names)
    print(
        f"{len(in_b)} servers of salle-b lost, all stopped {time.monotonic() - began:.0f} s later"
    )
    log = rooms_hub.log_path.read_text()
    assert all(f"The server of {name} is lost: its node salle-b-" in log for name in in_b)
    assert metric(rooms_hub, "unilim_room_lost_servers_total", "salle-b") == len(in_b)
    # None of the class's pods waits for a node; the lost servers' pods are gone.
    pods = (await core_v1.list_namespaced_pod(kube.USER_NAMESPACE)).items
    ours = {f"jupyter-{name}" for name in names}
    assert [
        p.metadata.name for p in pods if p.metadata.name in ours and p.status.phase != "Running"
    ] == []
    gone = {f"jupyter-{name}" for name in in_b}
    assert not {p.metadata.name for p in pods if p.metadata.deletion_timestamp is None} & gone
    # A user of the lost room starts again at once, in salle-a.
    again = in_b[0]
    assert (await asyncio.to_thread(start_all, rooms_hub, [again])) == ["ready"]
    assert (await rooms_of(core_v1))[again] == "salle-a"


async def test_when_salle_b_is_back_new_starts_rebalance(rooms_hub: Hub, core_v1: client.CoreV1Api):
    kwok.room_up("salle-b")
    await asyncio.sleep(2)  # the hub's node watch sees it
    # salle-a holds about 150 servers, salle-b none: all of them go to salle-b.
    assert await start_class(rooms_hub, core_v1, "back", 20) == {"salle-b"}


async def test_a_hub_restarted_during_a_room_loss_keeps_the_others_and_reports_the_lost(
    rooms_hub: Hub, core_v1: client.CoreV1Api
):
    before = await rooms_of(core_v1)
    lost = sorted(name for name, room in before.items() if room == "salle-b")
    kept = sorted(name for name, room in before.items() if room == "salle-a")
    assert lost and kept
    try:
        await asyncio.to_thread(rooms_hub.stop)
        kwok.room_down("salle-b")
        await asyncio.sleep(3)  # longer than lost_node_grace
        # With a room down, the open room takes one server more than it has kept.
        degraded = f"c.UnilimSpawner.degraded_server_limit = {len(kept) + 1}\n"
        await asyncio.to_thread(rooms_hub.start, EXTRA_CONFIG + degraded)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and set(lost) & set(active_servers(rooms_hub)):
            await asyncio.sleep(1)
        assert set(active_servers(rooms_hub)) == set(kept)
        # JupyterHub checks the servers it knew in the background after 10 s
        # (init_spawners_timeout): each is ready again once checked.
        for name in kept:
            await asyncio.to_thread(rooms_hub.wait_ready, name, 120)
        log = rooms_hub.log_path.read_text()
        assert all(f"The server of {name} is lost" in log for name in lost)
        again = lost[0]
        assert (await asyncio.to_thread(start_all, rooms_hub, [again])) == ["ready"]
        assert (await rooms_of(core_v1))[again] == "salle-a"
        refused = rooms_hub.api("POST", f"/users/{lost[1]}/server", json={"profile": "python"})
        assert refused.status_code == 429, refused.text
        assert (
            f"a server room is down, and the rooms still running already hold {len(kept) + 1} "
            f"of the {len(kept) + 1} servers they can take"
        ) in refused.json()["message"]
    finally:
        kwok.room_up("salle-b")


def bind_home(name: str, room: str) -> None:
    """A home volume of ``name`` on a block device of ``room`` (a local volume), bound."""
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"home-{name}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "local": {"path": f"/srv/homes/{name}"},
            "claimRef": {"namespace": kube.USER_NAMESPACE, "name": f"claim-{name}"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [
                            {"key": "topology.kubernetes.io/zone", "operator": "In",
                             "values": [room]}
                        ]}
                    ]
                }
            },
        },
    }  # fmt: skip
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"claim-{name}", "namespace": kube.USER_NAMESPACE},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "",
            "volumeName": f"home-{name}",
            "resources": {"requests": {"storage": "1Gi"}},
        },
    }
    kube.apply(volume)
    kube.apply(claim)


def forget_home(name: str) -> None:
    kube.kubectl("-n", kube.USER_NAMESPACE, "delete", "pvc", f"claim-{name}", "--wait=false")
    kube.kubectl("delete", "pv", f"home-{name}", "--wait=false")


async def test_maintenance_and_a_home_bound_to_the_closed_room(
    rooms_hub: Hub, core_v1: client.CoreV1Api
):
    await asyncio.to_thread(stop_all, rooms_hub)
    in_b = "back00"
    for name, room in (("mona", "salle-b"), ("nils", "salle-a"), (in_b, "salle-b")):
        bind_home(name, room)
    try:
        add_users(rooms_hub, ["mona", "nils", in_b], "student")
        await asyncio.to_thread(rooms_hub.stop)
        await asyncio.to_thread(rooms_hub.start, EXTRA_CONFIG + HOMES_CONFIG)
        # Both rooms are empty (the first would be chosen): the home decides.
        assert (await asyncio.to_thread(start_all, rooms_hub, [in_b])) == ["ready"]
        assert (await rooms_of(core_v1))[in_b] == "salle-b"
        await asyncio.to_thread(rooms_hub.stop)
        await asyncio.to_thread(rooms_hub.start, EXTRA_CONFIG + HOMES_CONFIG + MAINTENANCE_CONFIG)
        # The server running in the room under maintenance is left alone.
        assert rooms_hub.api("GET", f"/users/{in_b}").json()["servers"][""]["ready"]
        refused = rooms_hub.api("POST", "/users/mona/server", json={"profile": "python"})
        assert refused.status_code == 429, refused.text
        assert refused.json()["message"].startswith(
            "Your server cannot start now: your home folder is stored in Room B"
        )
        assert (await asyncio.to_thread(start_all, rooms_hub, ["nils"])) == ["ready"]
        assert (await rooms_of(core_v1))["nils"] == "salle-a"
        assert "mona" not in await rooms_of(core_v1)
    finally:
        await asyncio.to_thread(stop_all, rooms_hub)
        for name in ("mona", "nils", in_b):
            forget_home(name)
        await asyncio.to_thread(rooms_hub.stop)
        await asyncio.to_thread(rooms_hub.start, EXTRA_CONFIG)
