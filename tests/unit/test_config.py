"""Configuration validation: every mistake named by its key, all of them at once."""

from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.i18n import describe
from unilim_hub.policy.models import S3Mode

EXAMPLE = Path(__file__).parents[2] / "config" / "unilim.yaml"


@pytest.fixture
def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())["hub"]["config"]


def problems_of(hub_config: dict) -> dict[str, str]:
    _, problems = configuration.check(Config(hub_config))
    return {problem.key: problem.code for problem in problems}


def test_example_configuration_is_valid_and_typed(example):
    loaded, problems = configuration.check(Config(example))
    assert problems == ()
    assert [profile.slug for profile in loaded.catalog] == ["python", "r", "research", "spark"]
    python = loaded.profile("python")
    assert python.default and python.tags[0] == "2025-10-20"
    assert python.sizes[0].cpu_guarantee == 200 and python.sizes[0].mem_limit == 2 * 1024**3
    assert loaded.quotas["student"].servers == 900
    assert loaded.rooms[1].node_selector == {"topology.kubernetes.io/zone": "salle-b"}
    assert loaded.rooms[1].weight == 1 and loaded.degraded_server_limit == 480
    assert loaded.storage.s3.mode is S3Mode.STS


def test_empty_configuration_is_valid():
    loaded, problems = configuration.check(Config())
    assert problems == () and loaded.catalog == ()


def spawner(example):
    return example["UnilimSpawner"]


BAD_CONFIGURATIONS = {
    "unknown group in a quota": (
        lambda c: spawner(c)["group_quotas"].update({"studnet": {"servers": 3}}),
        "UnilimSpawner.group_quotas['studnet']",
        "group.unknown",
    ),
    "negative memory": (
        lambda c: spawner(c)["group_quotas"]["student"].update(memory="-4G"),
        "UnilimSpawner.group_quotas['student'].memory",
        "value.negative",
    ),
    "unparseable memory": (
        lambda c: spawner(c)["profile_catalog"][0]["sizes"][0].update(mem_limit="4Gx"),
        "UnilimSpawner.profile_catalog[0].sizes[0].mem_limit",
        "memory.invalid",
    ),
    "profile with no image": (
        lambda c: spawner(c)["profile_catalog"][1].pop("image"),
        "UnilimSpawner.profile_catalog[1].image",
        "key.missing",
    ),
    "duplicate profile slugs": (
        lambda c: spawner(c)["profile_catalog"][1].update(slug="python"),
        "UnilimSpawner.profile_catalog",
        "profile.duplicate",
    ),
    "room with an empty selector": (
        lambda c: spawner(c)["rooms"][0].update(node_selector={}),
        "UnilimSpawner.rooms[0].node_selector",
        "room.empty_selector",
    ),
    "guarantee above limit": (
        lambda c: spawner(c)["profile_catalog"][0]["sizes"][0].update(cpu_guarantee=8),
        "UnilimSpawner.profile_catalog[0].sizes[0].cpu_guarantee",
        "size.guarantee_above_limit",
    ),
    "two default profiles": (
        lambda c: spawner(c)["profile_catalog"][1].update(default=True),
        "UnilimSpawner.profile_catalog",
        "profile.several_defaults",
    ),
    "typo in a profile key": (
        lambda c: spawner(c)["profile_catalog"][0].update(imgae="x"),
        "UnilimSpawner.profile_catalog[0].imgae",
        "key.unknown",
    ),
    "image without allowed tags": (
        lambda c: spawner(c)["profile_catalog"][0].pop("tags"),
        "UnilimSpawner.profile_catalog[0].tags",
        "image.no_tags",
    ),
    "profile nobody may use": (
        lambda c: spawner(c)["profile_catalog"][0].pop("groups"),
        "UnilimSpawner.profile_catalog[0].groups",
        "profile.no_groups",
    ),
    "duplicate room names": (
        lambda c: spawner(c)["rooms"][1].update(name="salle-a"),
        "UnilimSpawner.rooms",
        "room.duplicate",
    ),
    "invalid label key": (
        lambda c: spawner(c)["rooms"][0].update(node_selector={"zone with spaces": "a"}),
        "UnilimSpawner.rooms[0].node_selector.zone with spaces",
        "label.key_invalid",
    ),
    "room weight of zero": (
        lambda c: spawner(c)["rooms"][0].update(weight=0),
        "UnilimSpawner.rooms[0].weight",
        "value.zero",
    ),
    "room weight not a whole number": (
        lambda c: spawner(c)["rooms"][1].update(weight="half"),
        "UnilimSpawner.rooms[1].weight",
        "count.invalid",
    ),
    "degraded limit not a number": (
        lambda c: spawner(c).update(degraded_server_limit="many"),
        "UnilimSpawner.degraded_server_limit",
        "count.invalid",
    ),
    "unknown S3 mode": (
        lambda c: spawner(c).update(s3_mode="minio"),
        "UnilimSpawner.s3_mode",
        "value.choice",
    ),
    "catalog is not a list": (
        lambda c: spawner(c).update(profile_catalog={"python": {}}),
        "UnilimSpawner.profile_catalog",
        "value.not_list",
    ),
    "tag read as a number": (
        lambda c: spawner(c)["profile_catalog"][0].update(tags=[1.1]),
        "UnilimSpawner.profile_catalog[0].tags[0]",
        "image.tag_invalid",
    ),
    "slug like a course profile": (
        lambda c: spawner(c)["profile_catalog"][0].update(slug="info101--python"),
        "UnilimSpawner.profile_catalog[0].slug",
        "profile.slug_separator",
    ),
    "absurd memory": (
        lambda c: spawner(c)["group_quotas"]["student"].update(memory="9" * 400),
        "UnilimSpawner.group_quotas['student'].memory",
        "memory.invalid",
    ),
    "unknown time zone": (
        lambda c: c["UnilimSite"].update(timezone="Europe/Limoges"),
        "UnilimSite.timezone",
        "timezone.unknown",
    ),
    "misspelt setting": (
        lambda c: spawner(c).update(profile_catalogue=[]),
        "UnilimSpawner.profile_catalogue",
        "config.unknown_setting",
    ),
    "unknown language": (
        lambda c: c["UnilimSite"].update(default_language="de"),
        "UnilimSite.default_language",
        "value.choice",
    ),
}


