"""Which environments a user sees: catalog by group, course profiles first, one default."""

from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.i18n import describe, translate
from unilim_hub.manifests import profile_entry
from unilim_hub.picker import render_picker
from unilim_hub.policy.models import GroupNaming, Profile, Settings, Size, Storage, Text
from unilim_hub.policy.profiles import (
    Chosen,
    choose,
    course_problems,
    malformed,
    offer,
)
from unilim_hub.policy.properties import parse_group_properties
from unilim_hub.policy.refusal import Refusal

EXAMPLE = Path(__file__).parents[2] / "config" / "unilim.yaml"
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def example() -> Settings:
    config = yaml.safe_load(EXAMPLE.read_text())["hub"]["config"]
    return configuration.load(Config(config))


def course(**properties):
    return parse_group_properties(properties)


def slugs(choices):
    return [choice.slug for choice in choices]


def test_student_sees_student_profiles_and_own_course_first(example):
    properties = {
        "course-info101": course(**{"course.profiles": "spark"}),
        "course-stat202": course(**{"course.profiles": "r"}),
    }
    choices = offer({"student", "course-info101"}, properties, example, TODAY).choices
    assert slugs(choices) == ["info101--spark", "python", "r"]
    assert choices[0].display_name("fr") == "info101 — Spark (cours de données massives)"
    assert [choice.default for choice in choices] == [True, False, False]


def test_course_only_profiles_are_hidden_outside_courses(example):
    assert "spark" not in slugs(offer({"student", "staff", "faculty"}, {}, example, TODAY).choices)


def test_staff_see_staff_profiles(example):
    assert slugs(offer({"staff"}, {}, example, TODAY).choices) == ["python", "r", "research"]
    assert "research" not in slugs(offer({"student"}, {}, example, TODAY).choices)


def test_teacher_sees_the_profiles_of_the_course_they_teach(example):
    properties = {"course-info101": course(**{"course.profiles": "spark"})}
    choices = offer({"faculty", "teacher-info101"}, properties, example, TODAY).choices
    assert slugs(choices)[0] == "info101--spark"


def test_course_profile_outside_its_dates_is_hidden(example):
    properties = {
        "course-info101": course(
            **{
                "course.profiles": "spark, r",
                "course.spark.end": "2026-11-24",
                "course.r.start": "2026-11-26",
            }
        )
    }
    assert slugs(offer({"course-info101"}, properties, example, TODAY).choices) == []
    assert slugs(offer({"course-info101"}, properties, example, date(2026, 11, 24)).choices) == [
        "info101--spark"
    ]


def test_pinned_tag_and_size(example):
    properties = {
        "course-info101": course(
            **{
                "course.profiles": "python",
                "course.python.tag": "2025-03-17",
                "course.python.size": "large",
            }
        )
    }
    (choice, *_) = offer({"student", "course-info101"}, properties, example, TODAY).choices
    assert choice.image == "quay.io/jupyter/scipy-notebook:2025-03-17"
    assert [size.slug for size in choice.sizes] == ["large"]


@pytest.mark.parametrize(
    "setting",
    [
        {"course.python.tag": "latest"},  # not one of the profile's tags
        {"course.python.size": "huge"},  # not one of its sizes
        {"course.python.end": "2026-02-30"},  # not a date
        {"course.python.start": "2026-09-01", "course.python.end": "2026-01-31"},
    ],
)
def test_a_wrong_course_setting_withdraws_the_course_profile(example, setting):
    properties = {"course-info101": course(**{"course.profiles": "python"}, **setting)}
    assert slugs(offer({"student", "course-info101"}, properties, example, TODAY).choices) == [
        "python",
        "r",
    ]


def test_what_withdraws_a_course_profile_is_explained(example):
    properties = course(
        **{
            "course.profiles": "python, julia, r, spark",
            "course.python.tag": "latest",
            "course.r.size": "huge",
        }
    )
    problems = {problem.key: problem.code for problem in course_problems(properties, example)}
    assert problems == {
        "course.python.tag": "course.tag_not_allowed",
        "course.profiles": "course.unknown_profile",
        "course.r.size": "course.unknown_size",
    }


