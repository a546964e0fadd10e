"""The whole devenv, in start order, with `up`, `down` and `status`."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from devenv import helm, kube, paths, ports, procs
from devenv.component import Component, say
from devenv.keycloak import Keycloak
from devenv.kwok import Kwok
from devenv.postgres import PostgreSQL
from devenv.s3 import SeaweedFS

REPO = Path(__file__).resolve().parent.parent


class UserNamespace(Component):
    """Not a process: the PSA-restricted namespace where user pods run."""

    name = "namespace"

    def healthy(self) -> bool:
        if not kube.kube_binary("kubectl").exists():
            return False
        out = kube.kubectl(
            "get",
            "namespace",
            kube.USER_NAMESPACE,
            "--ignore-not-found",
            "-o",
            "jsonpath={.metadata.labels}",
            check=False,
        )
        labelled = '"pod-security.kubernetes.io/enforce":"restricted"' in out
        return labelled and kube.hub_identity_works() and kube.hub_rbac_is_the_charts()

    def install(self) -> None:
        helm.build_helm()  # the hub's RBAC is rendered from the chart

    def launch(self) -> None:
        kube.ensure_user_namespace()
        kube.ensure_hub_identity()

    def stop(self) -> None:
        """Lives in etcd: goes away with etcd's data, never deleted by `down`."""

    def describe(self) -> str:
        state = "up" if self.healthy() else "down"
        return (
            f"{self.name:<24} {state:<5} {kube.USER_NAMESPACE} (PSA enforce=restricted), "
            f"hub identity {kube.HUB_KUBECONFIG}"
        )


def _podrunner_python() -> str:
    """The pod runner needs kubernetes_asyncio: this Python, or the project venv's."""
    if importlib.util.find_spec("kubernetes_asyncio"):
        return sys.executable
    return str(paths.CACHE / "venv" / "bin" / "python")


# The pod runner's code: a runner started from other code (an older checkout, another
# clone) is replaced, so that what a test sees of pods is what this checkout does.
_RUNNER_CODE = ("podrunner.py", "podvolumes.py", "secretvolumes.py", "echo.py")


def _runner_code() -> str:
    digest = hashlib.sha256()
    for name in _RUNNER_CODE:
        digest.update((REPO / "devenv" / name).read_bytes())
    return digest.hexdigest()[:16]


class PodRunner(Component):
    name = "podrunner"

    def _answers(self) -> bool:
        return procs.http_ok(f"http://{ports.HOST}:{ports.PODRUNNER}/")

    def _code_file(self) -> Path:
        return paths.state_dir(self.name) / "code"

    def healthy(self) -> bool:
        code = self._code_file()
        return self._answers() and code.exists() and code.read_text() == _runner_code()

    def launch(self) -> None:
        argv = [_podrunner_python(), "-m", "devenv.podrunner"]
        procs.start(self.name, argv, env=procs.clean_env({"PYTHONPATH": str(REPO)}), cwd=REPO)
        procs.wait_ready(self.name, self._answers, 30, "pod runner")
        self._code_file().write_text(_runner_code())

    def describe(self) -> str:
        return f"{super().describe()} http://{ports.HOST}:{ports.PODRUNNER}/ (pods it serves)"


def components() -> list[Component]:
    """All parts, in start order (stopped in reverse)."""
    return [
        kube.Etcd(),
        kube.KubeApiserver(),
        kube.KubeControllerManager(),
        kube.KubeScheduler(),
        UserNamespace(),
        Kwok(),
        PodRunner(),
        # The proxy is not here: JupyterHub starts it (devenv.proxy installs it).
        Keycloak(),
        SeaweedFS(),
        PostgreSQL(),  # the hubs' databases
    ]


def select(names: list[str] | None) -> list[Component]:
    parts = components()
    if names is None:
        return parts
    unknown = set(names) - {c.name for c in parts}
    if unknown:
        raise SystemExit(f"unknown component(s): {', '.join(sorted(unknown))}")
    return [c for c in parts if c.name in names]


def build(names: list[str] | None = None) -> None:
    for part in select(names):
        part.install()


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One `up` or `down` at a time: two starting the same part would race for its pid file."""
    paths.STATE.mkdir(parents=True, exist_ok=True)
    with (paths.STATE / ".platform.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def up(names: list[str] | None = None, started: list[str] | None = None) -> list[str]:
    """Start what is not already healthy; return the names this call started.

    `started` (appended to as parts come up) lets a caller stop what did start even
    when a later part fails.
    """
    began = time.monotonic()
    started = [] if started is None else started
    with _exclusive():
        for part in select(names):
            if part.healthy():
                continue
            t0 = time.monotonic()
            started.append(part.name)  # before start(): a part that fails half-way is stopped
            part.start()
            say(f"{part.name} up in {time.monotonic() - t0:.1f} s")
    names_started = ", ".join(started) or "none"
    say(f"platform up in {time.monotonic() - began:.1f} s (started: {names_started})")
    return started


def down(names: list[str] | None = None) -> None:
    """Stop, in reverse order, the processes recorded in the pid files (nothing else)."""
    with _exclusive():
        for part in reversed(select(names)):
            part.stop()
            say(f"{part.name} stopped")


def clean() -> None:
    """Stop everything, then forget the cluster: etcd data, certificates, logs."""
    down()
    shutil.rmtree(paths.STATE, ignore_errors=True)
    say(f"removed {paths.STATE}")


def status(memory: bool = False) -> list[str]:
    """One line per component; with `memory`, the RSS of each one's processes."""
    lines = []
    total = 0
    for part in components():
        line = part.describe()
        leader = part.pid()
        if memory and leader:
            rss = procs.rss_bytes(procs.session_pids(leader))
            total += rss
            line += f" rss={rss / 2**20:.0f}MiB"
        lines.append(line)
    if memory:
        lines.append(f"{'total':<24} rss={total / 2**20:.0f}MiB")
    return lines
