"""Per-server ceilings from several groups: the most generous that is set, field by field."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.i18n import translate
from unilim_hub.policy.models import GroupNaming, GroupQuota, Size, Text
from unilim_hub.policy.quotas import (
    CEILING_FIELDS,
    Ceiling,
    charged_quota,
    course_ceiling,
    user_ceiling,
)

GiB = 1024**3
NAMING = GroupNaming()


def ceiling_of(groups, overrides, baseline=None):
    return user_ceiling(groups, baseline or {}, overrides, NAMING)


def test_joining_a_course_that_caps_servers_keeps_the_students_memory_ceiling():
    # Issue 10.2's input: the documented course example sets servers and priority only.
    baseline = {
        "student": GroupQuota("student", server_mem_limit=2 * GiB, priority=10),
        "course-info101": GroupQuota("course-info101", servers=150, priority=20),
    }
    ceiling = ceiling_of({"student", "course-info101"}, {}, baseline)
    assert ceiling.mem is not None and ceiling.mem.value == 2 * GiB
    assert ceiling.mem.group == "student"
    # And for the course's own profiles: the course sets no memory ceiling, the user's holds.
    course = course_ceiling("course-info101", ceiling, baseline, {})
    assert course.mem == ceiling.mem


def test_a_higher_priority_group_without_a_cpu_ceiling_does_not_lift_it():
    # Another input of the same kind: staff has priority and a memory ceiling, no CPU one.
    overrides = {
        "student": {"server_cpu_limit": 2000, "server_mem_limit": 2 * GiB},
        "staff": {"server_mem_limit": 16 * GiB, "priority": 30},
    }
    ceiling = ceiling_of({"student", "staff"}, overrides)
    assert (ceiling.cpu.value, ceiling.cpu.group) == (2000, "student")
    assert (ceiling.mem.value, ceiling.mem.group) == (16 * GiB, "staff")
    assert ceiling.cpu.setting == "quota.server_cpu_limit"


def test_the_most_generous_ceiling_wins_and_names_its_setting():
    baseline = {"faculty": GroupQuota("faculty", server_cpu_limit=8000)}
    overrides = {"staff": {"server_cpu_limit": 4000}}
    ceiling = ceiling_of({"staff", "faculty"}, overrides, baseline)
    assert ceiling.cpu.value == 8000
    assert ceiling.cpu.setting == "UnilimSpawner.group_quotas['faculty'].server_cpu_limit"


def test_a_course_ceiling_applies_to_its_own_profiles_only():
    overrides = {"course-info101": {"server_mem_limit": 1 * GiB}}
    user = ceiling_of({"student", "course-info101"}, overrides)
    assert user == Ceiling()  # no limit on catalog profiles
    course = course_ceiling("course-info101", user, {}, overrides["course-info101"])
    assert course.mem.value == 1 * GiB and course.cpu is None


def test_the_cpu_half_of_the_ceiling_blocks_a_size():
    ceiling = ceiling_of({"student"}, {"student": {"server_cpu_limit": 2000}})
    assert ceiling.blocking(size(cpu=2000, mem=64 * GiB)) is None
    assert ceiling.blocking(size(cpu=2001, mem=1)) == ceiling.cpu


def test_a_gpu_size_is_above_a_ceiling_of_no_gpu():
    ceiling = ceiling_of({"student"}, {"student": {"server_gpu_limit": 0}})
    assert ceiling.blocking(size(cpu=1000, mem=GiB)) is None
    assert ceiling.blocking(size(cpu=1000, mem=GiB, gpu=1)) == ceiling.gpu
    assert ceiling.gpu.setting == "quota.server_gpu_limit"


def test_a_course_grants_gpus_to_its_own_profiles_only():
    overrides = {"student": {"server_gpu_limit": 0}, "course-dl": {"server_gpu_limit": 1}}
    user = ceiling_of({"student", "course-dl"}, overrides)
    course = course_ceiling("course-dl", user, {}, overrides["course-dl"])
    assert user.blocking(size(cpu=1000, mem=GiB, gpu=1)) == user.gpu
    assert course.blocking(size(cpu=1000, mem=GiB, gpu=1)) is None


def size(cpu: int, mem: int, gpu: int = 0) -> Size:
    return Size("s", Text("s", "s"), cpu, cpu, mem, mem, gpu)


GROUPS = st.sampled_from(["student", "staff", "faculty", "teacher-a", "course-a", "course-b"])
quota_sets = st.dictionaries(
    GROUPS,
    st.fixed_dictionaries(
        {},
        optional={name: st.integers(min_value=0, max_value=10**12) for name in CEILING_FIELDS},
    ),
)


@given(st.sets(GROUPS), quota_sets, GROUPS, st.sampled_from(CEILING_FIELDS))
def test_joining_a_group_that_leaves_a_field_out_never_changes_that_fields_ceiling(
    groups, overrides, joined, field
):
    overrides = {
        **overrides,
        joined: {k: v for k, v in overrides.get(joined, {}).items() if k != field},
    }
    before = ceiling_of(groups - {joined}, overrides)
    after = ceiling_of(groups | {joined}, overrides)
    index = CEILING_FIELDS.index(field)
    value = lambda ceiling: getattr(ceiling, ("cpu", "mem", "gpu")[index])  # noqa: E731
    assert (value(before) and value(before).value) == (value(after) and value(after).value)


@given(st.sets(GROUPS), quota_sets)
def test_the_ceiling_is_the_largest_value_set_by_a_non_course_group(groups, overrides):
    ceiling = ceiling_of(groups, overrides)
    for field, limit in zip(CEILING_FIELDS, (ceiling.cpu, ceiling.mem, ceiling.gpu), strict=True):
        values = [
            overrides[g][field]
            for g in groups
            if g in overrides and field in overrides[g] and not g.startswith("course-")
        ]
        assert (limit.value if limit else None) == (max(values) if values else None)


def test_a_course_cpu_ceiling_replaces_the_users_for_its_profiles():
    user = ceiling_of({"student"}, {"student": {"server_cpu_limit": 2000}})
    course = course_ceiling("course-a", user, {}, {"server_cpu_limit": 8000})
    assert (course.cpu.value, course.cpu.group) == (8000, "course-a")
    assert course.mem is None
    kept = course_ceiling("course-a", user, {}, {})
    assert kept.cpu == user.cpu


def test_a_server_is_charged_to_the_highest_priority_group_with_a_quota():
    # charged_quota is not how ceilings combine; it says which group a server counts against.
    baseline = {
        "student": GroupQuota("student", servers=900, priority=10),
        "staff": GroupQuota("staff", servers=100, priority=20),
    }
    assert charged_quota({"student", "staff"}, baseline, {}).group == "staff"
    # A group property raises a priority, and gives a group without a baseline a quota.
    raised = charged_quota({"student", "staff"}, baseline, {"student": {"priority": 30}})
    assert (raised.group, raised.servers, raised.priority) == ("student", 900, 30)
    club = charged_quota({"student", "faculty"}, baseline, {"faculty": {"priority": 50}})
    assert (club.group, club.servers) == ("faculty", None)
    # Ties go to the name that sorts first; no quota at all is None.
    tied = {"staff": GroupQuota("staff", priority=5), "faculty": GroupQuota("faculty", priority=5)}
    assert charged_quota(["staff", "faculty"], tied, {}).group == "faculty"
    assert charged_quota({"alumni"}, baseline, {}) is None


def test_a_course_without_a_gpu_ceiling_keeps_the_users_for_its_profiles():
    user = ceiling_of({"student"}, {"student": {"server_gpu_limit": 0}})
    course = course_ceiling("course-a", user, {}, {"server_mem_limit": 8 * GiB})
    assert course.blocking(size(cpu=1000, mem=GiB, gpu=1)) == user.gpu


def test_a_configured_quota_is_charged_to_the_group_it_names():
    loaded, problems = configuration.check(
        Config({"UnilimSpawner": {"group_quotas": {"/student": {"servers": 10}}}})
    )
    assert problems == ()
    charged = charged_quota({"student", "course-a"}, loaded.quotas, {})
    assert (charged.group, charged.servers) == ("student", 10)


def test_every_wrong_group_quota_is_explained_with_what_was_typed():
    def said(group_quotas: object) -> dict[str, str]:
        _, problems = configuration.check(Config({"UnilimSpawner": {"group_quotas": group_quotas}}))
        return {p.key: translate(p.code, "en", **p.params) for p in problems}

    mapping = "should be a mapping of keys to values (YAML 'key: value' lines)."
    assert said(["student"]) == {"UnilimSpawner.group_quotas": f"['student'] {mapping}"}
    assert said({"student": 5, "staff": {"servrs": 1}}) == {
        "UnilimSpawner.group_quotas['student']": f"5 {mapping}",
        "UnilimSpawner.group_quotas['staff'].servrs": "Unknown key. Accepted keys: cpu, "
        "home_size, memory, named_servers, priority, server_cpu_limit, server_gpu_limit, "
        "server_mem_limit, servers. Did you mean 'servers'?",
    }
