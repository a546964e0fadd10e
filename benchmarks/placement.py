"""One placement decision with 4, 40 and 400 nodes in two rooms: how long, in microseconds.

Run: `python -m benchmarks.placement` from the repository root (not part of the tests).
A decision reads every node of the live view once (which room it is in, what it has
free) and then compares the rooms, so it grows with the nodes, not with the servers
(2,000 running here, spread over the nodes).
"""

from __future__ import annotations

from benchmarks.admission import Pods, best_of, pod
from unilim_hub.admission import Ledger, RoomRequest
from unilim_hub.cluster import ROOM, ClusterView, NodeState, NodeWatch
from unilim_hub.policy.admission import Charge, Usage, one_server
from unilim_hub.policy.models import Room, Text

ZONE = "topology.kubernetes.io/zone"
ROOMS = tuple(Room(name, Text(name, name), {ZONE: name}) for name in ("salle-a", "salle-b"))
NODE_COUNTS = (4, 40, 400)
SERVERS = 2_000


def ledger_with(nodes: int) -> Ledger:
    watch = NodeWatch(api=None)
    watch.loaded = True
    names = [f"{ROOMS[n % 2].name}-{n}" for n in range(nodes)]
    for n, name in enumerate(names):
        labels = {ZONE: ROOMS[n % 2].name, "kubernetes.io/hostname": name}
        watch.nodes[name] = NodeState(name, True, Usage(250, 56000, 512 * 1024**3), labels)
    view = ClusterView(watch)
    pods = Pods(view)
    view.pods = pods  # type: ignore[assignment]
    for n in range(SERVERS):
        server = pod(n)
        server["spec"]["nodeName"] = names[n % nodes]
        server["metadata"]["labels"][ROOM] = ROOMS[n % 2].name
        pods.index[f"jupyterhub/jupyter-{n}"] = server
    return Ledger(view)


def main() -> None:
    charged = Charge(None)
    request = one_server(200, 1024**3)
    rooms = RoomRequest(ROOMS, degraded_limit=480)
    print(f"nodes | one decision with {SERVERS:,} servers running (reserve + release), µs")
    for nodes in NODE_COUNTS:
        ledger = ledger_with(nodes)

        def decide(ledger: Ledger = ledger) -> None:
            ledger.reserve("jupyterhub/jupyter-new", charged, request, rooms=rooms)
            ledger.release("jupyterhub/jupyter-new")

        print(f"{nodes:>5} | {best_of(decide, 200, 30):.1f}")


if __name__ == "__main__":
    main()