@pytest.mark.parametrize("mistake", BAD_CONFIGURATIONS, ids=list(BAD_CONFIGURATIONS))
def test_each_mistake_is_named_by_its_key(example, mistake):
    spoil, key, code = BAD_CONFIGURATIONS[mistake]
    spoil(example)
    problems = problems_of(example)
    assert problems.get(key) == code, problems


@pytest.mark.parametrize("mistake", BAD_CONFIGURATIONS, ids=list(BAD_CONFIGURATIONS))
def test_each_mistake_is_explained_in_french_and_english(example, mistake):
    BAD_CONFIGURATIONS[mistake][0](example)
    _, problems = configuration.check(Config(example))
    english = [describe(problem, "en") for problem in problems]
    french = [describe(problem, "fr") for problem in problems]
    assert english != french
    assert all(len(text.split(": ", 1)[1]) > 10 for text in english + french)


def test_all_problems_are_reported_at_once(example):
    # Some mistakes replace others: a catalog that is not a list hides the ones inside it,
    # the label typo replaces the empty selector, the numeric tag the missing tags.
    hidden = {"catalog is not a list", "room with an empty selector", "tag read as a number"}
    mistakes = [value for name, value in BAD_CONFIGURATIONS.items() if name not in hidden]
    for spoil, _, _ in mistakes:
        spoil(example)
    problems = problems_of(example)
    assert {key for _, key, _ in mistakes} <= problems.keys()


def test_group_names_follow_the_site_settings(example):
    example["UnilimSite"]["course_prefix"] = "ue-"
    spawner(example)["group_quotas"] = {
        "ue-info101": {"servers": 40},
        "course-info101": {"servers": 40},
    }
    assert problems_of(example) == {"UnilimSpawner.group_quotas['course-info101']": "group.unknown"}


def test_admin_groups_may_have_quotas(example):
    spawner(example)["group_quotas"] = {"hub-admins": {"servers": 5}}
    assert problems_of(example) == {}


def test_image_with_a_single_tag(example):
    profile = spawner(example)["profile_catalog"][1]
    del profile["tags"]
    profile["image"] = "registry.example.org:5000/jupyter/r-notebook:2025-10-20"
    loaded, problems = configuration.check(Config(example))
    assert problems == ()
    assert loaded.profile("r").image == "registry.example.org:5000/jupyter/r-notebook"
    assert loaded.profile("r").tags == ("2025-10-20",)


def test_the_hub_refuses_to_load_a_bad_configuration(example):
    spawner(example)["home_size"] = "lots"
    with pytest.raises(configuration.UnilimConfigError) as error:
        configuration.load(Config(example))
    assert "UnilimSpawner.home_size" in str(error.value)
    assert "ne peut pas démarrer" in str(error.value)  # the site's default language


def test_catalog_groups_spelled_as_keycloak_paths_name_the_groups_claims_give(example):
    spawner(example)["profile_catalog"][0]["groups"] = ["/student", "/course-info101"]
    loaded, problems = configuration.check(Config(example))
    assert problems == ()
    assert loaded.catalog[0].groups == {"student", "course-info101"}


def test_catalog_group_that_no_claim_can_produce_is_refused_with_the_spelling(example):
    spawner(example)["profile_catalog"][0]["groups"] = ["ｓｔｕｄｅｎｔ", "/clubs/student"]
    _, problems = configuration.check(Config(example))
    found = {problem.key: problem for problem in problems}
    first = found["UnilimSpawner.profile_catalog[0].groups[0]"]
    assert (first.code, first.params["suggestion"]) == ("group.never_matches", "student")
    assert found["UnilimSpawner.profile_catalog[0].groups[1]"].code == "group.nested_path"


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("pod_creation_concurrency", 0, "0 is not allowed here"),
        ("pod_creation_concurrency", "ten", "'ten' is not a value this setting takes"),
        ("capacity_check", "yes", "'yes' should be true or false"),
        ("cluster_pods_scope", "everywhere", "'everywhere' is not one of the accepted values"),
    ],
)
def test_a_wrong_admission_setting_is_named_before_the_hub_starts(name, value, said):
    _, problems = configuration.check(Config({"UnilimSpawner": {name: value}}))
    told = [describe(problem, "en") for problem in problems]
    assert any(line.startswith(f"UnilimSpawner.{name}: {said}") for line in told), told


def test_the_admission_defaults_pass():
    assert configuration.check(Config())[1] == ()