def test_a_course_cannot_offer_a_profile_its_students_may_not_use(example):
    properties = {"course-info101": course(**{"course.profiles": "research, spark"})}
    assert slugs(offer({"student", "course-info101"}, properties, example, TODAY).choices) == [
        "info101--spark",
        "python",
        "r",
    ]


def test_sizes_above_the_charged_groups_ceiling_are_not_offered(example):
    student = {"student": course(**{"quota.server_mem_limit": "2G"})}
    (python, _r) = offer({"student"}, student, example, TODAY).choices
    assert [size.slug for size in python.sizes] == ["standard"]
    # The most generous ceiling among the groups that set it wins, field by field (issue 10.2:
    # the student's 4-CPU ceiling of the example stands until staff sets a CPU ceiling too).
    staff = student | {"staff": course(**{"quota.server_mem_limit": "16G", "quota.priority": "30"})}
    assert "research" not in slugs(offer({"student", "staff"}, staff, example, TODAY).choices)
    staff["staff"] = course(**{"quota.server_mem_limit": "16G", "quota.server_cpu_limit": "8"})
    assert "research" in slugs(offer({"student", "staff"}, staff, example, TODAY).choices)


def test_sizes_above_the_course_ceiling_are_not_offered(example):
    properties = {
        "course-info101": course(**{"course.profiles": "python", "quota.server_mem_limit": "2G"})
    }
    (choice, *_) = offer({"student", "course-info101"}, properties, example, TODAY).choices
    assert [size.slug for size in choice.sizes] == ["standard"]


def test_last_choice_is_preselected(example):
    choices = offer({"student"}, {}, example, TODAY, last_choice="r").choices
    assert [choice.slug for choice in choices if choice.default] == ["r"]


def test_user_of_no_allowed_group_sees_nothing(example):
    assert offer({"alumni"}, {}, example, TODAY).choices == ()


# Property-based: random catalogs, group sets, course assignments and dates.
GROUPS = ["student", "staff", "faculty", "course-a", "course-b", "teacher-a", "alumni"]
SIZE = Size("s", Text("s", "s"), 100, 1000, 1024**3, 2 * 1024**3)


@st.composite
def catalogs(draw):
    count = draw(st.integers(min_value=0, max_value=6))
    defaults = draw(st.sets(st.integers(min_value=0, max_value=5), max_size=1))
    return tuple(
        Profile(
            slug=f"p{index}",
            display_name=Text(f"P{index}", f"P{index}"),
            description=Text("", ""),
            image="example/image",
            tags=("t1", "t2"),
            sizes=(SIZE,),
            groups=frozenset(draw(st.sets(st.sampled_from(GROUPS[:3]), max_size=3))),
            default=index in defaults,
            course_only=draw(st.booleans()),
        )
        for index in range(count)
    )


def assignments():
    """Course group properties: random profiles, each with random (maybe reversed) dates."""
    profile_names = st.sampled_from([f"p{i}" for i in range(6)] + ["missing"])
    day = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
    one_course = st.lists(
        st.tuples(profile_names, st.none() | day, st.none() | day),
        max_size=3,
        unique_by=lambda t: t[0],
    ).map(
        lambda items: parse_group_properties(
            {"course.profiles": ", ".join(name for name, _, _ in items)}
            | {f"course.{n}.start": start.isoformat() for n, start, _ in items if start}
            | {f"course.{n}.end": end.isoformat() for n, _, end in items if end}
        )
    )
    return st.dictionaries(st.sampled_from(["course-a", "course-b"]), one_course)


def settings_with(catalog):
    return Settings(groups=GroupNaming(), catalog=catalog, quotas={}, rooms=(), storage=Storage())


