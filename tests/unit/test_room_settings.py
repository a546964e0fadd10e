"""`UnilimSpawner.rooms` as check-config reads it: each room as written, each mistake told
once, at its key, with the value the admin wrote."""

from __future__ import annotations

from unilim_hub.i18n import describe
from unilim_hub.policy.models import Room, Text
from unilim_hub.policy.problems import Checker
from unilim_hub.policy.rooms import parse_rooms

ZONE = "topology.kubernetes.io/zone"


def read(raw: object) -> tuple[tuple[Room, ...], list[str]]:
    """The rooms, and the problems as the admin reads them (in English)."""
    check = Checker()
    rooms = parse_rooms(check, raw)
    return rooms, [describe(problem, "en") for problem in check.problems]


def test_a_room_is_open_of_weight_one_and_shown_by_its_name_unless_told_otherwise():
    rooms, problems = read(
        [
            {
                "name": "salle-a",
                "display_name": {"fr": "Salle A", "en": "Room A"},
                "node_selector": {ZONE: "salle-a"},
            },
            {
                "name": "salle-b",
                "node_selector": {ZONE: "salle-b"},
                "maintenance": True,
                "weight": 2,
            },
        ]
    )
    assert problems == []
    assert rooms == (
        Room("salle-a", Text("Salle A", "Room A"), {ZONE: "salle-a"}, maintenance=False, weight=1),
        Room("salle-b", Text("salle-b", "salle-b"), {ZONE: "salle-b"}, maintenance=True, weight=2),
    )


def test_each_mistake_in_a_room_is_told_at_its_key_with_the_value_written():
    rooms, problems = read(
        [
            {"name": "salle-a", "node_selector": "zone=salle-a", "maintenance": "yes"},
            {
                "name": "salle-b",
                "node_selector": {"zone with spaces": "salle b"},
                "display_name": 5,
            },
            {"name": "Salle C", "node_selector": {ZONE: "salle-c"}, "weigth": 2},
        ]
    )
    key = "UnilimSpawner.rooms"
    assert problems == [
        f"{key}[0].node_selector: 'zone=salle-a' should be a mapping of keys to values"
        " (YAML 'key: value' lines).",
        f"{key}[0].maintenance: 'yes' should be true or false.",
        f"{key}[1].node_selector.zone with spaces: 'zone with spaces' is not a valid"
        " Kubernetes label key.",
        f"{key}[1].node_selector.zone with spaces: 'salle b' is not a valid Kubernetes label"
        " value.",
        f"{key}[1].display_name: 5 should be a mapping of keys to values (YAML 'key: value'"
        " lines).",
        f"{key}[2].weigth: Unknown key. Accepted keys: display_name, maintenance, name,"
        " node_selector, weight. Did you mean 'weight'?",
        f"{key}[2].name: 'Salle C' is not a valid name: use lower-case letters, digits, '-',"
        " '_' or '.', starting and ending with a letter or digit.",
    ]
    assert [room.name for room in rooms] == ["salle-b"]


def test_a_missing_name_or_node_selector_is_told_once_as_required():
    rooms, problems = read([{"display_name": "Salle A"}])
    assert rooms == ()
    assert problems == [
        "UnilimSpawner.rooms[0].name: This key is required.",
        "UnilimSpawner.rooms[0].node_selector: This key is required.",
    ]
    rooms, problems = read([{"name": "salle-b"}])
    assert rooms == ()
    assert problems == ["UnilimSpawner.rooms[0].node_selector: This key is required."]


def test_two_rooms_with_one_name_are_told_by_that_name_and_wrong_names_are_not():
    same = {"name": "salle-a", "node_selector": {ZONE: "salle-a"}}
    _, problems = read([same, same])
    assert problems == [
        "UnilimSpawner.rooms: Two rooms are named 'salle-a': each room needs its own name."
    ]
    wrong = [{"name": f"Salle {n}", "node_selector": {ZONE: f"salle-{n}"}} for n in "AB"]
    rooms, problems = read(wrong)
    assert rooms == ()
    assert [problem.split(":")[0] for problem in problems] == [
        "UnilimSpawner.rooms[0].name",
        "UnilimSpawner.rooms[1].name",
    ]
