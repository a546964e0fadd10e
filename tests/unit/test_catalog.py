"""Catalog mistakes are told with the key and what to write, one by one."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from unilim_hub import settings
from unilim_hub.i18n import describe

SIZE = {"slug": "s", "cpu_guarantee": 1, "cpu_limit": 1, "mem_guarantee": "1G", "mem_limit": "1G"}
PROFILE = {
    "slug": "p",
    "display_name": "P",
    "image": "repo/img",
    "tags": ["t"],
    "groups": ["student"],
    "sizes": [SIZE],
}
KEY = "UnilimSpawner.profile_catalog[0]"


def told(profile):
    loaded, problems = settings.check(Config({"UnilimSpawner": {"profile_catalog": [profile]}}))
    return loaded, [describe(problem, "en") for problem in problems]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"slug": "a--b"},
            f"{KEY}.slug: 'a--b' contains '--', which names course profiles"
            " (<course>--<profile>): choose another slug.",
        ),
        ({"slug": "Python"}, f"{KEY}.slug: 'Python' is not a valid name"),
        ({"sizes": []}, f"{KEY}.sizes: This must not be empty."),
        (
            {"sizes": [SIZE, SIZE]},
            f"{KEY}.sizes: Two sizes have the slug 's': each size of a profile needs its own slug.",
        ),
        ({"image": ""}, f"{KEY}.image: This must not be empty."),
        ({"image": 5}, f"{KEY}.image: This must not be empty."),
        ({"default": "yes"}, f"{KEY}.default: 'yes' should be true or false."),
        ({"description": {"fr": "x"}}, f"{KEY}.description.en: This key is required."),
        ({"image": None}, f"{KEY}.image: This must not be empty."),
    ],
)
def test_a_wrong_catalog_entry_is_named_and_explained(change, expected):
    loaded, said = told({**PROFILE, **change})
    assert loaded is None
    assert len(said) == 1 and said[0].startswith(expected), said


def test_a_profile_without_sizes_or_image_is_told_what_is_missing():
    without = {key: value for key, value in PROFILE.items() if key not in ("image", "sizes")}
    _, said = told(without)
    assert said == [f"{KEY}.image: This key is required.", f"{KEY}.sizes: This key is required."]


def test_texts_default_to_the_slug_and_to_nothing():
    loaded, said = told({**PROFILE, "display_name": None})
    assert said == []
    (profile,) = loaded.catalog
    assert (profile.display_name.fr, profile.display_name.en) == ("p", "p")
    assert (profile.description.fr, profile.description.en) == ("", "")
    loaded, _ = told({**PROFILE, "description": {"fr": "Bonjour", "en": "Hello"}})
    assert loaded.catalog[0].description.get("en") == "Hello"
    assert loaded.catalog[0].description.get("fr") == "Bonjour"


def test_a_misspelt_group_gets_the_closest_spelling():
    config = Config(
        {
            "UnilimSpawner": {
                "group_quotas": {"studnet": {"servers": 3}, "zzzzzz": {"servers": 1}},
            }
        }
    )
    _, problems = settings.check(config)
    said = {problem.key: describe(problem, "en") for problem in problems}
    assert said["UnilimSpawner.group_quotas['studnet']"].endswith("Did you mean 'student'?")
    assert "Did you mean" not in said["UnilimSpawner.group_quotas['zzzzzz']"]