@given(
    catalogs(),
    st.sets(st.sampled_from(GROUPS)),
    assignments(),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31)),
    st.one_of(st.none(), st.sampled_from(["p0", "p1", "a--p2", "nothing"])),
)
def test_visibility_properties(catalog, groups, properties, today, last_choice):
    settings = settings_with(catalog)
    choices = offer(groups, properties, settings, today, last_choice).choices
    courses = {
        group.split("-", 1)[1] for group in groups if group.startswith(("course-", "teacher-"))
    }
    for choice in choices:
        allowed = bool(choice.profile.groups & groups)
        if choice.course is None:
            # A catalog profile: allowed to one of the user's groups, never course-only.
            assert allowed and not choice.profile.course_only
            continue
        # A course profile: assigned to a course the user follows or teaches, offered today,
        # and either course-only or a profile the user may use anyway.
        assert choice.course in courses
        (assignment,) = [
            a
            for a in properties[f"course-{choice.course}"].course_profiles
            if a.profile == choice.profile.slug
        ]
        assert not assignment.withdrawn
        assert (assignment.start or today) <= today <= (assignment.end or today)
        assert choice.profile.course_only or allowed
    if choices:
        assert sum(choice.default for choice in choices) == 1
    assert len({choice.slug for choice in choices}) == len(choices)
    # Stable: the same question gets the same answer, in the same order.
    assert offer(sorted(groups), properties, settings, today, last_choice).choices == choices


def test_start_request_matching_the_list_is_chosen(example):
    choices = offer({"student"}, {}, example, TODAY).choices
    decision = choose(choices, {"profile": "python", "size": "large"})
    assert isinstance(decision, Chosen)
    assert (decision.choice.slug, decision.size.slug) == ("python", "large")
    default = choose(choices, {})
    assert isinstance(default, Chosen) and default.choice.slug == "python"
    assert default.size.slug == "standard"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"profile": "research"}, "spawn.profile_not_allowed"),
        ({"profile": "spark"}, "spawn.profile_not_allowed"),
        ({"profile": "info101--spark"}, "spawn.profile_not_allowed"),
        ({"profile": "python", "size": "huge"}, "spawn.option_not_allowed"),
        ({"profile": "python", "size--unlisted-choice": "64G"}, "spawn.option_not_allowed"),
    ],
)
def test_start_request_outside_the_list_is_refused(example, options, code):
    decision = choose(offer({"student"}, {}, example, TODAY), options)
    assert isinstance(decision, Refusal) and decision.code == code


def test_user_with_nothing_visible_is_refused_whatever_they_ask(example):
    assert choose((), {}) == Refusal("spawn.no_profile")


def test_picker_escapes_what_admins_typed(example):
    entry = profile_entry(offer({"student"}, {}, example, TODAY).choices[0], "fr")
    hostile = "<script>alert(1)</script>"
    entry["unilim"]["names"]["fr"] = entry["unilim"]["descriptions"]["fr"] = hostile
    entry["unilim"]["sizes"][0]["names"]["fr"] = hostile
    html = render_picker([entry], "fr")
    assert "<script>alert(1)" not in html
    assert html.count("&lt;script&gt;alert(1)") == 4  # name, description, size (text and data)


def test_course_profile_is_offered_on_its_first_day_and_on_a_one_day_course(example):
    first_day = {
        "course-info101": course(**{"course.profiles": "spark", "course.spark.start": "2026-11-25"})
    }
    assert slugs(offer({"course-info101"}, first_day, example, TODAY).choices) == ["info101--spark"]
    one_day = {
        "course-info101": course(
            **{
                "course.profiles": "spark",
                "course.spark.start": "2026-11-25",
                "course.spark.end": "2026-11-25",
            }
        )
    }
    assert slugs(offer({"course-info101"}, one_day, example, TODAY).choices) == ["info101--spark"]
    assert slugs(offer({"course-info101"}, one_day, example, date(2026, 11, 26)).choices) == []
    assert slugs(offer({"course-info101"}, one_day, example, date(2026, 11, 24)).choices) == []


