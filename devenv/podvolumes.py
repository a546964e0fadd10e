"""A pod's volumes for the pod runner: each mount becomes a directory of this machine.

The server of a pod with volumes runs as the pod's non-root user, in a mount namespace of
its own where each volume's directory (the hostPath of the PersistentVolume its claim is
bound to, see devenv/storage.py) is bind-mounted at the very path the pod mounts it,
read-only when the pod says `readOnly`: the kernel then refuses every write there (EROFS),
whoever asks. The home volume is mounted at `/home/jovyan` (over a tmpfs `/home` that only
this namespace sees) and is the server's HOME, so files written there are in the volume's
directory and outlive the server. The server's paths are the pod's, outside `/root`: the
permission checks made with access(2), which ignores the capability that lets the server
read the venv under `/root`, then answer as they would in the pod (Jupyter's save of an
existing file asks access(2) first).
"""

from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass
from typing import Any

# The UID a pod's server runs as when the pod names none (OpenShift picks one from the
# namespace's range; any non-root UID shows the same), and group 0 as on OpenShift.
DEFAULT_UID = 1000650000
GROUP = 0
HOME = "/home/jovyan"


@dataclass(frozen=True)
class Mount:
    source: str  # a directory of this machine
    path: str  # where the pod mounts it
    read_only: bool


def pod_mounts(pod: Any, claim_dirs: dict[str, str]) -> list[Mount]:
    """The first container's mounts of claims, with their directories (``claim_dirs``:
    claim name -> the bound volume's directory); mounts of other kinds are left out."""
    claims = {}
    for volume in pod.spec.volumes or []:
        source = volume.persistent_volume_claim
        if source is not None and source.claim_name in claim_dirs:
            claims[volume.name] = (claim_dirs[source.claim_name], bool(source.read_only))
    mounts = []
    for mount in pod.spec.containers[0].volume_mounts or []:
        if mount.name in claims:
            directory, read_only = claims[mount.name]
            mounts.append(Mount(directory, mount.mount_path, read_only or bool(mount.read_only)))
    return sorted(mounts, key=lambda m: m.path.count("/"))


def run_as(pod: Any) -> int:
    context = pod.spec.containers[0].security_context
    uid = getattr(context, "run_as_user", None) or getattr(
        pod.spec.security_context, "run_as_user", None
    )
    return int(uid) if uid else DEFAULT_UID


def home_mount(mounts: list[Mount], home: str) -> Mount | None:
    return next((m for m in mounts if m.path.rstrip("/") == home), None)


def _under_home(path: str, home: Mount) -> str:
    normal = posixpath.normpath(path)
    relative = posixpath.relpath(normal, home.path)
    if relative == ".." or relative.startswith("../"):
        raise ValueError(f"{path} is not under {home.path}")
    return normal


def prepare_dirs(mounts: list[Mount], home: Mount, uid: int) -> None:
    """What fsGroup and OpenShift's group 0 give a pod: its home is its user's, group 0;
    course folders are group 0 and group-writable (their readOnly mounts stop students)."""
    for mount in mounts:
        os.makedirs(mount.source, exist_ok=True)
        if mount is home:
            if os.stat(mount.source).st_uid == 0:
                os.chown(mount.source, uid, GROUP)
                os.chmod(mount.source, 0o770)
        else:
            os.chmod(mount.source, 0o775)


def launcher(argv: list[str], mounts: list[Mount], home: Mount, uid: int) -> list[str]:
    """The command that mounts the volumes at the pod's paths, then runs ``argv`` as
    ``uid`` (group 0) in the home. Every mount must be under the home."""
    top = posixpath.dirname(posixpath.normpath(home.path))  # /home, hidden by a tmpfs
    steps = [
        f"mount -t tmpfs -o mode=0755 unilim-home {shlex.quote(top)}",
        f"mkdir -p {shlex.quote(home.path)}",
        f"mount --bind {shlex.quote(home.source)} {shlex.quote(home.path)}",
    ]
    for mount in mounts:
        if mount is home:
            continue
        target = shlex.quote(_under_home(mount.path, home))
        steps.append(f"mkdir -p {target}")
        steps.append(f"mount --bind {shlex.quote(mount.source)} {target}")
        if mount.read_only:
            steps.append(f"mount -o remount,bind,ro {target}")
    steps.append(f"cd {shlex.quote(home.path)}")
    # The server reads the venv under /root (mode 0700): it may search and read there,
    # nothing more; its writes meet the volumes' owners and read-only mounts.
    drop = [
        "setpriv", f"--reuid={uid}", f"--regid={GROUP}", "--clear-groups",
        "--inh-caps=-all,+dac_read_search", "--ambient-caps=-all,+dac_read_search",
        "--", *argv,
    ]  # fmt: skip
    steps.append("exec " + shlex.join(drop))
    script = " && ".join(steps)
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script]
