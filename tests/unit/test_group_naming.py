"""How SSO groups are named: which groups' properties shape a person's profiles and quotas."""

from __future__ import annotations

from unilim_hub.policy.group_names import group_name, matching_spelling
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


def test_a_group_name_of_255_characters_is_one_and_256_is_none():
    """JupyterHub's column holds 255: a longer value names no group rather than a cut one."""
    assert group_name("g" * 255) == "g" * 255
    assert group_name("/" + "g" * 255) == "g" * 255
    assert group_name("g" * 256) is None


def test_control_and_format_characters_name_no_group():
    # A newline forges log lines; a zero-width joiner makes a look-alike of another group.
    for value in ("hub-admins\n", "hub\u200dadmins", "hub\x00admins", "hub\u202eadmins"):
        assert group_name(value) is None, repr(value)
    assert group_name("cours-é") == "cours-é"  # letters of any script are fine


def test_the_matching_spelling_is_offered_only_when_it_differs():
    assert matching_spelling("ｈｕｂ－ａｄｍｉｎｓ") == "hub-admins"
    assert matching_spelling(" hub-admins ") == "hub-admins"
    assert matching_spelling("hub-admins") == ""  # already a name: nothing to suggest
    assert matching_spelling("/clubs/hub-admins") == ""  # no spelling would match
