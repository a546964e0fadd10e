"""How SSO groups are named: which groups' properties shape a person's profiles and quotas."""

from __future__ import annotations

from unilim_hub.policy.models import GroupNaming

NAMING = GroupNaming()


def test_a_teacher_reads_the_course_group_they_teach() -> None:
    groups = NAMING.property_groups(["faculty", "teacher-info101"])
    assert groups == {"faculty", "teacher-info101", "course-info101"}


def test_a_student_reads_only_their_own_groups() -> None:
    assert NAMING.property_groups(["student", "course-stat202"]) == {"student", "course-stat202"}


def test_groups_given_once_are_all_kept() -> None:
    # A generator is read once: the person's own groups must not be lost.
    groups = NAMING.property_groups(name for name in ["student", "teacher-info101"])
    assert groups == {"student", "teacher-info101", "course-info101"}
