"""Homes and course folders on the real API server, bound by the real controller-manager.

A hub of its own manages volumes as Zero to JupyterHub's `singleuser.storage.type:
dynamic` makes it (KubeSpawner's storage traits), on the devenv's `unilim-nfs` class.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes_asyncio import client

from devenv import ports, storage

from .hub import Hub

GiB = 1024**3
PORTS = (18200, 18201, 18281)
STORAGE_CONFIG = f"""
c.KubeSpawner.storage_pvc_ensure = True
c.UnilimSpawner.home_storage_class = {storage.STORAGE_CLASS!r}
c.UnilimSpawner.course_storage_class = {storage.STORAGE_CLASS!r}
c.UnilimSpawner.home_size = "1G"
c.UnilimSpawner.course_size = "2G"
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}
]
c.KubeSpawner.volume_mounts = [{{"name": "home", "mountPath": "/home/jovyan"}}]
"""


@pytest.fixture(scope="module")
def storage_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    storage.ensure_free_volumes(12)
    running = Hub(tmp_path_factory.mktemp("storage-hub"), ports=PORTS)
    try:
        running.start(STORAGE_CONFIG)
        yield running
    finally:
        running.stop()
        storage.delete_released()  # the tests' claims are gone: forget their volumes


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


async def _claim(core_v1: client.CoreV1Api, namespace: str, name: str) -> Any:
    for _ in range(30):  # the controller-manager binds within a few seconds
        claim = await core_v1.read_namespaced_persistent_volume_claim(name, namespace)
        if claim.status.phase == "Bound":
            return claim
        await asyncio.sleep(1)
    raise AssertionError(f"{name} not bound: {claim.status}")


async def _pod(core_v1: client.CoreV1Api, namespace: str, user: str) -> Any:
    pods = await core_v1.list_namespaced_pod(
        namespace, label_selector="component=singleuser-server"
    )
    return next(
        p for p in pods.items if p.metadata.annotations.get("hub.jupyter.org/username") == user
    )


async def _start(hub: Hub, user: str, profile: str = "python") -> None:
    await asyncio.to_thread(
        lambda: hub.api(
            "POST", f"/users/{user}/server", json={"profile": profile}
        ).raise_for_status()
    )
    await asyncio.to_thread(hub.wait_ready, user)


async def _stop(hub: Hub, user: str) -> None:
    await asyncio.to_thread(lambda: hub.api("DELETE", f"/users/{user}/server").raise_for_status())
    await asyncio.to_thread(hub.wait_stopped, user)


async def test_home_is_kept_across_stop_profile_change_server_and_user_deletion(
    storage_hub: Hub, core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    user = _name("home")
    storage_hub.add_user(user, ["student"])
    await _start(storage_hub, user, "python")
    claim = await _claim(core_v1, user_namespace, f"claim-{user}")
    pod = await _pod(core_v1, user_namespace, user)
    mounts = {m.mount_path: m.name for m in pod.spec.containers[0].volume_mounts}
    assert "/home/jovyan" in mounts
    await _stop(storage_hub, user)
    await _start(storage_hub, user, "r")  # another profile, the same home
    again = await _claim(core_v1, user_namespace, f"claim-{user}")
    assert again.metadata.uid == claim.metadata.uid
    await _stop(storage_hub, user)
    # A named server shares the home; deleting it (`remove`) leaves the home alone.
    named = f"/users/{user}/servers/extra"
    await asyncio.to_thread(
        lambda: storage_hub.api("POST", named, json={"profile": "python"}).raise_for_status()
    )
    await asyncio.to_thread(storage_hub.wait_ready, user, server_name="extra")
    await asyncio.to_thread(
        lambda: storage_hub.api("DELETE", named, json={"remove": True}).raise_for_status()
    )
    await asyncio.to_thread(storage_hub.wait_stopped, user)
    assert (
        await _claim(core_v1, user_namespace, f"claim-{user}")
    ).metadata.uid == claim.metadata.uid
    storage_hub.api("DELETE", f"/users/{user}").raise_for_status()
    kept = await _claim(core_v1, user_namespace, f"claim-{user}")
    assert kept.metadata.uid == claim.metadata.uid
    assert kept.metadata.deletion_timestamp is None
    await core_v1.delete_namespaced_persistent_volume_claim(f"claim-{user}", user_namespace)


def _course_members(hub: Hub) -> tuple[str, str, str]:
    """A new course, a student who follows it and a teacher who teaches it."""
    course, pupil, teacher = _name("c"), _name("pupil"), _name("prof")
    hub.add_user(pupil, ["student", f"course-{course}"])
    hub.add_user(teacher, ["faculty", f"teacher-{course}"])
    return course, pupil, teacher


async def test_course_folder_is_read_only_for_students_and_writable_for_teachers(
    storage_hub: Hub, core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    course, pupil, teacher = _course_members(storage_hub)
    mount = f"/home/jovyan/courses/{course}"
    try:
        await _start(storage_hub, pupil)
        await _start(storage_hub, teacher)
        await _claim(core_v1, user_namespace, f"course-{course}")
        seen = {}
        for user in (pupil, teacher):
            pod = await _pod(core_v1, user_namespace, user)  # the pod the API server accepted
            mounts = {m.mount_path: m for m in pod.spec.containers[0].volume_mounts}
            volumes = {v.name: v for v in pod.spec.volumes}
            source = volumes[mounts[mount].name].persistent_volume_claim
            assert source.claim_name == f"course-{course}"
            seen[user] = (bool(mounts[mount].read_only), bool(source.read_only))
        assert seen == {pupil: (True, True), teacher: (False, False)}
    finally:
        for user in (pupil, teacher):
            await _stop(storage_hub, user)
        for claim in (f"claim-{pupil}", f"claim-{teacher}", f"course-{course}"):
            await core_v1.delete_namespaced_persistent_volume_claim(claim, user_namespace)


async def test_a_course_folder_switched_off_by_its_teacher_is_not_in_the_next_server(
    storage_hub: Hub, core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    course, pupil, _ = _course_members(storage_hub)
    storage_hub.set_properties(f"course-{course}", {"course.folder": "off"})
    try:
        await _start(storage_hub, pupil)
        pod = await _pod(core_v1, user_namespace, pupil)  # the pod the API server accepted
        mounts = [m.mount_path for m in pod.spec.containers[0].volume_mounts]
        assert "/home/jovyan" in mounts
        assert not any(path.startswith("/home/jovyan/courses/") for path in mounts)
        assert f"course-{course}" not in {v.name for v in pod.spec.volumes}
    finally:
        await _stop(storage_hub, pupil)
        await core_v1.delete_namespaced_persistent_volume_claim(f"claim-{pupil}", user_namespace)


async def test_a_larger_group_home_size_asks_for_a_larger_volume(
    storage_hub: Hub, core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    user, group = _name("grow"), _name("sizes")
    storage_hub.add_user(user, ["student", group])
    try:
        await _start(storage_hub, user)
        claim = await _claim(core_v1, user_namespace, f"claim-{user}")
        assert claim.spec.resources.requests["storage"] == str(GiB)
        await _stop(storage_hub, user)
        storage_hub.set_properties(group, {"quota.home_size": "3Gi"})
        await _start(storage_hub, user)
        claim = await _claim(core_v1, user_namespace, f"claim-{user}")
        assert claim.spec.resources.requests["storage"] == str(3 * GiB)
    finally:
        await _stop(storage_hub, user)
        await core_v1.delete_namespaced_persistent_volume_claim(f"claim-{user}", user_namespace)


def _server_uid(user: str) -> int:
    """The UID of the process the pod runner serves ``user``'s server with."""
    served = requests.get(f"http://{ports.HOST}:{ports.PODRUNNER}/", timeout=10).json()
    pid = next(s["pid"] for key, s in served.items() if f"/jupyter-{user}/" in key)
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))


