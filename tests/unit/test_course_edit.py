"""A teacher's change to a course: checked like a spawn reads it, other keys kept."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.courses import SETTINGS_VARIABLE
from unilim_hub.courses.access import courses_of, manages_all, may_manage
from unilim_hub.courses.launch import ROLE_NAME, course_service
from unilim_hub.courses.status import (
    Room,
    latest_refusals,
    may_see_status,
    property_problems,
    read_metrics,
)
from unilim_hub.i18n import translate
from unilim_hub.policy.course_edit import (
    apply_change,
    course_settings,
    form_change,
    offered_switches,
    replacing,
    switch_state,
)
from unilim_hub.policy.models import GroupNaming, GroupQuota, S3Mode, Settings
from unilim_hub.policy.settings import build_settings

EXAMPLE = Path(__file__).parents[2] / "config" / "unilim.yaml"
ADMINS = {"quota.servers": "50", "note": "room B12"}
GIB = 1024**3


@pytest.fixture(scope="module")
def example() -> Settings:
    config = yaml.safe_load(EXAMPLE.read_text())["hub"]["config"]
    return configuration.load(Config(config))


def codes(edited):
    return [(problem.key, problem.code) for problem in edited.problems]


def test_a_change_keeps_every_key_it_does_not_name(example):
    current = ADMINS | {"course.profiles": "python", "course.python.tag": "2025-10-20"}
    edited = apply_change(current, {"course.python.size": "large"}, "course-info101", example)

    assert edited.problems == ()
    assert edited.properties == current | {"course.python.size": "large"}
    assert edited.changed == {"course.python.size": (None, "large")}


def test_none_or_an_empty_text_removes_a_key(example):
    current = {"course.profiles": "python", "course.python.tag": "2025-10-20", "x": "1"}
    for removed in (None, "", "  "):
        edited = apply_change(current, {"course.python.tag": removed}, "course-a", example)
        assert edited.properties == {"course.profiles": "python", "x": "1"}


def test_taking_a_profile_out_drops_its_settings(example):
    current = {
        "course.profiles": "python, r",
        "course.python.size": "large",
        "course.r.end": "2027-01-31",
    }
    edited = apply_change(current, {"course.profiles": "r"}, "course-a", example)
    assert edited.properties == {"course.profiles": "r", "course.r.end": "2027-01-31"}
    assert edited.problems == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"quota.servers": "999"}, [("quota.servers", "property.unknown")]),
        ({"course.python.colour": "red"}, [("course.python.colour", "property.unknown")]),
        ({"course.profiles": 3}, [("course.profiles", "value.not_text")]),
        ({"course.description": "x" * 2001}, [("course.description", "course.value_too_long")]),
        (
            {"course.profiles": "python", "course.python.size": "huge"},
            [("course.python.size", "course.unknown_size")],
        ),
        (
            {"course.profiles": "python", "course.python.tag": "latest"},
            [("course.python.tag", "course.tag_not_allowed")],
        ),
        ({"course.profiles": "nope"}, [("course.profiles", "course.unknown_profile")]),
        ({"course.profiles": "Python!"}, [("course.profiles", "name.invalid")]),
        (
            {"course.profiles": "r", "course.r.start": "tomorrow"},
            [("course.r.start", "date.invalid")],
        ),
        (
            {"course.profiles": "r", "course.r.start": "2027-02-01", "course.r.end": "2027-01-31"},
            [("course.r.end", "dates.end_before_start")],
        ),
    ],
)
def test_a_wrong_change_is_refused_and_named(example, change, expected):
    current = dict(ADMINS)
    edited = apply_change(current, change, "course-info101", example)
    assert codes(edited) == expected
    for problem in edited.problems:  # every problem says what to do, in both languages
        for language in ("fr", "en"):
            assert translate(problem.code, language, **problem.params)


def test_a_pinned_size_above_the_courses_ceiling_is_refused(example):
    current = {"quota.server_mem_limit": "2G", "course.profiles": "python"}
    edited = apply_change(current, {"course.python.size": "large"}, "course-info101", example)
    assert codes(edited) == [("course.python.size", "course.size_above_ceiling")]
    message = translate(edited.problems[0].code, "en", **edited.problems[0].params)
    assert "quota.server_mem_limit = 2G" in message


def test_a_teacher_switches_the_course_folder_and_s3_data_off_and_on_again(example):
    edited = apply_change(ADMINS, {"course.folder": "off", "course.s3": "off"}, "c-a", example)
    assert edited.problems == ()
    assert edited.changed == {"course.folder": (None, "off"), "course.s3": (None, "off")}
    edited = apply_change(edited.properties, {"course.folder": "on"}, "c-a", example)
    assert edited.problems == () and edited.properties["course.folder"] == "on"
    wrong = apply_change(ADMINS, {"course.folder": "maybe"}, "c-a", example)
    assert codes(wrong) == [("course.folder", "switch.invalid")]


def test_a_switch_the_admins_turned_off_cannot_be_switched_on(example):
    storage = replace(
        example.storage, course_folders=False, s3=replace(example.storage.s3, mode=S3Mode.OFF)
    )
    settings = replace(example, storage=storage)
    edited = apply_change(ADMINS, {"course.folder": "on", "course.s3": "yes"}, "c-a", settings)
    assert codes(edited) == [
        ("course.folder", "course.folder_not_offered"),
        ("course.s3", "course.s3_not_offered"),
    ]
    assert "UnilimSpawner.s3_mode = off" in translate("course.s3_not_offered", "en")
    # Switching off, or another edit while an old "on" is stored, stays possible.
    assert apply_change(ADMINS, {"course.folder": "off"}, "c-a", settings).problems == ()
    stored = ADMINS | {"course.s3": "on"}
    assert apply_change(stored, {"course.description": "x"}, "c-a", settings).problems == ()


def test_the_page_shows_a_switch_on_when_unset_and_a_wrong_one_as_stored(example):
    assert switch_state({}, "course.folder") == "on"
    assert switch_state({"course.folder": "OFF"}, "course.folder") == "off"
    assert switch_state({"course.s3": "maybe"}, "course.s3") == "maybe"  # a save fixes it
    assert offered_switches(example) == {"course.folder": True, "course.s3": True}
    storage = replace(example.storage, s3=replace(example.storage.s3, mode=S3Mode.OFF))
    offered = offered_switches(replace(example, storage=storage))
    assert offered == {"course.folder": True, "course.s3": False}


def test_a_refused_change_leaves_the_settings_as_they_were(example):
    current = ADMINS | {"course.profiles": "python"}
    edited = apply_change(current, {"course.profiles": "r", "note": "x"}, "course-a", example)
    assert codes(edited) == [("note", "property.unknown")]
    assert edited.properties == current and edited.changed == {}


def test_removing_a_key_that_is_not_set_changes_nothing(example):
    edited = apply_change(ADMINS, {"course.description": None}, "course-a", example)
    assert edited.problems == ()
    assert edited.properties == ADMINS and edited.changed == {}


def test_a_change_records_each_keys_value_before_and_after(example):
    current = {"course.profiles": "python, r", "course.python.size": "large"}
    edited = apply_change(current, {"course.profiles": "r"}, "course-a", example)
    assert edited.changed == {
        "course.profiles": ("python, r", "r"),
        "course.python.size": ("large", None),
    }


def test_an_unknown_key_is_told_every_key_a_teacher_may_set(example):
    edited = apply_change(ADMINS, {"quota.servers": "999"}, "course-a", example)
    assert [problem.params for problem in edited.problems] == [
        {
            "expected": "course.profiles, course.<profile>.tag, course.<profile>.size, "
            "course.<profile>.start, course.<profile>.end, course.description, "
            "course.folder, course.s3"
        }
    ]


def test_a_value_that_is_not_text_is_shown_as_it_was_sent(example):
    edited = apply_change(ADMINS, {"course.profiles": ["python"]}, "course-a", example)
    assert [(p.code, p.params) for p in edited.problems] == [
        ("value.not_text", {"value": "['python']"})
    ]


@pytest.mark.parametrize(
    ("key", "limit"),
    [("course.description", 2000), ("course.python.tag", 200), ("course.profiles", 200)],
)
def test_a_value_of_the_longest_length_is_kept_and_one_character_more_refused(example, key, limit):
    at_limit = apply_change(ADMINS, {key: "x" * limit}, "course-a", example)
    assert "course.value_too_long" not in [code for _, code in codes(at_limit)]
    too_long = apply_change(ADMINS, {key: "x" * (limit + 1)}, "course-a", example)
    assert [(p.key, p.code, p.params) for p in too_long.problems] == [
        (key, "course.value_too_long", {"max": str(limit)})
    ]


def test_a_pinned_size_above_the_ceiling_the_admins_set_for_the_course_is_refused(example):
    quota = GroupQuota("course-info101", server_mem_limit=2 * GIB)
    settings = replace(example, quotas=dict(example.quotas) | {"course-info101": quota})
    change = {"course.profiles": "python", "course.python.size": "large"}
    edited = apply_change({}, change, "course-info101", settings)
    assert [(p.key, p.code, p.params) for p in edited.problems] == [
        (
            "course.python.size",
            "course.size_above_ceiling",
            {
                "group": "course-info101",
                "setting": "UnilimSpawner.group_quotas['course-info101'].server_mem_limit",
                "value": "2G",
                "needed": "4G",
                "size": "large",
            },
        )
    ]
    assert apply_change({}, change, "course-stat202", settings).problems == ()


def test_a_size_pinned_for_an_unknown_profile_is_told_as_the_unknown_profile(example):
    change = {"course.profiles": "nope", "course.nope.size": "large"}
    edited = apply_change({}, change, "course-a", example)
    assert codes(edited) == [("course.profiles", "course.unknown_profile")]


def test_a_wrong_switch_is_told_once_even_where_the_admins_turned_it_off(example):
    settings = replace(example, storage=replace(example.storage, course_folders=False))
    edited = apply_change(ADMINS, {"course.folder": "maybe"}, "c-a", settings)
    assert codes(edited) == [("course.folder", "switch.invalid")]


@pytest.mark.parametrize(
    ("stored", "shown_"),
    [("", "on"), ("on", "on"), ("yes", "on"), ("off", "off"), ("non", "off")],
)
def test_the_page_shows_a_stored_switch_as_on_or_off(stored, shown_):
    assert switch_state({"course.folder": stored}, "course.folder") == shown_


def test_put_replaces_the_course_settings_only(example):
    current = ADMINS | {"course.profiles": "python", "course.python.size": "large"}
    change = replacing(current, {"course.profiles": "r"})
    assert change == {"course.python.size": None, "course.profiles": "r"}
    edited = apply_change(current, change, "course-a", example)
    assert edited.properties == ADMINS | {"course.profiles": "r"}
    assert course_settings(edited.properties) == {"course.profiles": "r"}


def test_a_form_sends_only_what_the_teacher_changed_against_the_current_values():
    # The form showed python only; a colleague added r since, and set python's tag.
    current = {"course.profiles": "python, r", "course.python.tag": "2025-03-17"}
    edited = {
        "course.python.tag": ("", ""),  # untouched: the colleague's tag is kept
        "course.python.size": ("", "large"),
        "course.description": ("", ""),
    }
    change = form_change(current, edited, added=("spark",), removed=())
    assert change == {"course.python.size": "large", "course.profiles": "python, r, spark"}
    assert form_change(current, {}, added=(), removed=("python", "r")) == {"course.profiles": None}
    assert form_change(current, {}, added=("r",), removed=()) == {}


NAMING = GroupNaming(affiliations=frozenset({"student"}))


@pytest.mark.parametrize(
    ("scopes", "group", "allowed"),
    [
        ({"custom:courses:manage!group=course-info101"}, "course-info101", True),
        ({"custom:courses:manage!group=course-info101"}, "course-stat202", False),
        ({"custom:courses:manage"}, "course-stat202", True),
        ({"groups"}, "course-stat202", True),
        ({"groups!group=course-stat202"}, "course-stat202", True),
        ({"read:groups", "self"}, "course-info101", False),
        (set(), "course-info101", False),
    ],
)
def test_scopes_decide_who_manages_which_course(scopes, group, allowed):
    assert may_manage(scopes, group) is allowed


def test_a_teachers_courses_come_from_their_scopes_filters():
    scopes = {
        "custom:courses:manage!group=course-info101",
        "groups!group=course-stat202",
        "custom:courses:manage!group=student",  # not a course group
        "read:groups!group=course-algo",  # not a managing scope
        "access:services!service=courses",
    }
    assert courses_of(scopes, NAMING) == {"course-info101", "course-stat202"}
    assert not manages_all(scopes)
    assert manages_all({"groups", "self"})


def test_the_service_reads_the_same_settings_as_the_hub(example):
    config = Config(yaml.safe_load(EXAMPLE.read_text())["hub"]["config"])
    service, role = course_service(config, url="http://127.0.0.1:10101", state_dir="/srv/courses")

    rebuilt, problems = build_settings(json.loads(service["environment"][SETTINGS_VARIABLE]))
    assert problems == ()
    assert rebuilt == example
    assert service["oauth_client_allowed_scopes"] == [
        "custom:courses:manage",
        "groups",
        "read:metrics",
    ]
    assert role == {
        "name": ROLE_NAME,
        "scopes": [
            "groups",
            "list:users",
            "read:servers",
            "admin:server_state",
            "read:metrics",
            "custom:unilim:read:refusals",
        ],
        "services": ["courses"],
    }


METRICS = """\
# TYPE unilim_group_usage gauge
unilim_group_usage{group="student",resource="servers"} 3.0
unilim_group_usage{group="student",resource="memory"} 3.221225472e+09
# TYPE unilim_group_limit gauge
unilim_group_limit{group="student",resource="servers"} 900.0
# TYPE unilim_room_open gauge
unilim_room_open{room="salle-a"} 1.0
unilim_room_open{room="salle-b"} 0.0
# TYPE unilim_room_servers gauge
unilim_room_servers{room="salle-a"} 3.0
# TYPE unilim_room_nodes gauge
unilim_room_nodes{room="salle-a",state="total"} 2.0
unilim_room_nodes{room="salle-a",state="ready"} 1.0
# TYPE unilim_room_capacity gauge
unilim_room_capacity{resource="servers",room="salle-a"} 250.0
unilim_room_capacity{resource="cpu",room="salle-a"} 56.0
unilim_room_capacity{resource="memory",room="salle-a"} 5.49755813888e+11
# TYPE unilim_room_free gauge
unilim_room_free{resource="servers",room="salle-a"} 247.0
unilim_room_free{resource="cpu",room="salle-a"} 55.5
unilim_room_free{resource="memory",room="salle-a"} 5.46534588416e+11
# TYPE unilim_spawn_refusals counter
unilim_spawn_refusals_total{reason="spawn.profile_not_allowed"} 2.0
"""


def test_the_status_reads_usage_rooms_and_refusals_from_the_hubs_metrics():
    status = read_metrics(METRICS)
    assert status.usage == {"student": {"servers": (3.0, 900.0), "memory": (3.221225472e09, None)}}
    assert status.rooms == {
        "salle-a": Room(
            open=True,
            servers=3.0,
            nodes_ready=1.0,
            nodes=2.0,
            free={"servers": 247.0, "cpu": 55.5, "memory": 509 * GIB},
            capacity={"servers": 250.0, "cpu": 56.0, "memory": 512 * GIB},
        ),
        "salle-b": Room(open=False),  # nodes and capacity not recorded yet: shown as —
    }
    assert status.refusals == {"spawn.profile_not_allowed": 2.0}


def test_the_latest_refusals_keep_the_hubs_order_and_text_as_it_is():
    items = [
        {
            "at": "2026-11-30T22:01:02+00:00",
            "user": "<b>eve</b>",
            "reason": "quota.servers",
            "message": "Limit reached",
        },
        {
            "at": "2026-11-30T22:00:00+00:00",
            "user": "bob",
            "reason": "spawn.profile_not_allowed",
            "message": "Not allowed",
        },
    ]
    latest = latest_refusals(items)
    assert latest is not None
    assert [(r.user, r.reason) for r in latest] == [
        ("<b>eve</b>", "quota.servers"),
        ("bob", "spawn.profile_not_allowed"),
    ]
    assert latest_refusals(None) is None  # the hub does not serve them: the page says so


def test_the_status_names_every_wrong_group_property(example):
    groups = [
        {"name": "student", "properties": {"quota.servers": "many", "note": "x"}},
        {
            "name": "course-a",
            "properties": {"course.profiles": "python", "course.python.size": "xl"},
        },
        {"name": "course-b", "properties": {"course.profiles": "python"}},
    ]
    problems = property_problems(groups, example)
    assert {group: [p.key for p in found] for group, found in problems.items()} == {
        "course-a": ["course.python.size"],
        "student": ["quota.servers"],
    }


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        ({"read:metrics", "groups", "read:groups", "list:groups"}, True),  # as the hub expands them
        ({"read:metrics", "read:groups"}, True),
        ({"read:metrics", "read:groups!group=course-a"}, False),
        ({"custom:courses:manage!group=course-a", "read:groups"}, False),
    ],
)
def test_only_admins_see_the_status(scopes, allowed):
    assert may_see_status(scopes) is allowed
