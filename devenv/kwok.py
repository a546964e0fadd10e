"""Fake nodes with KWOK: two rooms of two nodes, like the production workers.

Every address stays in 127.0.0.0/8: node InternalIPs are 127.0.10.N and each
node's podCIDR is a /20 of 127.10.0.0/16 (`pod_cidr`), so pod IPs are loopback addresses
that the pod runner can bind. KWOK's own defaults (pod CIDR 10.0.0.0/24, node IP 196.168.0.1,
server on 0.0.0.0 when a node port is set) are all overridden.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

from devenv import gobuild, paths, ports, procs
from devenv.component import Component, step
from devenv.kube import kubectl

KWOK_VERSION = os.environ.get("UNILIM_KWOK_VERSION", "v0.8.0")
ROOMS = {"salle-a": ["salle-a-1", "salle-a-2"], "salle-b": ["salle-b-1", "salle-b-2"]}
NODES = [node for nodes in ROOMS.values() for node in nodes]
ROOM_LABELS = ("topology.kubernetes.io/zone", "unilim.fr/room")
MANAGED = "unilim.fr/kwok"  # KWOK manages (heartbeats, pod lifecycle) nodes with =managed
DOWN_MODES = ("notready", "unschedulable", "deleted")
NODE_CPU = "56"
NODE_MEMORY = "512Gi"
# Fallbacks KWOK would use for a node without its own addresses: loopback too.
FALLBACK_NODE_IP = "127.0.10.254"
FALLBACK_CIDR = "127.10.254.0/24"
STAGES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/fast/pod-ready.yaml",
    "pod/fast/pod-complete.yaml",
    "pod/fast/pod-delete.yaml",
)
UNREACHABLE = "node.kubernetes.io/unreachable"


def binary() -> Path:
    return paths.binary("kwok", KWOK_VERSION)


def max_pods() -> str:
    return os.environ.get("UNILIM_DEVENV_MAX_PODS", "250")


def node_index(node: str) -> int:
    return NODES.index(node) + 1


def pod_cidr(node: str) -> str:
    """The node's pod addresses: 4,094 of them, although a node takes 250 pods. KWOK 0.8's
    IP pool never checks that an address is in the node's range, and hands out more
    addresses than pods under a burst: with a /24 per node, a burst of 1,000 pods on 4
    nodes ran over into the next node's range and 61 pods got another pod's IP."""
    return f"127.10.{16 * (node_index(node) - 1)}.0/20"


def room_of(node: str) -> str:
    return next(room for room, nodes in ROOMS.items() if node in nodes)


def build_kwok() -> None:
    if not stages_file().exists():
        write_stages()
    if binary().exists():
        return
    workdir = paths.BUILD / f"kwok-{KWOK_VERSION}"
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "build.log"
    gomod = gobuild.download_gomod("sigs.k8s.io/kwok", KWOK_VERSION)  # no local replaces
    go = gobuild.go_directive(gomod)
    gobuild.write_wrapper(workdir, {"sigs.k8s.io/kwok": KWOK_VERSION}, {}, go)
    ldflags = f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION.lstrip('v')}"
    with step(f"build kwok {KWOK_VERSION} (log {log})"):
        gobuild.go_build(workdir, "sigs.k8s.io/kwok/cmd/kwok", binary(), ldflags, log)


def stages_file() -> Path:
    return paths.BIN / f"kwok-stages-{KWOK_VERSION}.yaml"


def write_stages() -> None:
    """KWOK has no built-in stages: use upstream's own 'fast' + lease heartbeat ones."""
    source = gobuild.module_dir("sigs.k8s.io/kwok", KWOK_VERSION) / "kustomize" / "stage"
    docs = [(source / rel).read_text() for rel in STAGES]
    stages_file().parent.mkdir(parents=True, exist_ok=True)
    stages_file().write_text("\n---\n".join(docs))


def node_manifest(node: str) -> dict[str, object]:
    room = room_of(node)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node,
            "labels": {
                **{key: room for key in ROOM_LABELS},
                "kubernetes.io/hostname": node,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                MANAGED: "managed",
            },
            "annotations": {"kwok.x-k8s.io/node": "fake"},
        },
        "spec": {"podCIDR": pod_cidr(node), "podCIDRs": [pod_cidr(node)]},
    }


def node_status(node: str) -> dict[str, object]:
    resources = {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": max_pods()}
    return {
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "addresses": [
                {"type": "InternalIP", "address": f"127.0.10.{node_index(node)}"},
                {"type": "Hostname", "address": node},
            ],
        }
    }


def create_node(node: str) -> None:
    kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        input=json.dumps(node_manifest(node)),
    )
    kubectl(
        "patch",
        "node",
        node,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(node_status(node)),
    )


def _node(node: str) -> dict | None:
    out = kubectl("get", "node", node, "-o", "json", "--ignore-not-found")
    return json.loads(out) if out.strip() else None


