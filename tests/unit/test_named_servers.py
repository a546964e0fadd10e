"""Named servers per user by group: the rule, and JupyterHub's callable that applies it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from tornado import web
from traitlets.config import Config

from unilim_hub import named_servers
from unilim_hub.configuration import UnilimConfigError, load
from unilim_hub.i18n import describe
from unilim_hub.policy.models import GroupQuota
from unilim_hub.policy.named_servers import may_create
from unilim_hub.policy.properties import parse_group_properties
from unilim_hub.policy.quotas import Limit, named_server_limit

from .test_spawner import spawner

EXAMPLE = Path(__file__).parents[2] / "config" / "unilim.yaml"


def limit_of(groups, overrides, baseline=None):
    return named_server_limit(groups, baseline or {}, overrides)


def test_a_student_in_a_course_gets_the_most_generous_limit_of_the_groups_that_set_one():
    baseline = {"student": GroupQuota("student", named_servers=1, servers=900)}
    overrides = {"course-info101": {"named_servers": 3}, "staff": {"servers": 10}}
    limit = limit_of({"student", "course-info101", "staff"}, overrides, baseline)
    assert (limit.value, limit.group) == (3, "course-info101")
    assert limit.setting == "quota.named_servers"


def test_a_group_that_leaves_the_field_out_has_no_say():
    baseline = {"student": GroupQuota("student", named_servers=1), "staff": GroupQuota("staff")}
    limit = limit_of({"student", "staff"}, {"staff": {"priority": 50}}, baseline)
    assert (limit.value, limit.group) == (1, "student")
    assert limit.setting == "UnilimSpawner.group_quotas['student'].named_servers"
    assert limit_of({"staff"}, {}, baseline) is None  # JupyterHub's own setting applies


def test_a_group_property_replaces_the_baseline_of_its_group_only():
    baseline = {"student": GroupQuota("student", named_servers=2)}
    assert limit_of({"student"}, {"student": {"named_servers": 0}}, baseline).value == 0


def test_a_group_without_named_servers_is_outdone_by_one_that_allows_some():
    overrides = {"student": {"named_servers": 0}, "faculty": {"named_servers": 2}}
    assert limit_of({"student", "faculty"}, overrides).value == 2


@given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 50)))
def test_the_limit_is_the_highest_value_set_whatever_the_order(values):
    overrides = {group: {"named_servers": value} for group, value in values.items()}
    limit = limit_of(["d", "c", "b", "a"], overrides)
    if not values:
        assert limit is None
    else:
        assert limit.value == max(values.values())
        assert limit.group == min(g for g, v in values.items() if v == limit.value)


def test_may_create_below_the_limit_and_not_at_it():
    two = Limit(2, "student", "named_servers", from_property=True)
    assert may_create(two, 1) is None
    refused = may_create(two, 2)
    assert refused.code == "named_servers.limit_reached"
    assert refused.params == {
        "group": "student",
        "setting": "quota.named_servers",
        "limit": "2",
        "count": "2",
    }
    assert may_create(None, 100) is None  # no group decides: JupyterHub's setting does
    assert refused.limit == two  # the adapter names the deciding group to the admins


def test_zero_means_no_named_server_at_all():
    zero = Limit(0, "student", "named_servers", from_property=True)
    assert may_create(zero, 0).code == "named_servers.none"


@pytest.mark.parametrize("junk", ["lots", "-1", "1.5", True])
def test_a_junk_property_is_reported_with_the_values_it_accepts(junk):
    parsed = parse_group_properties({"quota.named_servers": junk, "quota.servers": "5"})
    assert parsed.quota == {"servers": 5}
    [problem] = parsed.problems
    assert problem.key == "quota.named_servers"
    assert "0 means no named server at all" in describe(problem, "en")
    assert "0 signifie aucun serveur nommé" in describe(problem, "fr")


def test_check_config_explains_a_wrong_named_servers_value():
    config = Config(yaml.safe_load(EXAMPLE.read_text())["hub"]["config"])
    config.UnilimSpawner.group_quotas = {"student": {"named_servers": "two"}}
    with pytest.raises(UnilimConfigError) as error:
        load(config)
    assert "UnilimSpawner.group_quotas['student'].named_servers" in str(error.value)
    assert "écrivez un nombre entier comme 2 (0 signifie aucun serveur nommé" in str(error.value)


# JupyterHub's callable, with the handler JupyterHub hands it.


def user_in(groups: dict[str, dict[str, Any]], servers: tuple[str, ...] = ("",)) -> Any:
    """A hub user in ``groups`` (name -> properties) with these servers ("" the default)."""
    made = spawner(groups, {})
    made.user.orm_spawners = dict.fromkeys(servers)
    made.user.spawner = made
    return made.user


def handler(user: Any, *path_args: str, language: str = "en") -> Any:
    request = SimpleNamespace(headers={"Accept-Language": language})
    return SimpleNamespace(
        request=request,
        path_args=list(path_args),
        current_user=user,
        find_user=lambda name: user if name == user.name else None,
    )


pytestmark = pytest.mark.usefixtures("kubespawner_offline")


def test_the_home_page_shows_the_groups_limit_and_the_site_default_otherwise():
    limit = named_servers.by_group(default=5)
    student = user_in({"student": {"quota.named_servers": "2"}}, ("", "a", "b", "c"))
    assert limit(handler(student)) == 2  # a page that shows it: never a refusal
    assert limit(handler(user_in({"staff": {}}))) == 5


def test_a_student_at_the_limit_is_refused_in_their_language():
    limit = named_servers.by_group(default=5)
    student = user_in({"student": {"quota.named_servers": "1"}}, ("", "first"))
    with pytest.raises(web.HTTPError) as error:
        limit(handler(student, "alice", "second", language="fr"))
    assert error.value.status_code == 403
    assert error.value.jupyterhub_message.startswith(
        "Vous ne pouvez pas créer un autre serveur nommé : vous en avez déjà 1,"
    )
    # Starting one they already have is no creation.
    assert limit(handler(student, "alice", "first")) == 1


def test_a_group_with_zero_named_servers_refuses_the_first_one_jupyterhub_would_allow():
    limit = named_servers.by_group(default=0)
    student = user_in({"student": {"quota.named_servers": "0"}})
    with pytest.raises(web.HTTPError) as error:
        limit(handler(student, "alice", "first"))
    assert "Named servers are not available to you" in error.value.jupyterhub_message
    assert "quota.named_servers = 0" in error.value.jupyterhub_message
    assert limit(handler(student, "alice", "")) == 0  # the default server is not named


def test_a_service_or_an_unknown_user_gets_the_site_default():
    limit = named_servers.by_group(default=3)
    service = SimpleNamespace(name="devenv")  # a service: no spawner, no groups
    assert limit(handler(service)) == 3
    assert limit(handler(service, "nobody", "first")) == 3  # JupyterHub answers 404 itself
