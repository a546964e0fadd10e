"""Placement across the server rooms: the pure decision and its properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.policy.admission import Node, Usage, one_server
from unilim_hub.policy.models import Room, Text
from unilim_hub.policy.placement import (
    NotPlaced,
    Placed,
    Requirement,
    RoomView,
    bound_room,
    place,
    room_of,
    spread_key,
)

ZONE = "topology.kubernetes.io/zone"
SMALL = one_server(200, 1024**3)
SLOTS = Usage(250, 56_000, 512 * 1024**3)


def room(name: str, maintenance: bool = False, weight: int = 1) -> Room:
    return Room(name, Text(name, name), {ZONE: name}, maintenance, weight)


A, B = room("salle-a"), room("salle-b")


def view(r: Room, servers: int = 0, nodes: int = 2, free: Usage = SLOTS) -> RoomView:
    return RoomView(r, tuple(Node(f"{r.name}-{n}", free) for n in range(nodes)), servers)


def test_the_room_with_fewer_servers_is_preferred_and_both_are_allowed():
    placed = place([view(A, servers=10), view(B, servers=9)], SMALL)
    assert placed == Placed(B, (B, A))


def test_equal_rooms_go_to_the_first_configured():
    assert place([view(A), view(B)], SMALL) == Placed(A, (A, B))


def test_a_room_down_or_in_maintenance_never_takes_a_server():
    down = view(B, nodes=0)
    assert place([view(A, servers=400), down], SMALL) == Placed(A, (A,))
    closed = view(room("salle-a", maintenance=True))
    assert place([closed, view(B, servers=400)], SMALL) == Placed(B, (B,))
    assert place([closed, down], SMALL) == NotPlaced("rooms.closed")


def test_a_room_without_a_node_that_fits_is_not_allowed():
    full = view(A, free=Usage(0, 56_000, 512 * 1024**3))
    assert place([full, view(B, servers=300)], SMALL) == Placed(B, (B,))
    small = view(B, free=Usage(10, 100, 1024**3))
    assert place([full, small], SMALL) == NotPlaced("rooms.full")


def test_a_home_bound_to_a_room_keeps_the_server_there_or_says_it_is_closed():
    assert place([view(A), view(B, servers=50)], SMALL, home="salle-b") == Placed(B, (B,))
    assert place([view(A), view(B, nodes=0)], SMALL, home="salle-b") == NotPlaced(
        "rooms.home_closed", B
    )
    assert place([view(A)], SMALL, home="salle-z") == NotPlaced("rooms.home_closed")


def test_the_degraded_ceiling_counts_the_open_rooms_while_one_is_closed():
    rooms = [view(A, servers=499), view(B, servers=300, nodes=0)]
    assert place(rooms, SMALL, degraded_limit=500) == Placed(A, (A,))
    rooms = [view(A, servers=500), view(B, servers=300, nodes=0)]
    assert place(rooms, SMALL, degraded_limit=500) == NotPlaced("rooms.degraded", None, 500, 500)
    # Both rooms open: the ceiling does not apply.
    assert place([view(A, 500), view(B, 500)], SMALL, degraded_limit=500) == Placed(A, (A, B))


def test_between_rooms_as_busy_the_one_with_more_free_slots_then_cpu_then_memory_is_chosen():
    """With the same servers per weight, the room that can take more comes first."""
    fewer_slots = view(A, free=Usage(100, 56_000, 512 * 1024**3))
    assert place([fewer_slots, view(B)], SMALL) == Placed(B, (B, A))
    less_cpu = view(A, free=Usage(250, 40_000, 512 * 1024**3))
    assert place([less_cpu, view(B)], SMALL) == Placed(B, (B, A))
    less_memory = view(A, free=Usage(250, 56_000, 256 * 1024**3))
    assert place([less_memory, view(B)], SMALL) == Placed(B, (B, A))
    # Fewer servers for its weight comes before any free resource.
    busier = view(A, servers=1)
    assert place([busier, view(B, free=Usage(10, 1000, 8 * 1024**3))], SMALL) == Placed(B, (B, A))


def test_weights_share_the_servers():
    heavy = room("salle-a", weight=2)
    views = {"salle-a": 0, "salle-b": 0}
    for _ in range(300):
        placed = place([view(heavy, views["salle-a"]), view(B, views["salle-b"])], SMALL)
        assert isinstance(placed, Placed)
        views[placed.room.name] += 1
    assert views == {"salle-a": 200, "salle-b": 100}


def test_starts_alone_keep_equal_rooms_within_one_server():
    servers = {"salle-a": 0, "salle-b": 0}
    for _ in range(501):
        placed = place([view(A, servers["salle-a"]), view(B, servers["salle-b"])], SMALL)
        assert isinstance(placed, Placed)
        servers[placed.room.name] += 1
        assert abs(servers["salle-a"] - servers["salle-b"]) <= 1
    assert servers == {"salle-a": 251, "salle-b": 250}


@given(st.lists(st.sampled_from(["start", "salle-a", "salle-b"]), max_size=300))
def test_each_start_goes_to_the_room_with_fewer_servers(events: list[str]):
    """Starts, and stops in either room (the events naming a room) in between."""
    servers = {"salle-a": 0, "salle-b": 0}
    for event in events:
        if event != "start":
            servers[event] = max(0, servers[event] - 1)
            continue
        placed = place([view(A, servers["salle-a"]), view(B, servers["salle-b"])], SMALL)
        assert isinstance(placed, Placed)
        assert servers[placed.room.name] == min(servers.values())
        servers[placed.room.name] += 1


rooms_st = st.lists(
    st.tuples(
        st.booleans(),  # maintenance
        st.integers(0, 3),  # nodes
        st.integers(0, 3),  # free pod slots on each
        st.integers(0, 600),  # servers
        st.integers(1, 3),  # weight
    ),
    min_size=1,
    max_size=4,
)


@given(rooms_st, st.one_of(st.none(), st.integers(0, 1000)))
def test_never_a_closed_room_never_beyond_a_nodes_free_slots(raw, limit):
    views = [
        view(
            Room(f"r{n}", Text("r", "r"), {ZONE: f"r{n}"}, maintenance, weight),
            servers,
            nodes,
            Usage(slots, 56_000, 512 * 1024**3),
        )
        for n, (maintenance, nodes, slots, servers, weight) in enumerate(raw)
    ]
    placed = place(views, SMALL, degraded_limit=limit)
    if isinstance(placed, NotPlaced):
        return
    for chosen in placed.allowed:
        chosen_view = next(v for v in views if v.room == chosen)
        assert not chosen.maintenance and chosen_view.nodes
        assert any(node.free.servers >= 1 for node in chosen_view.nodes)
    best = min(v.servers / v.room.weight for v in views if v.room in placed.allowed)
    assert next(v for v in views if v.room == placed.room).servers / placed.room.weight == best


def test_the_spread_key_is_the_label_that_tells_the_rooms_apart():
    assert spread_key([A, B]) == ZONE
    both = Room("x", Text("x", "x"), {ZONE: "salle-a", "site": "limoges"})
    other = Room("y", Text("y", "y"), {ZONE: "salle-b", "site": "limoges"})
    assert spread_key([both, other]) == ZONE
    assert spread_key([A]) is None
    assert spread_key([A, Room("z", Text("z", "z"), {"rack": "1"})]) is None


def test_a_node_belongs_to_the_room_whose_labels_it_has():
    assert room_of({ZONE: "salle-b", "kubernetes.io/os": "linux"}, [A, B]) == B
    assert room_of({"kubernetes.io/os": "linux"}, [A, B]) is None


NODES = {
    "salle-a-1": {ZONE: "salle-a", "kubernetes.io/hostname": "salle-a-1", "gen": "3"},
    "salle-b-1": {ZONE: "salle-b", "kubernetes.io/hostname": "salle-b-1", "gen": "5"},
}


def test_a_volume_pinned_to_one_rooms_nodes_is_bound_to_that_room():
    host = [[Requirement("kubernetes.io/hostname", "In", ("salle-b-1",))]]
    assert bound_room(host, NODES, [A, B]) == B
    zone = [[Requirement(ZONE, "NotIn", ("salle-a",))]]
    assert bound_room(zone, NODES, [A, B]) == B
    newer = [[Requirement("gen", "Gt", ("4",))]]
    assert bound_room(newer, NODES, [A, B]) == B


def test_a_volume_reachable_from_both_rooms_or_unpinned_follows_the_server():
    assert bound_room([], NODES, [A, B]) is None
    anywhere = [[Requirement(ZONE, "Exists")]]
    assert bound_room(anywhere, NODES, [A, B]) is None
    # Terms are ORed: one per room is both rooms.
    both = [[Requirement(ZONE, "In", ("salle-a",))], [Requirement(ZONE, "In", ("salle-b",))]]
    assert bound_room(both, NODES, [A, B]) is None
    nowhere = [[Requirement("gen", "Lt", ("1",))], [Requirement("gen", "Gt", ("x",))]]
    assert bound_room(nowhere, NODES, [A, B]) is None
    assert bound_room([[Requirement(ZONE, "DoesNotExist")]], NODES, [A, B]) is None


def test_a_volume_pinned_by_label_presence_or_a_numeric_bound_is_bound_to_that_room():
    gpu = {
        "salle-a-1": {ZONE: "salle-a", "gen": "3"},
        "salle-b-1": {ZONE: "salle-b", "gen": "5", "nvidia.com/gpu.present": "true"},
    }
    assert bound_room([[Requirement("nvidia.com/gpu.present", "Exists")]], gpu, [A, B]) == B
    assert bound_room([[Requirement("nvidia.com/gpu.present", "DoesNotExist")]], gpu, [A, B]) == A
    # Gt and Lt are strict: a bound equal to a node's label leaves that node out.
    assert bound_room([[Requirement("gen", "Gt", ("3",))]], gpu, [A, B]) == B
    assert bound_room([[Requirement("gen", "Lt", ("5",))]], gpu, [A, B]) == A


def test_a_requirement_that_cannot_be_read_holds_on_no_node():
    """A label that is missing or not a number, a bound that is not one number, an operator
    Kubernetes does not have: the volume is pinned nowhere we know, so it follows the server."""
    in_b = Requirement(ZONE, "In", ("salle-b",))
    nodes = {
        "salle-a-1": {ZONE: "salle-a"},
        "salle-b-1": {ZONE: "salle-b", "gen": "5"},
        "salle-b-2": {ZONE: "salle-b", "gen": "new"},
    }
    for unreadable in (
        Requirement("gen", "Gt", ("x",)),
        Requirement("gen", "Gt", ("1", "2")),
        Requirement("gen", "Gte", ("9",)),
    ):
        assert bound_room([[in_b, unreadable]], nodes, [A, B]) is None, unreadable
    # Nodes without the label, or with one that is not a number, are left out; the others not.
    assert bound_room([[Requirement("gen", "Gt", ("1",))]], nodes, [A, B]) == B
    assert bound_room([[Requirement("gen", "Lt", ("9",))]], nodes | {"salle-a-2": {}}, [A]) is None