def test_sizes_above_the_cpu_ceiling_are_not_offered(example):
    # The example's python sizes ask 2 and 4 CPU: a 3-CPU ceiling keeps only the first.
    student = {"student": course(**{"quota.server_cpu_limit": "3"})}
    (python, _r) = offer({"student"}, student, example, TODAY).choices
    assert [size.slug for size in python.sizes] == ["standard"]
    student = {"student": course(**{"quota.server_cpu_limit": "1"})}
    assert offer({"student"}, student, example, TODAY).choices == ()


def refusal_of(example, groups, properties, options=None, today=TODAY):
    decision = choose(offer(groups, properties, example, today), {} if options is None else options)
    assert isinstance(decision, Refusal)
    return decision


def test_student_below_every_size_is_told_the_admins_limit_not_her_groups(example):
    # Issue 9.5's input: quota.server_mem_limit = 1G on student, below every size.
    properties = {"student": course(**{"quota.server_mem_limit": "1G"})}
    refused = refusal_of(example, {"student"}, properties)
    assert refused.code == "spawn.nothing_above_ceiling"
    assert refused.params["group"] == "student"
    assert refused.params["setting"] == "quota.server_mem_limit"
    assert refused.params["value"] == "1G"
    assert refused.limit is not None and refused.limit.group == "student"
    # Asking for one profile by name gets the same cause, for that profile.
    named = refusal_of(example, {"student"}, properties, {"profile": "r"})
    assert (named.code, named.params["profile"]) == ("spawn.above_ceiling", "r")


def test_course_whose_ceiling_is_below_its_pinned_size_is_explained(example):
    # The same kind: the course pins "large" (4G) and caps its servers at 2G.
    properties = {
        "course-info101": course(
            **{
                "course.profiles": "spark",
                "quota.server_mem_limit": "2G",
            }
        )
    }
    refused = refusal_of(example, {"course-info101"}, properties)
    assert refused.code == "spawn.nothing_above_ceiling"
    assert (refused.params["group"], refused.params["needed"]) == ("course-info101", "6G")
    pinned = {
        "student": course(),
        "course-info101": course(
            **{
                "course.profiles": "python",
                "course.python.size": "large",
                "quota.server_mem_limit": "2G",
            }
        ),
    }
    named = refusal_of(
        example, {"student", "course-info101"}, pinned, {"profile": "info101--python"}
    )
    assert named.code == "spawn.above_ceiling"
    assert named.params["setting"] == "quota.server_mem_limit"
    assert named.params["size"] == "large"


def test_course_outside_its_dates_says_the_dates(example):
    properties = {
        "course-stat202": course(**{"course.profiles": "spark", "course.spark.end": "2020-01-31"})
    }
    refused = refusal_of(example, {"course-stat202"}, properties)
    assert refused.code == "spawn.nothing_outside_course_dates"
    assert refused.params == {"course": "stat202", "start": "…", "end": "2020-01-31"}


def test_course_with_a_wrong_setting_says_so(example):
    properties = {
        "course-info101": course(**{"course.profiles": "spark", "course.spark.tag": "latest"})
    }
    refused = refusal_of(example, {"course-info101"}, properties)
    assert refused.code == "spawn.nothing_course_setting_wrong"


def test_only_the_groups_are_blamed_when_the_groups_are_the_cause(example):
    assert refusal_of(example, {"alumni"}, {}).code == "spawn.no_profile"