def _contents(hub: Hub, method: str, user: str, path: str, **kwargs: object) -> requests.Response:
    """The user's Jupyter server's contents API, through the proxy, with the hub's token."""
    url = f"{hub.url}/user/{user}/api/contents/{path}"
    headers = {"Authorization": f"token {hub.token}"}
    return requests.request(method, url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


def _put(hub: Hub, user: str, path: str, text: str) -> requests.Response:
    body = {"type": "file", "format": "text", "content": text}
    return _contents(hub, "PUT", user, path, json=body)


def _get(hub: Hub, user: str, path: str) -> requests.Response:
    return _contents(hub, "GET", user, path)


async def _forget(core_v1: client.CoreV1Api, namespace: str, *claims: str) -> None:
    for claim in claims:
        try:
            await core_v1.delete_namespaced_persistent_volume_claim(claim, namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise


async def test_files_survive_a_restart_and_a_student_cannot_write_the_course_folder(
    storage_hub: Hub, core_v1: client.CoreV1Api, user_namespace: str
) -> None:
    course, pupil, teacher = _course_members(storage_hub)
    try:
        await _start(storage_hub, teacher)
        assert _server_uid(teacher) != 0  # the pod's non-root user, as on OpenShift
        assert _put(storage_hub, teacher, f"courses/{course}/tp1.txt", "TP 1").ok
        await _start(storage_hub, pupil)
        assert _put(storage_hub, pupil, "work.txt", "mine").ok
        assert _get(storage_hub, pupil, f"courses/{course}/tp1.txt").json()["content"] == "TP 1"
        refused = _put(storage_hub, pupil, f"courses/{course}/tp1.txt", "changed")
        assert refused.status_code >= 400
        await _stop(storage_hub, pupil)
        await _start(storage_hub, pupil, "r")  # a restart with another profile
        assert _get(storage_hub, pupil, "work.txt").json()["content"] == "mine"
        assert _put(storage_hub, pupil, "work.txt", "mine, again").ok  # saving over a file
        assert _get(storage_hub, pupil, "work.txt").json()["content"] == "mine, again"
        assert _get(storage_hub, pupil, f"courses/{course}/tp1.txt").json()["content"] == "TP 1"
    finally:
        for user in (pupil, teacher):
            await _stop(storage_hub, user)
        await _forget(
            core_v1, user_namespace, f"claim-{pupil}", f"claim-{teacher}", f"course-{course}"
        )
