"""Names of volumes and course folders: any username or course name gives a valid, distinct,
contained name (the API server's own check: tests/integration/test_hostile_names.py)."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unilim_hub.policy import volumes
from unilim_hub.policy.models import GroupNaming, GroupQuota
from unilim_hub.policy.quotas import charged_quota
from unilim_hub.policy.volumes import (
    DNS_LABEL,
    course_claim_name,
    course_folder,
    course_mount_path,
    course_volumes,
    home_claim_name,
    safe_name,
)

HOSTILE = [
    "alice",
    "Alice",
    "ALICE",
    "alice.dupont",
    "alice_dupont",
    "élise",
    "Élise",
    "elise",
    "李",
    "😀",
    "a" * 300,
    "a" * 48,
    "a" * 49,
    "..",
    ".",
    "../etc",
    "a/b",
    "/",
    "a/../../b",
    "-",
    "--",
    "a--b",
    "a---b",
    "x---00000000",
    "9lives",
    "",
    " ",
    "a\nb",
    "alice\n",
    "a\x00b",
    "info101",
    "info.101",
    "info_101",
    "ınfo101",  # dotless i: lower-cases to itself, not to "info101"
    "K",  # Kelvin sign
    "\udcff",  # a lone surrogate (a broken byte decoded by surrogateescape)
]


def _contained(path: str) -> bool:
    home = volumes.HOME_PATH + "/" + volumes.COURSES_FOLDER + "/"
    return posixpath.normpath(path).startswith(home) and path.count("/") == home.count("/")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_give_valid_volume_names_and_contained_folders(name: str) -> None:
    for claim in (home_claim_name(name), course_claim_name(name)):
        assert DNS_LABEL.match(claim), claim
    path = course_mount_path(name)
    assert _contained(path), path
    assert path.rsplit("/", 1)[1] not in {"", ".", ".."}


def test_hostile_names_never_share_a_volume_or_a_folder() -> None:
    for make in (home_claim_name, course_claim_name, course_mount_path):
        made = [make(name) for name in HOSTILE]
        assert len(set(made)) == len(HOSTILE), make


def test_simple_names_are_kept_as_people_read_them() -> None:
    # claim-<username> is KubeSpawner's own name: existing homes stay attached.
    assert home_claim_name("hilda") == "claim-hilda"
    assert course_claim_name("info101") == "course-info101"
    assert course_mount_path("info.101") == "/home/jovyan/courses/info.101"
    assert course_mount_path("stat_202") == "/home/jovyan/courses/stat_202"


def test_unsafe_names_keep_a_readable_part() -> None:
    assert home_claim_name("Alice.Dupont").startswith("claim-alice-dupont---")
    assert course_mount_path("..").startswith("/home/jovyan/courses/x---")


@given(st.text(max_size=400))
def test_any_name_gives_a_valid_volume_name(name: str) -> None:
    assert DNS_LABEL.match(home_claim_name(name))
    assert DNS_LABEL.match(course_claim_name(name))
    assert _contained(course_mount_path(name))


@given(st.text(max_size=80), st.text(max_size=80))
def test_distinct_names_give_distinct_volumes_and_folders(a: str, b: str) -> None:
    if a != b:
        assert safe_name(a) != safe_name(b)
        assert course_mount_path(a) != course_mount_path(b)


@given(st.text(alphabet="aA.-_/é1", max_size=12), st.text(alphabet="aA.-_/é1", max_size=12))
def test_look_alike_names_stay_distinct(a: str, b: str) -> None:
    if a != b:
        assert safe_name(a) != safe_name(b)
        assert course_mount_path(a) != course_mount_path(b)


def test_names_of_existing_volumes_never_change() -> None:
    # A home or a course folder is found again by its name only: a release that named it
    # otherwise would start people on a new, empty volume. These are the names handed out.
    assert home_claim_name("Alice.Dupont") == "claim-alice-dupont---52891893"
    assert home_claim_name("-alice-") == "claim-alice---8bbe7cdb"
    assert home_claim_name("9lives") == "claim-x-9lives---bc867356"
    assert home_claim_name("K") == "claim-k---86be9a55"
    assert home_claim_name("\udcff") == "claim-x---8f1d0f9c"
    assert course_claim_name("Info 101") == "course-info-101---a66172cc"
    assert course_claim_name("L3-Info") == "course-l3-info---fa3da259"
    assert course_mount_path("..") == "/home/jovyan/courses/x---5ec1f7e7"
    assert course_folder("9lives") == "9lives"


def test_long_names_fill_the_length_and_never_end_a_cut_on_a_hyphen() -> None:
    assert safe_name("a" * 48) == "a" * 48
    assert safe_name("a" * 49) == "a" * 37 + "---8f9bec6a"
    assert home_claim_name("A" * 300) == "claim-" + "a" * 37 + "---4daeb9ac"
    # Cut after 36 letters, on the hyphen that stands for ".": the hyphen goes.
    assert safe_name("a" * 36 + ".b" + "c" * 20) == "a" * 36 + "---e4e347aa"


@pytest.mark.parametrize("name", ["..", "Alice.Dupont", "a--b", "-", "", "é" * 70])
def test_a_hashed_name_typed_as_a_name_gets_a_volume_of_its_own(name: str) -> None:
    # "a--b" or a name someone copied from a volume list ("x---5ec1f7e7") is not a plain
    # name: it is hashed again, so it never takes the volume of the name it was made from.
    made = safe_name(name)
    assert "--" in made and safe_name(made) != made
    assert course_folder(course_folder(name)) != course_folder(name)


def test_teachers_write_and_students_read_their_course_folders() -> None:
    naming = GroupNaming()
    found = course_volumes(
        ["student", "course-info101", "teacher-stat202", "course-stat202"], naming
    )
    assert [(v.course, v.claim, v.mount_path, v.read_only) for v in found] == [
        ("info101", "course-info101", "/home/jovyan/courses/info101", True),
        ("stat202", "course-stat202", "/home/jovyan/courses/stat202", False),
    ]
    assert course_volumes(["staff"], naming) == ()


def test_a_course_folder_switched_off_is_left_out_for_teachers_and_students() -> None:
    groups = ["course-info101", "teacher-stat202", "course-bio303"]
    found = course_volumes(groups, GroupNaming(), switched_off={"info101", "stat202"})
    assert [v.course for v in found] == ["bio303"]


def test_home_size_is_the_most_generous_of_the_groups() -> None:
    baseline = {"student": GroupQuota("student", home_size=5), "staff": GroupQuota("staff")}
    assert volumes.home_size(["student"], baseline, {}, default=10) == 5
    assert volumes.home_size(["staff"], baseline, {}, default=10) == 10
    assert (
        volumes.home_size(["student", "faculty"], baseline, {"faculty": {"home_size": 20}}, 10)
        == 20
    )
    # The property overrides the group's own baseline, even downwards.
    assert volumes.home_size(["student"], baseline, {"student": {"home_size": 3}}, 10) == 3


def test_volumes_only_grow() -> None:
    assert volumes.needs_expansion(None, 5)
    assert volumes.needs_expansion(5, 6)
    assert not volumes.needs_expansion(6, 6)
    assert not volumes.needs_expansion(6, 5)


def test_a_group_that_only_sizes_homes_is_not_where_servers_are_charged() -> None:
    baseline = {
        "faculty": GroupQuota("faculty", home_size=50),
        "student": GroupQuota("student", servers=800),
    }
    charged = charged_quota(["faculty", "student"], baseline, {"staff": {"home_size": 1}})
    assert charged is not None and charged.group == "student"