@pytest.mark.parametrize(
    ("options", "code"),
    [
        (False, "spawn.options_not_object"),
        ("xl", "spawn.options_not_object"),
        ([], "spawn.options_not_object"),
        ({"profile": "python", "image": "evil"}, "spawn.option_unknown"),
        ({"profile": ["python"]}, "spawn.option_not_text"),
        ({"size": "s" * 201}, "spawn.option_too_long"),
    ],
)
def test_malformed_start_request_is_refused_as_malformed(example, options, code):
    refused = refusal_of(example, {"student"}, {}, options)
    assert (refused.code, refused.status) == (code, 400)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=6,
    )
)
def test_any_json_start_body_is_chosen_or_refused_with_a_message(body):
    choices = offer({"student"}, {}, settings_with(()), TODAY)
    decision = choose(choices, body)
    assert isinstance(decision, Refusal)  # nothing is offered in an empty catalog
    for value in decision.params.values():
        assert "\n" not in value and len(value) <= 200


def test_picker_attributes_are_quoted_in_both_languages(example):
    entry = profile_entry(offer({"student"}, {}, example, TODAY).choices[0], "fr")
    hostile = 'x" onmouseover="alert(1)'
    for lang in ("fr", "en"):
        entry["unilim"]["names"][lang] = entry["unilim"]["sizes"][0]["names"][lang] = hostile
    attributes = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes.extend(name for name, _ in attrs)

    Collect().feed(render_picker([entry], "fr"))
    assert "onmouseover" not in attributes
    assert {"data-fr", "data-en"} <= set(attributes)


def test_what_withdraws_a_course_profile_is_explained_with_the_accepted_values(example):
    properties = course(
        **{
            "course.profiles": "python, julia, r",
            "course.python.size": "huge",
            "course.r.tag": "latest",
        }
    )
    said = {p.key: describe(p, "en") for p in course_problems(properties, example)}
    assert said == {
        "course.profiles": "course.profiles: 'julia' is not a profile of the catalog: this"
        " course does not offer it. Choose one of the catalog's profiles.",
        "course.r.tag": "course.r.tag: Image tag 'latest' is not allowed for this"
        " profile (allowed: 2025-10-20): the course does not offer it until this is fixed.",
        "course.python.size": "course.python.size: 'huge' is not a size of this profile"
        " (standard, large): the course does not offer it until this is fixed.",
    }
    pinned = course(**{"course.profiles": "python", "course.python.size": "large"})
    assert course_problems(pinned, example) == ()


def test_names_shown_for_catalog_and_course_profiles(example):
    properties = {"course-info101": course(**{"course.profiles": "python"})}
    info, python, r = offer({"student", "course-info101"}, properties, example, TODAY).choices
    assert python.display_name("en") == "Python (data science)"
    assert python.display_name("fr") == "Python (science des données)"
    assert info.display_name("en") == "info101 — Python (data science)"
    assert r.description.get("fr") == "JupyterLab avec R, le tidyverse et IRkernel."


def test_a_cpu_ceiling_is_told_in_cores(example):
    properties = {"student": course(**{"quota.server_cpu_limit": "1.5"})}
    refused = refusal_of(example, {"student"}, properties)
    assert refused.params == {
        "group": "student",
        "setting": "quota.server_cpu_limit",
        "value": "1.5",
        "needed": "2",
        "size": "standard",
    }


def test_a_course_not_yet_started_says_its_first_day_and_a_named_start_too(example):
    properties = {
        "course-info101": course(**{"course.profiles": "spark", "course.spark.start": "2026-12-01"})
    }
    refused = refusal_of(example, {"course-info101"}, properties)
    assert refused.params == {"course": "info101", "start": "2026-12-01", "end": "…"}
    named = refusal_of(
        example, {"student", "course-info101"}, properties, {"profile": "info101--spark"}
    )
    assert named.code == "spawn.outside_course_dates"
    assert named.params["profile"] == "info101--spark"


def test_a_malformed_request_says_what_it_got_and_what_is_expected():
    assert malformed(False) == Refusal(
        "spawn.options_not_object", {"value": "False", "expected": "profile, size"}, status=400
    )
    assert malformed({"profile": "python", "size": "large"}) is None
    assert malformed({"size--unlisted-choice": "64G"}) is None  # refused later, as not offered
    assert malformed({"profile": None}) is None


