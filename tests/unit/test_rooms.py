"""Rooms in the spawn path: the live view per room, the pod sent to its rooms, lost nodes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes_asyncio.client import (
    V1Affinity,
    V1Node,
    V1NodeAffinity,
    V1NodeCondition,
    V1NodeSelector,
    V1NodeSelectorRequirement,
    V1NodeSelectorTerm,
    V1NodeSpec,
    V1NodeStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodSpec,
    V1Taint,
)
from prometheus_client import REGISTRY

from unilim_hub.admission import Ledger, RoomRequest
from unilim_hub.cluster import ROOM, ClusterView, NodeState, NodeWatch, PodIndex, node_state
from unilim_hub.policy.admission import Charge, Usage, one_server
from unilim_hub.policy.models import Room, Text
from unilim_hub.policy.placement import NotPlaced, Placed
from unilim_hub.rooms import lost_node, record, send_to

ZONE = "topology.kubernetes.io/zone"
A = Room("salle-a", Text("Salle A", "Room A"), {ZONE: "salle-a"})
B = Room("salle-b", Text("Salle B", "Room B"), {ZONE: "salle-b"})
SLOTS = Usage(250, 56_000, 512 * 1024**3)
SMALL = one_server(200, 1024**3)


class Pods:
    def __init__(self, view: ClusterView) -> None:
        self.index = PodIndex({}, view.changed)


def view_of(nodes: dict[str, NodeState]) -> ClusterView:
    watch = NodeWatch(api=None)
    watch.nodes, watch.loaded = nodes, True
    view = ClusterView(watch)
    view.pods = Pods(view)  # type: ignore[assignment]
    return view


def up(name: str, room: Room) -> NodeState:
    return NodeState(name, True, SLOTS, dict(room.node_selector))


def user_pod(node: str | None, room: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "metadata": {"labels": {ROOM: room}},
        "spec": {"nodeName": node, "containers": []},
        "status": {"phase": phase},
    }


def test_each_room_counts_its_servers_on_nodes_waiting_and_in_flight():
    view = view_of({"a1": up("a1", A), "b1": up("b1", B)})
    view.index["ns/1"] = user_pod("a1", "salle-a")
    view.index["ns/2"] = user_pod("a1", "salle-b")  # bound elsewhere than preferred
    view.index["ns/3"] = user_pod(None, "salle-b")  # waiting for a node
    view.index["ns/4"] = user_pod("b1", "salle-b", "Succeeded")  # holds nothing
    view.index["ns/5"] = {"metadata": {}, "spec": {"nodeName": "b1"}, "status": {}}  # not ours
    rooms = view.rooms((A, B), {"salle-b": 2})
    assert rooms is not None
    assert [(r.room.name, r.servers) for r in rooms] == [("salle-a", 2), ("salle-b", 3)]
    assert rooms[1].nodes[0].free.servers == 249  # the other pod takes a slot too


def test_each_room_shows_its_nodes_ready_and_total_its_capacity_and_what_is_free():
    down = NodeState("a2", False, SLOTS, dict(A.node_selector), datetime.now(UTC))
    view = view_of({"a1": up("a1", A), "a2": down, "b1": up("b1", B)})
    view.index["ns/1"] = user_pod("a1", "salle-a")
    record(None, view.rooms((A, B), {}) or [], view.room_nodes((A, B)))
    sample = REGISTRY.get_sample_value
    assert sample("unilim_room_nodes", {"room": "salle-a", "state": "total"}) == 2
    assert sample("unilim_room_nodes", {"room": "salle-a", "state": "ready"}) == 1
    capacity = {"room": "salle-a", "resource": "servers"}
    assert sample("unilim_room_capacity", capacity) == 250  # the ready node only
    assert sample("unilim_room_free", capacity) == 249
    assert sample("unilim_room_capacity", {"room": "salle-a", "resource": "cpu"}) == 56
    assert sample("unilim_room_free", {"room": "salle-b", "resource": "memory"}) == 512 * 1024**3


def test_a_burst_of_reservations_alternates_between_equal_rooms():
    ledger = Ledger(view_of({"a1": up("a1", A), "b1": up("b1", B)}))
    request = RoomRequest((A, B))
    chosen = []
    for n in range(6):
        _, reservation = ledger.reserve(f"ns/{n}", Charge(None), SMALL, rooms=request)
        assert reservation is not None and reservation.placed is not None
        chosen.append(reservation.placed.room.name)
    assert chosen == ["salle-a", "salle-b"] * 3
    ledger.release("ns/1")
    assert ledger.pending_rooms == {"salle-a": 3, "salle-b": 2}


def test_the_rooms_after_a_start_count_it_and_forget_the_start_it_replaced():
    # The room metrics (unilim_room_servers) of a start: as if the rooms were seen again
    # once it is reserved.
    ledger = Ledger(view_of({"a1": up("a1", A), "b1": up("b1", B)}))
    ledger.view.index["ns/on-a"] = user_pod("a1", "salle-a")
    request = RoomRequest((A, B))
    for key in ["ns/1", "ns/2", "ns/3", "ns/1"]:  # the last one starts ns/1 again
        ledger.reserve(key, Charge(None), SMALL, rooms=request)
        assert ledger.rooms_now == ledger.view.rooms((A, B), ledger.pending_rooms)
    assert [view.servers for view in ledger.rooms_now] == [2, 2]


def test_a_down_room_refuses_a_home_bound_to_it():
    down = NodeState("b1", False, SLOTS, {ZONE: "salle-b"}, datetime.now(UTC))
    ledger = Ledger(view_of({"a1": up("a1", A), "b1": down}))
    outcome, reservation = ledger.reserve(
        "ns/x", Charge(None), SMALL, rooms=RoomRequest((A, B), "salle-b")
    )
    assert (outcome, reservation) == (NotPlaced("rooms.home_closed", B), None)


def pod(affinity: V1Affinity | None = None) -> V1Pod:
    return V1Pod(
        metadata=V1ObjectMeta(labels={"app": "jupyterhub"}),
        spec=V1PodSpec(containers=[], affinity=affinity),
    )


def test_the_pod_requires_the_allowed_rooms_prefers_the_chosen_one_and_spreads():
    sent = pod()
    send_to(sent, Placed(B, (B, A)), ZONE)
    assert sent.metadata.labels == {"app": "jupyterhub", ROOM: "salle-b"}
    node = sent.spec.affinity.node_affinity
    terms = node.required_during_scheduling_ignored_during_execution.node_selector_terms
    assert [[(e.key, e.operator, e.values) for e in t.match_expressions] for t in terms] == [
        [(ZONE, "In", ["salle-b"])],
        [(ZONE, "In", ["salle-a"])],
    ]
    [preferred] = node.preferred_during_scheduling_ignored_during_execution
    assert preferred.weight == 100 and preferred.preference == terms[0]
    [spread] = sent.spec.topology_spread_constraints
    assert (spread.topology_key, spread.max_skew, spread.when_unsatisfiable) == (
        ZONE,
        1,
        "ScheduleAnyway",
    )
    assert spread.label_selector.match_expressions[0].key == ROOM


def test_the_admins_required_affinity_still_holds_in_every_room():
    gpu = V1NodeSelectorRequirement(key="gpu", operator="Exists")
    required = V1NodeSelector(node_selector_terms=[V1NodeSelectorTerm(match_expressions=[gpu])])
    sent = pod(
        V1Affinity(
            node_affinity=V1NodeAffinity(
                required_during_scheduling_ignored_during_execution=required
            )
        )
    )
    send_to(sent, Placed(A, (A, B)), None)
    terms = sent.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert [[e.key for e in t.match_expressions] for t in terms.node_selector_terms] == [
        ["gpu", ZONE],
        ["gpu", ZONE],
    ]
    assert sent.spec.topology_spread_constraints is None


def node(ready: str, since: datetime, taints: list[str] = ()) -> V1Node:
    return V1Node(
        metadata=V1ObjectMeta(name="b1", labels={ZONE: "salle-b"}),
        spec=V1NodeSpec(taints=[V1Taint(key=k, effect="NoSchedule") for k in taints]),
        status=V1NodeStatus(
            allocatable={"pods": "250", "cpu": "56", "memory": "512Gi"},
            conditions=[V1NodeCondition(type="Ready", status=ready, last_transition_time=since)],
        ),
    )


def test_a_node_not_ready_is_down_since_its_condition_changed():
    since = datetime(2026, 11, 30, 8, 12, tzinfo=UTC)
    state = node_state(node("Unknown", since, ["node.kubernetes.io/unreachable"]))
    assert (state.healthy, state.down_since, state.labels) == (False, since, {ZONE: "salle-b"})
    cordoned = node_state(node("True", since, ["node.kubernetes.io/unschedulable"]))
    assert (cordoned.healthy, cordoned.down_since) == (False, None)  # its servers run on


def test_a_server_is_lost_once_its_node_has_been_down_for_the_grace_period():
    now = datetime.now(UTC)
    view = view_of(
        {"b1": NodeState("b1", False, SLOTS, {}, now - timedelta(seconds=30)), "a1": up("a1", A)}
    )
    on = {"spec": {"nodeName": "b1"}}
    assert lost_node(view, on, grace=20) is not None
    assert lost_node(view, on, grace=60) is None
    assert lost_node(view, {"spec": {"nodeName": "a1"}}, grace=0) is None
    assert lost_node(view, {"spec": {"nodeName": "gone"}}, grace=60) is not None  # deleted
    assert lost_node(view, {"spec": {}}, grace=0) is None  # not scheduled yet
    assert lost_node(view, None, grace=0) is None
    view.node_watch.loaded = False
    assert lost_node(view, {"spec": {"nodeName": "gone"}}, grace=0) is None
