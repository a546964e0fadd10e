"""A value with a line break is refused wherever it is checked (``$`` would let one through).

A regular expression anchored with ``$`` also matches before a final newline: the setting
was accepted by check-config, then broke the pod (an invalid label or image) or named
another course. Found while validating S3 prefixes; every validator is pinned here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.policy import claims, quantities
from unilim_hub.policy.models import GroupNaming
from unilim_hub.policy.problems import InvalidValue

EXAMPLE = Path(__file__).parents[2] / "config" / "unilim.yaml"


def _example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text("utf-8"))["hub"]["config"]


def _set_room_label(c: dict) -> None:
    c["UnilimSpawner"]["rooms"][0]["node_selector"] = {"topology.kubernetes.io/zone": "salle-a\n"}


def _set_room_label_key(c: dict) -> None:
    c["UnilimSpawner"]["rooms"][0]["node_selector"] = {"topology.kubernetes.io/zone\n": "salle-a"}


def _set_tag(c: dict) -> None:
    c["UnilimSpawner"]["profile_catalog"][0]["tags"] = ["2025-10-20\n"]


def _set_image(c: dict) -> None:
    c["UnilimSpawner"]["profile_catalog"][0]["image"] = "quay.io/jupyter/scipy-notebook\n"


def _set_endpoint(c: dict) -> None:
    c["UnilimSpawner"].update(s3_mode="sts", s3_endpoint="https://s3.example.org\n")


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (_set_room_label, "UnilimSpawner.rooms[0].node_selector"),
        (_set_room_label_key, "UnilimSpawner.rooms[0].node_selector"),
        (_set_tag, "UnilimSpawner.profile_catalog[0].tags"),
        (_set_image, "UnilimSpawner.profile_catalog[0].image"),
        (_set_endpoint, "UnilimSpawner.s3_endpoint"),
    ],
)
def test_check_config_refuses_a_setting_ending_with_a_line_break(change, key: str) -> None:
    config = _example()
    change(config)
    _, problems = configuration.check(Config(config))
    assert any(problem.key.startswith(key) for problem in problems), problems


def test_a_group_with_a_line_break_is_no_course_and_gives_no_teacher_role() -> None:
    assert GroupNaming().course_of("course-info101\n") is None
    assert GroupNaming().taught_course_of("teacher-info101\n") is None
    rules = claims.ClaimRules()
    assert claims.teacher_roles(frozenset({"teacher-info101\n"}), rules, GroupNaming()) == ()


def test_a_username_with_a_line_break_is_refused() -> None:
    assert isinstance(claims.normalise_username("alice\n"), claims.Refusal)


@pytest.mark.parametrize(
    "parser", [quantities.parse_memory, quantities.parse_cpu, quantities.parse_count]
)
def test_quantities_read_the_number_not_the_line_break(parser) -> None:
    # Quantities are trimmed on purpose (admins type "4G "), and still read exactly.
    assert parser("4\n") == parser("4")
    with pytest.raises(InvalidValue):
        parser("4\nx")