def test_a_wrong_tag_lists_every_allowed_tag(example):
    properties = course(**{"course.profiles": "python", "course.python.tag": "latest"})
    (problem,) = course_problems(properties, example)
    assert problem.params == {"tag": "latest", "allowed": "2025-10-20, 2025-03-17"}


def test_a_refusal_names_what_was_asked(example):
    choices = offer({"student"}, {}, example, TODAY)
    assert choose(choices, {"profile": "python", "size": "huge"}) == Refusal(
        "spawn.option_not_allowed", {"profile": "python", "option": "huge"}
    )
    assert choose(choices, {"profile": "python", "size--unlisted-choice": "64G"}) == Refusal(
        "spawn.option_not_allowed", {"profile": "python", "option": "64G"}
    )
    assert choose(choices, {"profile": ["python"]}) == Refusal(
        "spawn.option_not_text", {"key": "profile", "value": "['python']"}, status=400
    )


def test_options_up_to_200_characters_are_names_longer_ones_are_not(example):
    choices = offer({"student"}, {}, example, TODAY)
    assert choose(choices, {"profile": "p" * 200}).code == "spawn.profile_not_allowed"
    assert choose(choices, {"profile": "p" * 201}).code == "spawn.option_too_long"


def test_another_profile_is_not_blamed_on_a_hidden_ones_cause(example):
    properties = {
        "course-stat202": course(**{"course.profiles": "r", "course.r.end": "2020-01-31"})
    }
    found = offer({"student", "course-stat202"}, properties, example, TODAY)
    assert [hidden.slug for hidden in found.hidden] == ["stat202--r"]
    assert choose(found, {"profile": "research"}).code == "spawn.profile_not_allowed"
    assert choose(found, {"profile": "stat202--r"}).code == "spawn.outside_course_dates"


def test_a_profile_the_user_may_not_use_hides_none_listed_after_it(example):
    python, r, research, spark = example.catalog
    research_first = replace(example, catalog=(research, python, r, spark))
    assert slugs(offer({"student"}, {}, research_first, TODAY).choices) == ["python", "r"]


def test_the_catalog_default_is_preselected_wherever_it_stands_in_the_catalog(example):
    python, r, research, spark = example.catalog
    research_first = replace(example, catalog=(research, python, r, spark))
    staff = offer({"staff"}, {}, research_first, TODAY).choices
    assert [(c.slug, c.default) for c in staff] == [
        ("research", False),
        ("python", True),
        ("r", False),
    ]


def test_a_course_profile_withdrawn_by_a_wrong_setting_is_refused_naming_its_course(example):
    properties = {
        "course-info101": course(**{"course.profiles": "spark", "course.spark.tag": "latest"})
    }
    asked = choose(
        offer({"student", "course-info101"}, properties, example, TODAY),
        {"profile": "info101--spark"},
    )
    assert isinstance(asked, Refusal)
    assert translate(asked.code, "en", **asked.params) == (
        "The environment 'info101--spark' of the course info101 is not offered until a mistake"
        " in the course's settings is fixed (the hub log says which). Please tell your teacher."
    )
    nothing = refusal_of(example, {"course-info101"}, properties)
    assert translate(nothing.code, "en", **nothing.params) == (
        "No environment is available to you: the environment of the course info101 is not"
        " offered until a mistake in the course's settings is fixed (the hub log says which)."
        " Please tell your teacher."
    )


def test_a_course_profile_its_students_may_not_use_is_not_theirs_whatever_its_size(example):
    # research is for staff, and above the student ceiling: the ceiling is not the reason.
    properties = {"course-info101": course(**{"course.profiles": "research"})}
    found = offer({"student", "course-info101"}, properties, example, TODAY)
    assert found.hidden == ()
    assert choose(found, {"profile": "info101--research"}).code == "spawn.profile_not_allowed"
