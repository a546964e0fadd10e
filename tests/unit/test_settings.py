"""The site, storage, S3 and admission settings: each value read as written, each mistake
told with its key and the whole message, before the hub starts."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from unilim_hub import configuration
from unilim_hub.i18n import describe
from unilim_hub.policy.models import GroupNaming, S3Mode, S3Settings, Storage
from unilim_hub.policy.settings import build_settings

GIB = 1024**3


def told(config: dict) -> list[str]:
    _, problems = configuration.check(Config(config))
    return [describe(problem, "en") for problem in problems]


def loaded(config: dict):
    settings, problems = configuration.check(Config(config))
    assert problems == (), problems
    return settings


def test_without_settings_the_documented_defaults_apply():
    settings = loaded({})
    assert settings.storage == Storage()
    assert settings.storage.home_size == 10 * GIB and settings.storage.course_size == 50 * GIB
    assert settings.groups == GroupNaming()
    assert (settings.default_language, settings.timezone) == ("fr", "Europe/Paris")


def test_storage_settings_are_read_as_written():
    settings = loaded(
        {
            "UnilimSpawner": {
                "home_size": "20G",
                "course_size": "100 Go",
                "home_storage_class": "fast",
                "course_storage_class": "shared",
                "course_folders": False,
            }
        }
    )
    assert settings.storage == Storage(
        home_storage_class="fast",
        home_size=20 * GIB,
        course_storage_class="shared",
        course_size=100 * GIB,
        course_folders=False,
    )


def test_s3_settings_are_read_as_written():
    settings = loaded(
        {
            "UnilimSpawner": {
                "s3_mode": "sts",
                "s3_endpoint": "https://s3.example.org",
                "s3_users_bucket": "home-objects",
                "s3_courses_bucket": "course-objects",
            }
        }
    )
    assert settings.storage.s3 == S3Settings(
        mode=S3Mode.STS,
        endpoint="https://s3.example.org",
        users_bucket="home-objects",
        courses_bucket="course-objects",
    )


def test_s3_region_lifetimes_and_strict_mode_are_read_as_written():
    s3 = loaded(
        {
            "UnilimSpawner": {
                "s3_region": "eu-west-3",
                "s3_credentials_duration": 43200,
                "s3_refresh_interval": 600,
                "s3_strict": True,
            }
        }
    ).storage.s3
    assert (s3.region, s3.credentials_duration, s3.refresh_interval, s3.strict) == (
        "eu-west-3",
        43200,
        600,
        True,
    )
    assert loaded({"UnilimSpawner": {"s3_region": ""}}).storage.s3.region == "us-east-1"


@pytest.mark.parametrize(
    ("duration", "interval", "renewed_every"),
    [(900, 0, 450), (901, 0, 450), (3600, 0, 1800), (900, 450, 450), (900, 1, 1)],
)
def test_credentials_are_renewed_by_half_of_their_lifetime_at_the_latest(
    duration, interval, renewed_every
):
    traits = {"s3_credentials_duration": duration, "s3_refresh_interval": interval}
    s3 = loaded({"UnilimSpawner": traits}).storage.s3
    assert (s3.credentials_duration, s3.refresh_interval) == (duration, renewed_every)


DURATION = (
    "UnilimSpawner.s3_credentials_duration: {} is outside the accepted range:"
    " write a whole number from 900 to 43200."
)
INTERVAL = (
    "UnilimSpawner.s3_refresh_interval: {} is outside the accepted range:"
    " write a whole number from 1 to {}."
)


@pytest.mark.parametrize(
    ("traits", "expected"),
    [
        ({"s3_credentials_duration": 899}, DURATION.format(899)),
        ({"s3_credentials_duration": 43201}, DURATION.format(43201)),
        ({"s3_credentials_duration": "1h"}, DURATION.format("'1h'")),
        ({"s3_credentials_duration": 900, "s3_refresh_interval": 451}, INTERVAL.format(451, 450)),
        ({"s3_refresh_interval": -5}, INTERVAL.format(-5, 1800)),
        ({"s3_refresh_interval": 2.5}, INTERVAL.format(2.5, 1800)),
        # A wrong duration is told once: the interval is judged against the default one.
        ({"s3_credentials_duration": 60, "s3_refresh_interval": 1800}, DURATION.format(60)),
    ],
)
def test_credential_lifetimes_sts_refuses_are_told_with_the_range(traits, expected):
    assert told({"UnilimSpawner": traits}) == [expected]


def test_an_empty_bucket_name_means_the_default_bucket():
    settings = loaded({"UnilimSpawner": {"s3_users_bucket": "", "s3_courses_bucket": ""}})
    assert (settings.storage.s3.users_bucket, settings.storage.s3.courses_bucket) == (
        "unilim-users",
        "unilim-courses",
    )


def test_one_bucket_for_users_and_courses_is_refused():
    """Course prefixes are course codes: in the users' bucket, a course `users` would give
    its teachers every user's objects."""
    assert told(
        {"UnilimSpawner": {"s3_users_bucket": "unilim", "s3_courses_bucket": "unilim"}}
    ) == [
        "UnilimSpawner.s3_courses_bucket: Must differ from s3_users_bucket ('unilim'): in one "
        "bucket a course code could name users' objects (a course 'users' would grant its "
        "teachers every user's files)."
    ]
    assert told({"UnilimSpawner": {"s3_courses_bucket": "unilim-users"}}) != []


