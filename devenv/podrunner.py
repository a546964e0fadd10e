"""The pod runner: makes a Running pod on a fake node really serve.

KWOK marks pods Running and gives them a 127.x IP but runs nothing. This process
watches the user namespace and, for each Running pod with a loopback IP, serves
on that IP and the pod's container port:
- label unilim.fr/podrunner=http-echo: a plain echo server process (devenv.echo);
- light mode (UNILIM_PODRUNNER_MODE=light, or label unilim.fr/podrunner=light): a
  tiny responder that answers the hub's checks, for scale runs;
- otherwise: the local `jupyterhub-singleuser` with the pod's environment.
It stops serving when the pod goes away. Run as `python -m devenv.podrunner`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import logging
import os
import signal
import sys
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException

from devenv import kube, paths, podvolumes, ports, secretvolumes

NAMESPACE = os.environ.get("UNILIM_PODRUNNER_NAMESPACE", kube.USER_NAMESPACE)
LABEL = "unilim.fr/podrunner"
HUB_API = f"http://{ports.HOST}:{ports.HUB}/hub/api"
log = logging.getLogger("podrunner")


@dataclass
class Served:
    key: str  # namespace/name/uid
    ip: str
    port: int
    kind: str  # http-echo | light | singleuser
    server: asyncio.base_events.Server | None = None
    process: asyncio.subprocess.Process | None = None
    secrets: asyncio.Task[None] | None = None  # keeps Secret volumes up to date


def loopback_ip(pod: client.V1Pod) -> str | None:
    ip = pod.status.pod_ip if pod.status else None
    if ip and ipaddress.ip_address(ip).is_loopback:
        return ip
    return None


def container_port(pod: client.V1Pod) -> int:
    for container in pod.spec.containers:
        for port in container.ports or []:
            return int(port.container_port)
    return 8888


def kind_of(pod: client.V1Pod) -> str:
    wanted = (pod.metadata.labels or {}).get(LABEL, "")
    if wanted in ("http-echo", "light"):
        return wanted
    return "light" if os.environ.get("UNILIM_PODRUNNER_MODE") == "light" else "singleuser"


async def _respond(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes, ctype: str
) -> None:
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        writer.write(head + body)
        await writer.drain()
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def tiny_server(served: Served, name: str) -> asyncio.base_events.Server:
    """An in-process HTTP responder bound to the pod's IP and port."""
    body = json.dumps({"version": "2.0.0", "pod": name}).encode()
    return await asyncio.start_server(
        lambda r, w: _respond(r, w, body, "application/json"), host=served.ip, port=served.port
    )


async def pod_env(api: client.CoreV1Api, pod: client.V1Pod) -> dict[str, str]:
    """The first container's env, resolving secret and configmap references."""
    env: dict[str, str] = {}
    for var in pod.spec.containers[0].env or []:
        if var.value is not None:
            env[var.name] = var.value
        elif var.value_from and var.value_from.secret_key_ref:
            ref = var.value_from.secret_key_ref
            secret = await api.read_namespaced_secret(ref.name, pod.metadata.namespace)
            env[var.name] = base64.b64decode((secret.data or {}).get(ref.key, "")).decode()
        elif var.value_from and var.value_from.config_map_key_ref:
            ref = var.value_from.config_map_key_ref
            cm = await api.read_namespaced_config_map(ref.name, pod.metadata.namespace)
            env[var.name] = (cm.data or {}).get(ref.key, "")
    return env


def _local_url(url: str, fallback: str) -> str:
    """Keep a URL on a literal loopback IP as is; anything else becomes `fallback`.

    Names (`localhost` too) are replaced: resolving them is up to the machine's resolver.
    """
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return url
    except ValueError:
        pass
    return fallback


def offline_jupyter_config(directory: Path | None = None) -> Path:
    """Server config that keeps JupyterLab from fetching news, updates or the PyPI index:
    the devenv's servers talk to loopback addresses only. In ``directory`` (tests), by
    default in the pod runner's state."""
    directory = directory or paths.state_dir("podrunner") / "jupyter-config"
    directory.mkdir(parents=True, exist_ok=True)
    lab = {
        "extension_manager": "readonly",
        "news_url": None,
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
    }
    (directory / "jupyter_server_config.json").write_text(json.dumps({"LabApp": lab}))
    # jupyter_core "migrates" IPython 3 settings when ~/.ipython exists and this marker
    # does not, then writes the marker here. A server run as the pod's UID cannot write
    # this folder of root's, so its second start on a kept home (where the first start
    # left ~/.ipython) would exit. Nothing here needs migrating.
    (directory / "migrated").touch()
    return directory


