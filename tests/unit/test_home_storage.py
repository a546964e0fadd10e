"""Homes and course folders as UnilimSpawner asks for them (fake API; the real API server:
tests/integration/test_storage_hub.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import V1Container, V1Pod, V1PodSpec
from kubernetes_asyncio.client.exceptions import ApiException
from tornado import web

from unilim_hub import volumes

from .test_spawner import GiB, admit_everything, spawner, student  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("kubespawner_offline")


class FakeApi:
    """The PVC calls volumes.py makes, recorded; ``claims`` is what exists."""

    def __init__(self, claims: dict[str, str]) -> None:
        self.claims = claims  # name -> requested storage
        self.created: list[dict[str, Any]] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []

    async def read_namespaced_persistent_volume_claim(self, name: str, namespace: str) -> Any:
        requests = {"storage": self.claims[name]}
        return SimpleNamespace(spec=SimpleNamespace(resources=SimpleNamespace(requests=requests)))

    async def patch_namespaced_persistent_volume_claim(self, name, namespace, body) -> None:
        self.patched.append((name, body))

    async def create_namespaced_persistent_volume_claim(self, namespace, body) -> None:
        if body["metadata"]["name"] in self.claims:
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append(body)


def _pod() -> V1Pod:
    return V1Pod(spec=V1PodSpec(containers=[V1Container(name="notebook")]))


async def _started(groups: dict[str, dict[str, Any]], api: FakeApi) -> tuple[Any, V1Pod]:
    made = spawner(groups, {"profile": "python"})
    made.storage_pvc_ensure = True
    made.api = api
    await made.load_user_options()
    return made, await volumes.prepare(made, _pod())


def test_one_home_per_user_never_deleted_by_default() -> None:
    made = spawner(student(), {})
    assert made.pvc_name == "claim-alice"
    assert made.delete_pvc is False
    assert made.storage_access_modes == ["ReadWriteMany"]


class DeletingApi:
    """Records the claims KubeSpawner deletes when a server or its user is deleted."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete_namespaced_persistent_volume_claim(self, name: str, namespace: str) -> None:
        self.deleted.append(name)


async def _delete_forever(server_name: str, *, delete_pvc: bool | None = None) -> list[str]:
    """What deleting ``server_name`` ("": the user) deletes, as JupyterHub asks KubeSpawner."""
    made = spawner(student(), {})
    made.orm_spawner = SimpleNamespace(name=server_name, server=None)  # `name` reads it
    if delete_pvc is not None:
        made.delete_pvc = delete_pvc
    made.api = api = DeletingApi()
    await made.delete_forever()
    return api.deleted


async def test_deleting_a_user_or_a_named_server_deletes_no_home_by_default() -> None:
    assert await _delete_forever("") == []
    assert await _delete_forever("extra") == []


async def test_admins_who_delete_volumes_lose_a_home_with_its_user_never_with_a_named_server():
    # With `delete_pvc` set, the user's deletion takes the home; a named server shares that
    # home, so deleting the named server must not (KubeSpawner keeps a claim shared by
    # its name template, which names one claim per user).
    assert await _delete_forever("extra", delete_pvc=True) == []
    assert await _delete_forever("", delete_pvc=True) == ["claim-alice"]


async def test_home_size_comes_from_the_most_generous_group() -> None:
    api = FakeApi({"claim-alice": "10Gi"})
    groups = {"student": {"quota.home_size": "5G"}, "staff": {"quota.home_size": "20Gi"}}
    made, _ = await _started(groups, api)
    assert made.storage_capacity == str(20 * GiB)
    assert api.patched == [
        ("claim-alice", {"spec": {"resources": {"requests": {"storage": str(20 * GiB)}}}})
    ]


async def test_a_smaller_size_never_shrinks_a_home() -> None:
    api = FakeApi({"claim-alice": "10Gi"})
    await _started(student(**{"quota.home_size": "5G"}), api)
    assert api.patched == []


async def test_students_read_and_teachers_write_course_folders() -> None:
    api = FakeApi({"claim-alice": "10Gi", "course-info101": "50Gi"})
    # A teacher in the course group too still writes (the group lookup needs no hub here).
    groups = {"student": {}, "course-info101": {}, "teacher-stat202": {}, "course-stat202": {}}
    _, pod = await _started(groups, api)
    assert [claim["metadata"]["name"] for claim in api.created] == ["course-stat202"]
    assert api.created[0]["spec"]["accessModes"] == ["ReadWriteMany"]
    mounts = {m.mount_path: m.read_only for m in pod.spec.containers[0].volume_mounts}
    assert mounts == {
        "/home/jovyan/courses/info101": True,
        "/home/jovyan/courses/stat202": False,
    }
    sources = {v.name: v.persistent_volume_claim.read_only for v in pod.spec.volumes}
    assert sources == {"course-info101": True, "course-stat202": False}


async def test_course_folder_switched_off_is_mounted_for_no_one() -> None:
    api = FakeApi({"claim-alice": "10Gi", "course-info101": "50Gi"})
    groups = {
        "student": {},
        "course-info101": {"course.folder": "off"},
        "teacher-stat202": {},
        "course-stat202": {"course.folder": "on"},
    }
    _, pod = await _started(groups, api)
    mounts = [m.mount_path for m in pod.spec.containers[0].volume_mounts]
    assert mounts == ["/home/jovyan/courses/stat202"]
    # Its teacher does not get it either, and nothing is deleted (no call to do so).
    teacher = {"staff": {}, "teacher-info101": {}, "course-info101": {"course.folder": "off"}}
    _, pod = await _started(teacher, FakeApi({"claim-alice": "10Gi"}))
    assert pod.spec.volumes is None or not any(v.name == "course-info101" for v in pod.spec.volumes)


async def test_no_volumes_when_the_hub_manages_none() -> None:
    made = spawner({"student": {}, "course-info101": {}}, {"profile": "python"})
    await made.load_user_options()
    pod = await volumes.prepare(made, _pod())
    assert pod.spec.volumes is None


class SilentApiServer(FakeApi):
    """An API server that does not answer (restarting)."""

    async def _refused(self, *args: Any) -> None:
        raise aiohttp.ClientConnectionError("Cannot connect to host 127.0.0.1:1")

    read_namespaced_persistent_volume_claim = _refused
    create_namespaced_persistent_volume_claim = _refused


async def test_api_server_down_fails_a_course_start_with_a_clear_message(monkeypatch) -> None:
    monkeypatch.setattr(volumes, "CLAIM_SECONDS", 1.5)
    with pytest.raises(web.HTTPError) as refused:
        await _started({"student": {}, "course-info101": {}}, SilentApiServer({}))
    message = str(getattr(refused.value, "jupyterhub_message", refused.value))
    assert "the folder of course info101 could not be created (ClientConnectionError)" in message
    assert refused.value.status_code == 503


async def test_a_home_that_cannot_be_read_is_left_as_it_is() -> None:
    _, pod = await _started(student(**{"quota.home_size": "50G"}), SilentApiServer({}))
    assert pod.spec.volumes is None  # no course: the start goes on without growing the home