def test_site_settings_are_read_as_written():
    settings = loaded(
        {
            "UnilimSite": {
                "default_language": "en",
                "timezone": "America/Cayenne",
                "course_prefix": "/ue-",
                "teacher_prefix": "enseignant-",
            }
        }
    )
    assert (settings.default_language, settings.timezone) == ("en", "America/Cayenne")
    # Written as a Keycloak path, the prefix names the groups as claims give them.
    assert (settings.groups.course_prefix, settings.groups.teacher_prefix) == (
        "ue-",
        "enseignant-",
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"UnilimSpawner": {"home_size": 0}},
            "UnilimSpawner.home_size: 0 is not allowed here: write a positive value.",
        ),
        (
            {"UnilimSpawner": {"course_size": "0G"}},
            "UnilimSpawner.course_size: 0 is not allowed here: write a positive value.",
        ),
        (
            {"UnilimSpawner": {"home_storage_class": 5}},
            "UnilimSpawner.home_storage_class: 5 should be a text.",
        ),
        (
            {"UnilimSpawner": {"course_storage_class": ["fast"]}},
            "UnilimSpawner.course_storage_class: ['fast'] should be a text.",
        ),
        # An unknown mode is told once: its endpoint is not judged as well.
        (
            {"UnilimSpawner": {"s3_mode": "minio"}},
            "UnilimSpawner.s3_mode: 'minio' is not one of the accepted values:"
            " off, sts, web-identity.",
        ),
        (
            {"UnilimSpawner": {"s3_mode": "sts", "s3_endpoint": "s3.example.org"}},
            "UnilimSpawner.s3_endpoint: 's3.example.org' is not an http(s) URL:"
            " write for example https://s3.example.org.",
        ),
        (
            {"UnilimSpawner": {"s3_users_bucket": "Home_Objects"}},
            "UnilimSpawner.s3_users_bucket: 'Home_Objects' is not a valid S3 bucket name:"
            " 3 to 63 lower-case letters, digits, '.' or '-'.",
        ),
        (
            {"UnilimSpawner": {"s3_courses_bucket": "c"}},
            "UnilimSpawner.s3_courses_bucket: 'c' is not a valid S3 bucket name:"
            " 3 to 63 lower-case letters, digits, '.' or '-'.",
        ),
        (
            {"UnilimSite": {"default_language": "de"}},
            "UnilimSite.default_language: 'de' is not one of the accepted values: fr, en.",
        ),
        (
            {"UnilimSite": {"affiliation_groups": "student"}},
            "UnilimSite.affiliation_groups: 'student' should be a list (YAML '- item' lines).",
        ),
        (
            {"UnilimSite": {"course_prefix": ""}},
            "UnilimSite.course_prefix: This must not be empty.",
        ),
        (
            {"UnilimSite": {"teacher_prefix": 7}},
            "UnilimSite.teacher_prefix: 7 should be a text.",
        ),
        (
            {"UnilimSpawner": {"pod_creation_concurrency": -2}},
            "UnilimSpawner.pod_creation_concurrency: -2 is not allowed here:"
            " write a whole number, 1 or more.",
        ),
        (
            {"UnilimSpawner": {"pod_creation_concurrency": True}},
            "UnilimSpawner.pod_creation_concurrency: True is not a value this setting takes:"
            " write a number or a short text.",
        ),
        (
            {"UnilimSpawner": {"cluster_pods_scope": 5}},
            "UnilimSpawner.cluster_pods_scope: 5 is not one of the accepted values:"
            " cluster, namespace.",
        ),
    ],
)
def test_a_wrong_setting_is_told_once_with_its_key(config, expected):
    assert told(config) == [expected]


def test_group_names_of_any_kind_are_each_told():
    said = told({"UnilimAuthenticator": {"admin_groups": [5, "hub-admins", "/a/b"]}})
    assert [line.split(":", 1)[0] for line in said] == [
        "UnilimAuthenticator.admin_groups['/a/b']",
        "UnilimAuthenticator.admin_groups[5]",
    ]


def test_the_smallest_pod_creation_concurrency_and_any_case_of_scope_pass():
    config = {"UnilimSpawner": {"pod_creation_concurrency": 1, "cluster_pods_scope": "Namespace"}}
    assert told(config) == []


def test_settings_with_a_problem_are_never_handed_out():
    raw = configuration.raw_settings(Config({"UnilimSpawner": {"home_size": "lots"}}))
    settings, problems = build_settings(raw)
    assert settings is None
    assert [problem.key for problem in problems] == ["UnilimSpawner.home_size"]