def singleuser_env(pod: client.V1Pod, env: dict[str, str], served: Served) -> dict[str, str]:
    home = paths.state_dir("podrunner") / "homes" / pod.metadata.name
    home.mkdir(parents=True, exist_ok=True)
    result = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in os.environ}
    result.update(env)
    result["HOME"] = str(home)
    result["JUPYTERHUB_API_URL"] = _local_url(env.get("JUPYTERHUB_API_URL", ""), HUB_API)
    if "JUPYTERHUB_ACTIVITY_URL" in env:
        user = env.get("JUPYTERHUB_USER", "")
        result["JUPYTERHUB_ACTIVITY_URL"] = _local_url(
            env["JUPYTERHUB_ACTIVITY_URL"], f"{HUB_API}/users/{user}/activity"
        )
    result["JUPYTER_CONFIG_DIR"] = str(offline_jupyter_config())
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    # KubeSpawner says 0.0.0.0 here; the pod's own loopback IP is where it must bind.
    result["JUPYTERHUB_SERVICE_URL"] = f"http://{served.ip}:{served.port}{prefix}"
    return result


async def spawn(
    name: str, argv: list[str], env: dict[str, str], cwd: Path
) -> asyncio.subprocess.Process:
    logdir = paths.state_dir("podrunner") / "pods"
    logdir.mkdir(parents=True, exist_ok=True)
    with open(logdir / f"{name}.log", "ab") as out:
        # Same process group as the runner: stopping the runner stops them all.
        return await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )


async def start_singleuser(api: client.CoreV1Api, pod: client.V1Pod, served: Served) -> None:
    env = singleuser_env(pod, await pod_env(api, pod), served)
    mounts = secretvolumes.secret_mounts(pod)
    for mount in mounts:
        await secretvolumes.sync(api, pod.metadata.namespace, mount)
    env = secretvolumes.local_env(env, mounts)
    if mounts:
        served.secrets = asyncio.create_task(
            secretvolumes.keep_synced(api, pod.metadata.namespace, mounts)
        )
    program = Path(sys.executable).with_name("jupyterhub-singleuser")
    # The devenv runs as root (CI does); in a real pod the server runs as an arbitrary UID.
    argv = [str(program), f"--ip={served.ip}", f"--port={served.port}", "--allow-root"]
    mounts = podvolumes.pod_mounts(pod, await claim_dirs(api, pod))
    home = podvolumes.home_mount(mounts, podvolumes.HOME)
    if home is not None:  # a pod with a home volume: its server runs as the pod's user
        uid = podvolumes.run_as(pod)
        podvolumes.prepare_dirs(mounts, home, uid)
        env["HOME"] = home.path
        argv = podvolumes.launcher(argv[:-1], mounts, home, uid)
        cwd = Path(home.source)  # the launcher then enters the home at the pod's path
    else:
        cwd = Path(env["HOME"])
    served.process = await spawn(pod.metadata.name, argv, env, cwd)


async def claim_dirs(api: client.CoreV1Api, pod: client.V1Pod) -> dict[str, str]:
    """Claim name -> the directory of the devenv volume it is bound to."""
    found = {}
    for volume in pod.spec.volumes or []:
        source = volume.persistent_volume_claim
        if source is None:
            continue
        claim = await api.read_namespaced_persistent_volume_claim(
            source.claim_name, pod.metadata.namespace
        )
        if not claim.spec.volume_name:
            continue
        bound = await api.read_persistent_volume(claim.spec.volume_name)
        if bound.spec.host_path is not None:
            found[source.claim_name] = bound.spec.host_path.path
    return found


async def start_echo(pod: client.V1Pod, served: Served) -> None:
    argv = [sys.executable, "-m", "devenv.echo", served.ip, str(served.port), pod.metadata.name]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG")}
    served.process = await spawn(pod.metadata.name, argv, env, paths.STATE)


def failed_status(pod: client.V1Pod, code: int, logfile: Path) -> dict[str, object]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    container = pod.spec.containers[0]
    terminated = {"exitCode": code, "reason": "Error", "finishedAt": now}
    return {
        "status": {
            "phase": "Failed",
            "message": f"devenv pod runner: the server exited with code {code}, log {logfile}",
            "containerStatuses": [{
                "name": container.name, "image": container.image, "imageID": "",
                "ready": False, "restartCount": 0, "state": {"terminated": terminated},
            }],
        }
    }  # fmt: skip


def pod_key(pod: client.V1Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}/{pod.metadata.uid}"


