"""Group properties as the admin panel edits them: flat strings, parsed without ever raising."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.i18n import describe
from unilim_hub.policy.models import GroupNaming
from unilim_hub.policy.problems import InvalidValue
from unilim_hub.policy.properties import (
    CourseAssignment,
    CourseSwitches,
    course_switches,
    parse_group_properties,
)
from unilim_hub.policy.quotas import QUOTA_FIELDS

GiB = 1024**3


def test_quota_overrides_from_admin_panel_strings():
    parsed = parse_group_properties(
        {
            "quota.servers": "150",
            "quota.cpu": "1.5",
            "quota.memory": "512Mi",
            "quota.priority": "-1",
        }
    )
    assert parsed.quota == {"servers": 150, "cpu": 1500, "memory": 512 * 1024**2, "priority": -1}
    assert parsed.problems == ()


def test_course_profiles_with_teacher_choices():
    parsed = parse_group_properties(
        {
            "course.profiles": "python, spark",
            "course.python.tag": "2025-10-20",
            "course.spark.size": "standard",
            "course.spark.start": "2026-09-01",
            "course.spark.end": "2027-01-31",
        }
    )
    assert parsed.course_profiles == (
        CourseAssignment("python", tag="2025-10-20"),
        CourseAssignment("spark", size="standard", start=date(2026, 9, 1), end=date(2027, 1, 31)),
    )


def test_bad_values_are_reported_and_left_out():
    parsed = parse_group_properties(
        {
            "quota.memory": "4Gx",
            "quota.servers": "12",
            "quota.srevers": "3",
            "course.profiles": "python",
        }
    )
    assert parsed.quota == {"servers": 12}
    assert {problem.key: problem.code for problem in parsed.problems} == {
        "quota.memory": "memory.invalid",
        "quota.srevers": "property.unknown",
    }


def test_settings_for_profiles_not_assigned_are_flagged():
    parsed = parse_group_properties({"course.profiles": "python", "course.r.tag": "latest"})
    assert [problem.code for problem in parsed.problems] == ["property.profile_not_assigned"]


def test_end_before_start_withdraws_the_assignment():
    parsed = parse_group_properties(
        {"course.profiles": "r", "course.r.start": "2026-09-01", "course.r.end": "2026-01-01"}
    )
    assert parsed.course_profiles == (CourseAssignment("r", withdrawn=True),)
    assert parsed.problems[0].code == "dates.end_before_start"


def test_keys_of_others_are_left_alone():
    assert (
        parse_group_properties({"description": "L1 informatique", "color": "blue"}).problems == ()
    )


@pytest.mark.parametrize("typed", ["4 Go", "4Go", "4 Gio", "4G"])
def test_memory_override_in_french_units_is_kept(typed):
    # Issue 9.6: "4 Go" was refused as invalid and the override dropped.
    parsed = parse_group_properties({"quota.server_mem_limit": typed, "quota.memory": "2 To"})
    assert parsed.quota == {"server_mem_limit": 4 * GiB, "memory": 2 * 1024**4}
    assert parsed.problems == ()


def test_json_values_from_the_rest_api():
    parsed = parse_group_properties({"quota.servers": 40, "course.profiles": ["python", "r"]})
    assert parsed.quota == {"servers": 40}
    assert [assignment.profile for assignment in parsed.course_profiles] == ["python", "r"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=5,
)
our_keys = st.sampled_from(
    [
        "quota.servers",
        "quota.cpu",
        "quota.memory",
        "quota.server_mem_limit",
        "quota.priority",
        "course.profiles",
        "course.python.tag",
        "course.python.size",
        "course.python.start",
        "course.python.end",
        "course.x",
        "quota.",
        "course..tag",
    ]
)


@given(st.dictionaries(our_keys | st.text(), json_values | st.text()))
def test_junk_never_raises_and_every_problem_can_be_shown(properties):
    parsed = parse_group_properties(properties)
    for problem in parsed.problems:
        assert problem.key in properties or problem.key.startswith("course.")
        for language in ("fr", "en"):
            assert describe(problem, language).startswith(problem.key)


@given(st.dictionaries(our_keys | st.text(), json_values | st.text()))
def test_every_quota_property_is_read_as_its_parser_reads_it_or_reported(properties):
    # parse_group_properties catches every exception itself, so "never raises" proves
    # nothing: compare with the field's parser, which must raise only InvalidValue.
    parsed = parse_group_properties(properties)
    reported = {problem.key for problem in parsed.problems}
    for key, value in properties.items():
        if not key.startswith("quota."):
            continue
        name = key.removeprefix("quota.")
        try:
            expected = QUOTA_FIELDS[name](value)
        except (KeyError, InvalidValue):
            assert key in reported and name not in parsed.quota
        else:
            assert parsed.quota[name] == expected and key not in reported


@given(st.integers(min_value=0, max_value=10**9))
def test_any_count_typed_as_text_is_read_back(count):
    assert parse_group_properties({"quota.servers": str(count)}).quota == {"servers": count}


def test_an_empty_course_setting_means_the_default():
    parsed = parse_group_properties({"course.profiles": "python", "course.python.tag": ""})
    assert parsed.course_profiles == (CourseAssignment("python"),)


def test_problems_are_told_with_their_values():
    parsed = parse_group_properties(
        {
            "course.profiles": "r",
            "course.r.start": "2026-09-01",
            "course.r.end": "2026-01-01",
            "quota.srevers": "3",
            "course.r.when": "x",
            "course.r.start2": "x",
        }
    )
    said = {problem.key: describe(problem, "en") for problem in parsed.problems}
    assert said["course.r.end"] == (
        "course.r.end: The end (2026-01-01) is before the start (2026-09-01): the profile is"
        " withdrawn from the course until this is fixed."
    )
    assert said["quota.srevers"] == (
        "quota.srevers: Unknown group property: accepted keys are quota.servers, quota.cpu,"
        " quota.memory, quota.server_cpu_limit, quota.server_mem_limit, quota.server_gpu_limit,"
        " quota.named_servers, quota.priority, quota.home_size."
    )
    # Every key a course group may hold, so that an admin sees how to spell the one meant.
    assert said["course.r.when"] == (
        "course.r.when: Unknown group property: accepted keys are course.profiles,"
        " course.<profile>.tag, course.<profile>.size, course.<profile>.start,"
        " course.<profile>.end, course.description, course.folder, course.s3."
    )


def test_a_wrong_date_is_told_with_the_value():
    parsed = parse_group_properties({"course.profiles": "r", "course.r.end": "01/09/2026"})
    (problem,) = parsed.problems
    assert (problem.key, problem.code, dict(problem.params)) == (
        "course.r.end",
        "date.invalid",
        {"value": "01/09/2026"},
    )


def test_a_misspelt_quota_key_does_not_hide_the_keys_after_it():
    parsed = parse_group_properties(
        {"quota.srvers": "1", "quota.servers": "5", "quota.cpus": "2", "quota.cpu": "2"}
    )
    assert parsed.quota == {"servers": 5, "cpu": 2000}
    assert [problem.key for problem in parsed.problems] == ["quota.srvers", "quota.cpus"]


def test_a_profile_whose_name_holds_a_dot_gets_its_course_settings():
    parsed = parse_group_properties(
        {
            "course.profiles": "python.gpu",
            "course.python.gpu.tag": "2026-01",
            "course.python.gpu.size": "large",
        }
    )
    assert parsed.course_profiles == (CourseAssignment("python.gpu", tag="2026-01", size="large"),)
    assert parsed.problems == ()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("on", True),
        ("OFF", False),
        (" off ", False),
        ("true", True),
        ("non", False),
        (False, False),
    ],
)
def test_course_switches_read_as_admins_and_the_service_write_them(typed, expected):
    parsed = parse_group_properties({"course.folder": typed, "course.s3": typed})
    assert (parsed.course_folder, parsed.course_s3, parsed.problems) == (expected, expected, ())


def test_an_unset_switch_is_on_and_a_wrong_one_is_told_and_counts_as_unset():
    assert parse_group_properties({}).course_folder is None
    parsed = parse_group_properties({"course.s3": "maybe", "course.folder": ""})
    assert parsed.course_s3 is None and parsed.course_folder is None
    [problem] = parsed.problems
    assert (problem.key, problem.code) == ("course.s3", "switch.invalid")
    assert "'maybe' is not a switch: write on or off." in describe(problem, "en")


def test_switched_off_courses_come_from_course_groups_only():
    naming = GroupNaming()
    properties = {
        name: parse_group_properties(values)
        for name, values in {
            # Not a course group: no course to switch, and the groups after it still count.
            "student": {"course.folder": "off"},
            "course-info101": {"course.folder": "off"},
            "course-stat202": {"course.s3": "off", "course.folder": "on"},
            "course-bio303": {},
        }.items()
    }
    assert course_switches(properties, naming) == CourseSwitches(
        folder_off=frozenset({"info101"}), s3_off=frozenset({"stat202"})
    )
