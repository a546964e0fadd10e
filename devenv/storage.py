"""Volumes on the local platform: a storage class and a pool of pre-created volumes.

There is no NFS server here. The storage class `unilim-nfs` has no provisioner; instead
a pool of PersistentVolumes, each a directory under STATE/volumes, waits for claims, and
the real kube-controller-manager binds each claim of that class to a free one, as it
binds claims to volumes a CSI driver created. The volumes accept ReadWriteOnce and
ReadWriteMany (like NFS) and are kept when their claim goes (`Retain`), as homes must be.
The class allows expansion, so the API server accepts a larger request on a claim.
"""

from __future__ import annotations

import json
import shutil

from devenv import kube, paths

STORAGE_CLASS = "unilim-nfs"
POOL_LABEL = "unilim.fr/devenv-pool"
# Larger than any home or course folder asks for, so any claim fits any volume.
CAPACITY = "1Ti"


def volumes_dir() -> str:
    return str(paths.state_dir("volumes"))


def _storage_class() -> dict[str, object]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "Immediate",
        "allowVolumeExpansion": True,
        "reclaimPolicy": "Retain",
    }


def _volume(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {POOL_LABEL: "true"}},
        "spec": {
            "storageClassName": STORAGE_CLASS,
            "capacity": {"storage": CAPACITY},
            "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": f"{volumes_dir()}/{name}", "type": "DirectoryOrCreate"},
        },
    }


def ensure_free_volumes(free: int) -> None:
    """The storage class, and at least ``free`` volumes of the pool not bound yet."""
    kube.apply(_storage_class())
    listing = json.loads(kube.kubectl("get", "pv", "-l", POOL_LABEL, "-o", "json"))
    names = {item["metadata"]["name"] for item in listing["items"]}
    available = sum(1 for item in listing["items"] if item["status"].get("phase") == "Available")
    index = 0
    while available < free:
        name = f"devenv-pv-{index:04d}"
        index += 1
        if name in names:
            continue
        # A new volume is empty, as a provisioner's is: a folder left by a forgotten
        # volume of the same name (an earlier run's home or course folder) goes first.
        shutil.rmtree(f"{volumes_dir()}/{name}", ignore_errors=True)
        kube.apply(_volume(name))
        available += 1


def delete_released() -> None:
    """Forget the pool's volumes whose claim was deleted (their directories stay until
    a new volume takes the name)."""
    listing = json.loads(kube.kubectl("get", "pv", "-l", POOL_LABEL, "-o", "json"))
    for item in listing["items"]:
        if item["status"].get("phase") == "Released":
            kube.kubectl("delete", "pv", item["metadata"]["name"], "--wait=false")