def node_reachable(node: client.V1Node) -> bool:
    """A node taken down (NotReady/Unknown) makes its pods unreachable, as in a real room."""
    conditions = (node.status.conditions if node.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


class Runner:
    def __init__(self, api: client.CoreV1Api) -> None:
        self.api = api
        self.served: dict[str, Served] = {}
        self.pods: dict[str, client.V1Pod] = {}  # latest state of every pod seen
        self.unreachable: set[str] = set()  # node names
        self.exited: set[str] = set()  # pods whose server exited: never restarted
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    def wanted(self, pod: client.V1Pod) -> bool:
        return (
            loopback_ip(pod) is not None
            and pod.status.phase == "Running"
            and pod.metadata.deletion_timestamp is None
            and pod.spec.node_name not in self.unreachable
            and pod_key(pod) not in self.exited
        )

    async def reconcile(self, pod: client.V1Pod, deleted: bool = False) -> None:
        key = pod_key(pod)
        async with self.lock:
            if deleted:
                self.pods.pop(key, None)
            else:
                self.pods[key] = pod
            if deleted or not self.wanted(pod):
                await self.stop(key)
            elif key not in self.served:
                await self.start(key, pod, loopback_ip(pod) or "")

    async def node_changed(self, node: client.V1Node, deleted: bool = False) -> None:
        name = node.metadata.name
        if deleted or not node_reachable(node):
            self.unreachable.add(name)
        else:
            self.unreachable.discard(name)
        for pod in [p for p in self.pods.values() if p.spec.node_name == name]:
            await self.reconcile(pod)

    async def start(self, key: str, pod: client.V1Pod, ip: str) -> None:
        served = Served(key, ip, container_port(pod), kind_of(pod))
        try:
            if served.kind == "singleuser":
                await start_singleuser(self.api, pod, served)
            elif served.kind == "http-echo":
                await start_echo(pod, served)
            else:
                served.server = await tiny_server(served, pod.metadata.name)
        except Exception:
            log.exception("cannot serve %s on %s:%s", key, ip, served.port)
            return
        self.served[key] = served
        log.info("serving %s on %s:%s (%s)", key, ip, served.port, served.kind)
        if served.process is not None:
            task = asyncio.create_task(self.watch_exit(pod, served))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def watch_exit(self, pod: client.V1Pod, served: Served) -> None:
        """A server that exits on its own fails its pod, as a crashed container would."""
        assert served.process is not None
        code = await served.process.wait()
        if self.served.get(served.key) is not served:
            return  # we stopped it (pod gone, node down)
        self.served.pop(served.key, None)
        self.exited.add(served.key)
        logfile = paths.state_dir("podrunner") / "pods" / f"{pod.metadata.name}.log"
        log.warning("%s exited with %s (log %s)", served.key, code, logfile)
        try:
            await self.api.patch_namespaced_pod_status(
                pod.metadata.name, pod.metadata.namespace, failed_status(pod, code, logfile)
            )
        except ApiException as error:
            log.warning("cannot mark %s failed: %s", served.key, error.reason)

    async def stop(self, key: str) -> None:
        served = self.served.pop(key, None)
        if served is None:
            return
        if served.server is not None:
            served.server.close()
        if served.secrets is not None:
            served.secrets.cancel()
        if served.process is not None and served.process.returncode is None:
            served.process.terminate()
            try:
                await asyncio.wait_for(served.process.wait(), 10)
            except TimeoutError:
                served.process.kill()
        log.info("stopped %s", key)

    async def resync_pods(self, pods: list[client.V1Pod]) -> None:
        keys = {pod_key(p) for p in pods}
        for key in [k for k in self.pods if k not in keys]:
            self.pods.pop(key)
            async with self.lock:
                await self.stop(key)
        for pod in pods:
            await self.reconcile(pod)

    async def resync_nodes(self, nodes: list[client.V1Node]) -> None:
        self.unreachable = {n.metadata.name for n in nodes if not node_reachable(n)}
        for pod in list(self.pods.values()):
            await self.reconcile(pod)

    async def list_watch(
        self,
        list_fn: Callable[..., Awaitable[Any]],
        resync: Callable[[list[Any]], Awaitable[None]],
        changed: Callable[..., Awaitable[None]],
        *args: str,
    ) -> None:
        """List, resync, then apply watch events; start over when the watch ends."""
        while True:
            try:
                listing = await list_fn(*args)
                await resync(listing.items)
                stream = watch.Watch().stream(
                    list_fn,
                    *args,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=300,
                )
                async for event in stream:
                    await changed(event["object"], deleted=event["type"] == "DELETED")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # 410 Gone, API server restart...: list again
                log.warning("%s watch ended: %s", list_fn.__name__, error)
                await asyncio.sleep(1)

    async def run(self) -> None:
        await asyncio.gather(
            self.list_watch(self.api.list_node, self.resync_nodes, self.node_changed),
            self.list_watch(
                self.api.list_namespaced_pod, self.resync_pods, self.reconcile, NAMESPACE
            ),
        )

    async def shutdown(self) -> None:
        for key in list(self.served):
            await self.stop(key)


async def health_server(runner: Runner) -> asyncio.base_events.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pods = {
            key: {
                "ip": s.ip,
                "port": s.port,
                "kind": s.kind,
                "pid": s.process.pid if s.process else os.getpid(),
            }
            for key, s in runner.served.items()
        }
        await _respond(reader, writer, json.dumps(pods).encode(), "application/json")

    return await asyncio.start_server(handle, host=ports.HOST, port=ports.PODRUNNER)


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    await config.load_kube_config(config_file=str(paths.KUBECONFIG))
    async with client.ApiClient() as api_client:
        runner = Runner(client.CoreV1Api(api_client))
        health = await health_server(runner)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        task = asyncio.create_task(runner.run())
        await stopping.wait()
        task.cancel()
        health.close()
        await runner.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
