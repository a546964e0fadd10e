"""Homes and course folders of a user's server, on the cluster's NFS storage classes.

KubeSpawner creates the home volume itself (``storage_pvc_ensure``, which Zero to
JupyterHub turns on with ``singleuser.storage.type: dynamic``, with the home's mount in
``volumes`` / ``volume_mounts``). This module adds what it lacks: the size from the user's
groups, a larger size requested when it grows, and one shared volume per course, mounted
read-write for its teachers and read-only for its students. Nothing here deletes a volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio.client import (
    V1PersistentVolumeClaimVolumeSource,
    V1Volume,
    V1VolumeMount,
)
from kubernetes_asyncio.client.exceptions import ApiException

from . import kubeapi
from .errors import spawn_error
from .policy.models import Storage
from .policy.problems import InvalidValue
from .policy.properties import GroupProperties
from .policy.quantities import parse_memory
from .policy.volumes import CourseVolume, course_volumes, home_size, needs_expansion

# ``spawner`` below is a UnilimSpawner: named by duck type, since an adapter module does
# not import another (tests/unit/test_imports.py).
UnilimSpawner = Any

# The label every volume unilim-hub creates carries, with what it holds.
KIND_LABEL = "unilim.fr/volume"
# How long a start keeps asking a silent API server for a course's claim.
CLAIM_SECONDS = 30


def size_home(spawner: UnilimSpawner, properties: Mapping[str, GroupProperties]) -> None:
    """Ask KubeSpawner for a home of the size the user's groups give (bytes)."""
    settings = spawner.settings
    overrides = {group: parsed.quota for group, parsed in properties.items()}
    groups = [group.name for group in spawner.user.groups]
    size = home_size(groups, settings.quotas, overrides, settings.storage.home_size)
    spawner.storage_capacity = str(size)
    if settings.storage.home_storage_class:
        spawner.storage_class = settings.storage.home_storage_class
    spawner.storage_extra_labels = {**spawner.storage_extra_labels, KIND_LABEL: "home"}


async def prepare(spawner: UnilimSpawner, pod: Any) -> Any:
    """Grow the home if its size went up, create missing course volumes, mount them."""
    if not spawner.storage_pvc_ensure:
        return pod  # no volumes managed by the hub (the cluster's or the admin's choice)
    await _grow_home(spawner)
    if not spawner.course_folders:
        return pod
    groups = [group.name for group in spawner.user.groups]
    folders_off = spawner.course_switches().folder_off
    for course in course_volumes(groups, spawner.settings.groups, folders_off):
        await _ensure_course_claim(spawner, course)
        mount_course(pod, course)
    return pod


def _requested(claim: Any) -> int | None:
    try:
        return parse_memory(claim.spec.resources.requests["storage"])
    except (AttributeError, KeyError, TypeError, InvalidValue):
        return None


async def _grow_home(spawner: UnilimSpawner) -> None:
    """Ask for the larger size; a failure leaves the home as it is (asked again next start)."""
    name, namespace = spawner.pvc_name, spawner.namespace
    try:
        claim = await spawner.api.read_namespaced_persistent_volume_claim(name, namespace)
    except kubeapi.FAILURES as error:
        spawner.log.warning("Cannot read home %s to grow it: %s", name, error)
        return
    wanted = int(spawner.storage_capacity)
    requested = _requested(claim)
    if not needs_expansion(requested, wanted):
        return
    spawner.log.info("Asking for a larger home %s: %s -> %s bytes", name, requested, wanted)
    patch = {"spec": {"resources": {"requests": {"storage": str(wanted)}}}}
    try:
        await spawner.api.patch_namespaced_persistent_volume_claim(name, namespace, patch)
    except kubeapi.FAILURES as error:
        # The storage class may not allow expansion: the server still starts.
        spawner.log.warning("Cannot grow home %s: %s", name, error)


def course_claim(course: CourseVolume, storage: Storage) -> dict[str, Any]:
    """The claim of a course's shared folder, as the hub creates it at its first use."""
    return {
        "metadata": {
            "name": course.claim,
            "labels": {KIND_LABEL: "course", "unilim.fr/course": course.claim},
            # The course code as written (any text: annotations take it, labels may not).
            "annotations": {"unilim.fr/course": course.course},
        },
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": str(storage.course_size)}},
            **_storage_class(storage.course_storage_class),
        },
    }


async def _ensure_course_claim(spawner: UnilimSpawner, course: CourseVolume) -> None:
    claim = course_claim(course, spawner.settings.storage)
    try:
        await kubeapi.retrying(
            lambda: spawner.api.create_namespaced_persistent_volume_claim(spawner.namespace, claim),
            CLAIM_SECONDS,
            f"Creating the claim {course.claim}",
        )
        spawner.log.info("Created the folder of course %s: %s", course.course, course.claim)
    except kubeapi.FAILURES as error:
        if isinstance(error, ApiException) and error.status == 409:
            return  # it exists: the usual case
        spawner.log.error("Cannot create the claim %s: %s", course.claim, error)
        raise spawn_error(
            "spawn.course_folder_failed",
            spawner.language(),
            reason="course_folder_failed",
            status=503,
            course=course.course,
            error=_short(error),
        ) from None


def _short(error: BaseException) -> str:
    """What went wrong, for a person: the API server's reason, or the kind of failure."""
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return type(error).__name__


def _storage_class(name: str) -> dict[str, str]:
    # No storageClassName at all, not "": "" would ask for a volume of no class.
    return {"storageClassName": name} if name else {}


def mount_course(pod: Any, course: CourseVolume) -> None:
    """Mount a course folder in the pod: read-only in both the volume and the mount for
    students (either alone would do; both say so to whoever reads the pod)."""
    volume = course.claim  # a DNS label, unique per course: a valid volume name
    pod.spec.volumes = [
        *(pod.spec.volumes or []),
        V1Volume(
            name=volume,
            persistent_volume_claim=V1PersistentVolumeClaimVolumeSource(
                claim_name=course.claim, read_only=course.read_only
            ),
        ),
    ]
    container = pod.spec.containers[0]
    container.volume_mounts = [
        *(container.volume_mounts or []),
        V1VolumeMount(name=volume, mount_path=course.mount_path, read_only=course.read_only),
    ]
