"""What the class-start benchmark reads on the machine: the hub process, the API server,
the pod runner; and the platform's own ceiling (light pods created with no hub at all)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import requests
from kubernetes_asyncio import client, config

from devenv import kube, paths, ports

from .report import Ceiling, api_request_total

# Pods of this benchmark carry this label (the hub's pods through extra_labels too), so
# that whatever an interrupted run left is found and deleted.
BENCH_LABEL = "unilim.fr/bench"
LIGHT = {"unilim.fr/podrunner": "light"}
PODRUNNER = f"http://{ports.HOST}:{ports.PODRUNNER}/"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat, utime and stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_bytes(pid: int) -> int:
    """The most resident memory the process has held (VmHWM of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def api_requests() -> float:
    """Requests the API server has served since it started, all clients together."""
    return api_request_total(kube.kubectl("get", "--raw", "/metrics"))


def delete_bench_pods(timeout: float = 600) -> None:
    """Delete the benchmark's pods and wait until they are gone: a thousand take longer
    than one kubectl call may (its own limit), so the wait is a poll of our own. Then
    delete the namespace's events, so that each phase's hub starts with none (a hub lists
    and watches them: 20,000 left by the phase before cost the next one CPU)."""
    selector = ("-n", kube.USER_NAMESPACE, "-l", BENCH_LABEL)
    kube.kubectl("delete", "pods", *selector, "--wait=false")
    deadline = time.monotonic() + timeout
    while kube.kubectl("get", "pods", *selector, "-o", "name").strip():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the benchmark's pods are still there after {timeout:g} s")
        time.sleep(2)
    # One request (deletecollection), not one per event as `kubectl delete events --all`.
    kube.kubectl("delete", "--raw", f"/api/v1/namespaces/{kube.USER_NAMESPACE}/events")


def served_pods() -> set[str]:
    """Names of the pods the pod runner serves now."""
    keys = requests.get(PODRUNNER, timeout=10).json()
    return {key.split("/")[1] for key in keys}


def light_pod(name: str) -> dict[str, object]:
    """A pod the pod runner serves with its tiny responder; `restricted` as the namespace."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {**LIGHT, BENCH_LABEL: "ceiling"}},
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "notebook",
                    "image": "quay.io/jupyterhub/k8s-singleuser-sample",  # never pulled
                    "ports": [{"containerPort": 8888}],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


async def ceiling(n: int, concurrency: int, timeout: float = 300) -> Ceiling:
    """Create ``n`` light pods, ``concurrency`` requests at a time, as the admin; time until
    the API server accepted them all and until the pod runner serves them all."""
    configuration = client.Configuration()
    await config.load_kube_config(str(paths.KUBECONFIG), client_configuration=configuration)
    names = [f"bench-ceiling-{i:04}" for i in range(n)]
    slots = asyncio.Semaphore(concurrency)
    async with client.ApiClient(configuration) as api_client:
        api = client.CoreV1Api(api_client)

        async def create(name: str) -> None:
            async with slots:
                await api.create_namespaced_pod(kube.USER_NAMESPACE, light_pod(name))

        began = time.monotonic()
        await asyncio.gather(*(create(name) for name in names))
        created = time.monotonic() - began
        wanted = set(names)
        while time.monotonic() - began < timeout:
            if wanted <= await asyncio.to_thread(served_pods):
                return Ceiling(n, created, time.monotonic() - began)
            await asyncio.sleep(0.2)
        return Ceiling(n, created, None)
