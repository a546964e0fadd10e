"""One admission decision, with 10 to 5,000 servers running: how long, in microseconds.

Run: `python -m benchmarks.admission` from the repository root (not part of the tests).
The decision reads running sums kept by the pod index, so it should not grow with the
number of servers; it grows with the number of nodes (4 here, as in production).
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

from unilim_hub.admission import Ledger
from unilim_hub.cluster import CHARGED_GROUP, ClusterView, NodeState, NodeWatch, PodIndex
from unilim_hub.policy.admission import Charge, Usage, one_server
from unilim_hub.policy.models import GroupQuota

NODES = ("salle-a-1", "salle-a-2", "salle-b-1", "salle-b-2")
SIZES = (10, 100, 1000, 5000)


class Pods:
    """Stands for the pod reflector: only its index is read."""

    def __init__(self, view: ClusterView) -> None:
        self.index = PodIndex({}, view.changed)


def pod(n: int) -> dict[str, Any]:
    return {
        "metadata": {"name": f"jupyter-{n}", "labels": {CHARGED_GROUP: f"course-{n % 20}"}},
        "spec": {
            "nodeName": NODES[n % len(NODES)],
            "containers": [{"resources": {"requests": {"cpu": "200m", "memory": "1Gi"}}}],
        },
        "status": {"phase": "Running"},
    }


def ledger_with(servers: int) -> Ledger:
    nodes = NodeWatch(api=None)
    nodes.loaded = True
    for name in NODES:
        nodes.nodes[name] = NodeState(name, True, Usage(2500, 56000, 512 * 1024**3))
    view = ClusterView(nodes)
    pods = Pods(view)
    view.pods = pods  # type: ignore[assignment]
    for n in range(servers):
        pods.index[f"unilim-users/jupyter-{n}"] = pod(n)
    return Ledger(view)


def main() -> None:
    charged = Charge("course-1", GroupQuota("course-1", servers=10_000, cpu=10**7))
    request = one_server(200, 1024**3)
    print("running servers | one decision (reserve + release), µs")
    for servers in SIZES:
        ledger = ledger_with(servers)

        def decide(ledger: Ledger = ledger) -> None:
            ledger.reserve("unilim-users/jupyter-new", charged, request)
            ledger.release("unilim-users/jupyter-new")

        print(f"{servers:>15,} | {best_of(decide, 2_000, 50):.1f}")


def best_of(decide: Callable[[], None], runs: int, repeat: int) -> float:
    """Microseconds per call, the best of ``repeat`` runs of ``runs`` calls: the
    machine's other work only ever adds time."""
    return min(timeit.repeat(decide, number=runs, repeat=repeat)) / runs * 1e6


if __name__ == "__main__":
    main()