def node_ready(obj: dict | None) -> bool:
    if not obj:
        return False
    conditions = obj.get("status", {}).get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    taints = obj.get("spec", {}).get("taints") or []
    tainted = any(t["key"].startswith("node.kubernetes.io/") for t in taints)
    return ready and not tainted and not obj["spec"].get("unschedulable")


def wait_nodes(nodes: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(node_ready(_node(n)) for n in nodes):
        if time.monotonic() > deadline:
            raise procs.StartError(f"nodes {nodes} not Ready and schedulable after {timeout} s")
        time.sleep(0.5)


def ensure_nodes() -> None:
    for node in NODES:
        found = _node(node)
        if found is not None and found["spec"].get("podCIDR") != pod_cidr(node):
            # A node of an older platform: a podCIDR cannot change, the node is made again.
            kubectl("delete", "node", node, "--wait=true")
            found = None
        if found is None:
            create_node(node)
    wait_nodes(NODES)


def leases_held() -> bool:
    """Every node KWOK should manage has its lease again (KWOK manages it)."""
    managed = kubectl("get", "nodes", "-l", f"{MANAGED}=managed", "-o", "name").split()
    leases = kubectl("-n", "kube-node-lease", "get", "leases", "-o", "name").split()
    held = {lease.split("/", 1)[1] for lease in leases}
    return all(node.split("/", 1)[1] in held for node in managed)


def node_down(node: str, mode: str = "notready") -> None:
    """Take a node down: NotReady (heartbeats stop), cordoned, or deleted."""
    if mode not in DOWN_MODES:
        raise ValueError(f"mode must be one of {DOWN_MODES}")
    if mode == "deleted":
        kubectl("delete", "node", node, "--ignore-not-found", "--wait=true")
    elif mode == "unschedulable":
        kubectl("cordon", node)
    else:
        _make_unreachable(node)


def _make_unreachable(node: str) -> None:
    # KWOK stops heartbeating a node that no longer matches its selector, as a
    # kubelet that died; the status and taint are what the node lifecycle
    # controller would set after its grace period, set now to save the wait.
    kubectl("label", "node", node, f"{MANAGED}=down", "--overwrite")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {
        "type": "Ready",
        "status": "Unknown",
        "reason": "NodeStatusUnknown",
        "message": "devenv: node taken down",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }
    kubectl(
        "patch",
        "node",
        node,
        "--subresource=status",
        "--type=strategic",
        "-p",
        json.dumps({"status": {"conditions": [condition]}}),
    )
    kubectl("taint", "node", node, f"{UNREACHABLE}:NoSchedule", "--overwrite")


def node_up(node: str, wait: bool = True) -> None:
    """Undo any down mode and wait until the node is Ready and schedulable."""
    obj = _node(node)
    if obj is None:
        create_node(node)
    else:
        kubectl("uncordon", node)
        kubectl("label", "node", node, f"{MANAGED}=managed", "--overwrite")
        for effect in ("NoSchedule", "NoExecute"):
            kubectl("taint", "node", node, f"{UNREACHABLE}:{effect}-", check=False)
    if wait:
        wait_nodes([node])


def room_down(room: str, mode: str = "notready") -> None:
    for node in ROOMS[room]:
        node_down(node, mode)


def room_up(room: str) -> None:
    for node in ROOMS[room]:
        node_up(node, wait=False)
    wait_nodes(ROOMS[room])


class Kwok(Component):
    name = "kwok"

    def install(self) -> None:
        build_kwok()

    def healthy(self) -> bool:
        return procs.http_ok(f"http://{ports.HOST}:{ports.KWOK}/healthz")

    def launch(self) -> None:
        argv = [
            str(binary()),
            f"--kubeconfig={paths.KUBECONFIG}",
            f"--config={stages_file()}",
            f"--manage-nodes-with-label-selector={MANAGED}=managed",
            f"--cidr={FALLBACK_CIDR}",
            f"--node-ip={FALLBACK_NODE_IP}",
            f"--server-address={ports.HOST}:{ports.KWOK}",
            # Heartbeats through Leases, as kubelets do (0 would mean no leases at all).
            "--node-lease-duration-seconds=40",
        ]
        # A previous KWOK's node leases stay valid for their 40 s, and a new KWOK waits
        # for them to expire before it manages those nodes: it is the only one, drop them.
        kubectl("-n", "kube-node-lease", "delete", "lease", *NODES, "--ignore-not-found")
        procs.start(self.name, argv)
        procs.wait_ready(self.name, self.healthy, 60, "kwok /healthz")
        ensure_nodes()
        procs.wait_ready(self.name, leases_held, 30, "kwok holds the node leases")

    def describe(self) -> str:
        return (
            f"{super().describe()} kwok {KWOK_VERSION} nodes={','.join(NODES)} maxPods={max_pods()}"
        )
