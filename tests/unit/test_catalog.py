"""Catalog mistakes are told with the key and what to write, one by one."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from unilim_hub import configuration
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
    loaded, problems = configuration.check(
        Config({"UnilimSpawner": {"profile_catalog": [profile]}})
    )
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
        ({"groups": "student"}, f"{KEY}.groups: 'student' should be a list"),
        ({"groups": []}, f"{KEY}.groups: No group may use this profile"),
        ({"groups": ["studnet"]}, f"{KEY}.groups[0]: Group 'studnet' is not a group"),
        ({"image": "repo/img:1"}, f"{KEY}.image: 'repo/img:1' has a tag and 'tags' is also set"),
        ({"image": "Repo Img"}, f"{KEY}.image: 'Repo Img' is not a valid image name"),
        ({"tags": ["ok", 5]}, f"{KEY}.tags[1]: '5' is not a valid image tag."),
        ({"tags": []}, f"{KEY}.tags: No tag is allowed for 'repo/img'"),
        (
            {"sizes": [{**SIZE, "cpu_limit": 0, "cpu_guarantee": 0}]},
            f"{KEY}.sizes[0].cpu_limit: 0 is not allowed here",
        ),
        (
            {"sizes": [{**SIZE, "mem_limit": 0, "mem_guarantee": 0}]},
            f"{KEY}.sizes[0].mem_limit: 0 is not allowed here",
        ),
        ({"sizes": [{**SIZE, "gpu": "x"}]}, f"{KEY}.sizes[0].gpu: 'x' is not a whole number"),
        ({"sizes": ["big"]}, f"{KEY}.sizes[0]: 'big' should be a mapping of keys to values"),
        ({"display_name": {"fr": "P"}}, f"{KEY}.display_name.en: This key is required."),
        (
            {"sizes": [{**SIZE, "display_name": {"fr": "Petit"}}]},
            f"{KEY}.sizes[0].display_name.en: This key is required.",
        ),
        ({"tags": "latest"}, f"{KEY}.tags: No tag is allowed for 'repo/img'"),
        # A ':' before the last '/' is no tag: the whole reference is judged as the image.
        ({"image": "reg/a:1/b"}, f"{KEY}.image: 'reg/a:1/b' is not a valid image name"),
        ({"course_only": "yes", "groups": []}, f"{KEY}.course_only: 'yes' should be true or false"),
        ({"sizes": [{**SIZE, "slug": "Big"}]}, f"{KEY}.sizes[0].slug: 'Big' is not a valid name"),
        (
            {"sizes": [{**SIZE, "cpu_limit": "2 cores"}]},
            f"{KEY}.sizes[0].cpu_limit: '2 cores' is not an amount of CPU",
        ),
        (
            {"sizes": [{**SIZE, "mem_guarantee": "2 gigs"}]},
            f"{KEY}.sizes[0].mem_guarantee: '2 gigs' is not an amount of memory",
        ),
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
    _, problems = configuration.check(config)
    said = {problem.key: describe(problem, "en") for problem in problems}
    assert said["UnilimSpawner.group_quotas['studnet']"].endswith("Did you mean 'student'?")
    assert "Did you mean" not in said["UnilimSpawner.group_quotas['zzzzzz']"]


def test_a_size_is_read_in_every_unit_people_write():
    size = {
        "slug": "big",
        "gpu": 2,
        "cpu_guarantee": "500m",
        "cpu_limit": 2,
        "mem_guarantee": "512M",
        "mem_limit": "2 Go",
    }
    loaded, said = told({**PROFILE, "sizes": [size]})
    assert said == []
    (read,) = loaded.catalog[0].sizes
    assert (read.cpu_guarantee, read.cpu_limit, read.gpu) == (500, 2000, 2)
    assert (read.mem_guarantee, read.mem_limit) == (512 * 1024**2, 2 * 1024**3)
    assert (read.display_name.fr, read.display_name.en) == ("Big", "Big")


def test_an_image_with_its_tag_allows_that_tag_only():
    loaded, said = told({**{k: v for k, v in PROFILE.items() if k != "tags"}, "image": "r/i:1.2"})
    assert said == []
    assert (loaded.catalog[0].image, loaded.catalog[0].tags) == ("r/i", ("1.2",))
    loaded, said = told({**{k: v for k, v in PROFILE.items() if k != "tags"}, "image": "h:5000/i"})
    assert said == [
        f"{KEY}.tags: No tag is allowed for 'h:5000/i': list the allowed tags in"
        " 'tags' (the first is the default)."
    ]


def test_a_course_only_profile_needs_no_groups():
    loaded, said = told({**PROFILE, "groups": [], "course_only": True})
    assert said == [] and loaded.catalog[0].course_only


def test_several_default_profiles_are_named_together():
    other = {**PROFILE, "slug": "q", "default": True}
    loaded, problems = configuration.check(
        Config({"UnilimSpawner": {"profile_catalog": [{**PROFILE, "default": True}, other]}})
    )
    assert loaded is None
    assert [describe(problem, "en") for problem in problems] == [
        "UnilimSpawner.profile_catalog: Several profiles are marked default (p, q):"
        " mark at most one."
    ]


@pytest.mark.parametrize("name", sorted(SIZE))
def test_a_missing_size_key_is_told_once(name):
    size = {key: value for key, value in SIZE.items() if key != name}
    _, said = told({**PROFILE, "sizes": [size]})
    assert said == [f"{KEY}.sizes[0].{name}: This key is required."]


def test_a_profile_without_a_slug_is_told_once():
    _, said = told({key: value for key, value in PROFILE.items() if key != "slug"})
    assert said == [f"{KEY}.slug: This key is required."]


def test_sizes_without_slugs_are_not_taken_for_duplicates():
    size = {key: value for key, value in SIZE.items() if key != "slug"}
    _, said = told({**PROFILE, "sizes": [size, size]})
    assert said == [f"{KEY}.sizes[{index}].slug: This key is required." for index in (0, 1)]


def test_a_duplicate_size_with_another_mistake_is_told_both():
    wrong = {**SIZE, "mem_limit": "lots"}
    _, said = told({**PROFILE, "sizes": [SIZE, wrong]})
    assert len(said) == 2
    assert said[0].startswith(f"{KEY}.sizes[1].mem_limit: 'lots' is not an amount of memory")
    assert said[1] == (
        f"{KEY}.sizes: Two sizes have the slug 's': each size of a profile needs its own slug."
    )


def test_a_size_shows_its_own_name_in_each_language():
    size = {**SIZE, "display_name": {"fr": "Grande", "en": "Large"}}
    loaded, said = told({**PROFILE, "sizes": [size]})
    assert said == []
    (read,) = loaded.catalog[0].sizes
    assert (read.display_name.fr, read.display_name.en) == ("Grande", "Large")


def test_a_size_without_gpu_or_guarantees_is_read_as_zero():
    size = {**SIZE, "cpu_guarantee": 0, "mem_guarantee": 0}
    loaded, said = told({**PROFILE, "sizes": [size]})
    assert said == []
    (read,) = loaded.catalog[0].sizes
    assert (read.cpu_guarantee, read.mem_guarantee, read.gpu) == (0, 0, 0)
    assert (read.cpu_limit, read.mem_limit) == (1000, 1024**3)


def test_an_unknown_key_is_told_with_the_accepted_keys_and_the_closest():
    _, said = told({**PROFILE, "imgae": "x"})
    assert said == [
        f"{KEY}.imgae: Unknown key. Accepted keys: course_only, default, description,"
        " display_name, groups, image, sizes, slug, tags. Did you mean 'image'?"
    ]


def test_an_unknown_group_is_told_with_the_groups_and_prefixes_sso_gives():
    _, problems = configuration.check(
        Config(
            {
                "UnilimSpawner": {"profile_catalog": [{**PROFILE, "groups": ["studnet"]}]},
                "UnilimSite": {"course_prefix": "ue-", "teacher_prefix": "prof-"},
                "UnilimAuthenticator": {"admin_groups": ["hub-admins"]},
            }
        )
    )
    assert [describe(problem, "en") for problem in problems] == [
        f"{KEY}.groups[0]: Group 'studnet' is not a group the SSO login produces: expected one"
        " of faculty, hub-admins, staff, student, or a course group named 'ue-<code>' or"
        " 'prof-<code>'. Add it to UnilimSite.affiliation_groups if it is a new affiliation."
        " Did you mean 'student'?"
    ]


def test_a_plain_text_is_shown_in_both_languages():
    loaded, said = told({**PROFILE, "display_name": "Python 3", "description": "Notebooks"})
    assert said == []
    (profile,) = loaded.catalog
    assert (profile.display_name.fr, profile.display_name.en) == ("Python 3", "Python 3")
    assert (profile.description.fr, profile.description.en) == ("Notebooks", "Notebooks")


def test_a_translation_that_is_not_text_is_told():
    _, said = told({**PROFILE, "description": {"fr": 5, "en": "Notebooks"}})
    assert said == [f"{KEY}.description.fr: 5 should be a text."]


def test_a_look_alike_group_written_as_a_path_is_told_with_the_spelling_that_matches():
    _, said = told({**PROFILE, "groups": ["/ｓｔｕｄｅｎｔ"]})
    assert said == [
        f"{KEY}.groups[0]: Group '/ｓｔｕｄｅｎｔ' can never match a group the SSO sends: group"
        " values are compared exactly, never folded, and values with look-alike characters"
        " (full-width letters, ligatures), spaces or control characters are ignored."
        " Spelling that would match: student. Did you mean 'student'?"
    ]


def test_a_catalog_that_is_not_a_list_is_told_with_what_was_written():
    _, problems = configuration.check(
        Config({"UnilimSpawner": {"profile_catalog": {"python": {}}}})
    )
    assert [describe(problem, "en") for problem in problems] == [
        "UnilimSpawner.profile_catalog: {'python': {}} should be a list (YAML '- item' lines)."
    ]
