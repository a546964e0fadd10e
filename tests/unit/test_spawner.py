"""UnilimSpawner itself, without a hub: what it refuses, and what it hands to KubeSpawner."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from jupyterhub.objects import Server
from kubespawner import KubeSpawner
from tornado import web
from traitlets.config import Config

from unilim_hub import admission, compat, refusals
from unilim_hub.events import IndexedEventReflector
from unilim_hub.policy.models import ROOM_STATE
from unilim_hub.spawner import UnilimSpawner

EXAMPLE = Path(__file__).parents[2] / "config" / "unilim.yaml"
GiB = 1024**3


# These tests never reach Kubernetes: KubeSpawner's client is not even built, and the
# admission against the live cluster (tests/unit/test_admission.py, and the real cluster
# in tests/integration/test_quotas_hub.py) admits every start.
pytestmark = pytest.mark.usefixtures("kubespawner_offline")


@pytest.fixture(autouse=True)
def admit_everything(monkeypatch):
    async def reserve(spawner, decision, properties):
        return None

    monkeypatch.setattr(admission, "reserve", reserve)


class Group(SimpleNamespace):
    name: str
    properties: dict[str, Any]


def spawner(groups: dict[str, dict[str, Any]], options: Any, body: bytes = b"") -> UnilimSpawner:
    """A UnilimSpawner for a user in ``groups`` (name -> properties) asking for ``options``."""
    config = Config(yaml.safe_load(EXAMPLE.read_text())["hub"]["config"])
    user = SimpleNamespace(
        name="alice",
        id=1,
        url="/user/alice/",
        escaped_name="alice",
        server=Server(),
        groups=[Group(name=name, properties=props) for name, props in groups.items()],
        db=None,
    )
    request = SimpleNamespace(
        method="POST",
        path="/hub/api/users/alice/server",
        body=body,
        headers={"Accept-Language": "en"},
    )
    handler = SimpleNamespace(request=request, settings={"failure_count": 0})
    made = UnilimSpawner(config=config, user=user, _mock=True)
    made.handler = handler
    made.orm_spawner = None
    made.user_options = options
    return made


def student(**properties: Any) -> dict[str, dict[str, Any]]:
    return {"student": properties}


async def refused(made: UnilimSpawner) -> web.HTTPError:
    with pytest.raises(web.HTTPError) as error:
        await made.load_user_options()
    return error.value


def message(error: web.HTTPError) -> str:
    return getattr(error, "jupyterhub_message", None) or str(error.log_message or error)


async def test_spawner_refuses_a_forged_profile_before_kubespawner_applies_it():
    made = spawner(student(), {"profile": "research"})
    error = await refused(made)
    assert error.status_code == 403
    assert "The environment 'research' is not available to you" in message(error)
    assert made.image != "quay.io/jupyter/scipy-notebook:2025-10-20"  # nothing applied
    # The admins' status page lists it: who, why, and the message the person read.
    latest = refusals.latest()[0]
    assert (latest.user, latest.reason) == ("alice", "spawn.profile_not_allowed")
    assert latest.message == message(error)


def test_the_room_a_server_was_placed_in_is_kept_with_its_state():
    made = spawner(student(), {})
    made._room = "salle-a"
    state = made.get_state()
    assert state[ROOM_STATE] == "salle-a"
    again = spawner(student(), {})
    again.load_state(state)
    assert again.get_state()[ROOM_STATE] == "salle-a"
    again.clear_state()
    assert ROOM_STATE not in again.get_state()


async def test_spawner_hands_kubespawner_the_size_in_cores_and_bytes():
    made = spawner(student(), {"profile": "python", "size": "large"})
    await made.load_user_options()
    assert made.image == "quay.io/jupyter/scipy-notebook:2025-10-20"
    # 500m guaranteed, 4 cores at most: KubeSpawner takes cores, the catalog millicores.
    assert (made.cpu_guarantee, made.cpu_limit) == (0.5, 4.0)
    assert (made.mem_guarantee, made.mem_limit) == (2 * GiB, 4 * GiB)


async def test_spawner_gives_the_default_size_when_none_is_asked():
    made = spawner(student(), {})
    await made.load_user_options()
    assert made.image == "quay.io/jupyter/scipy-notebook:2025-10-20"
    assert (made.cpu_guarantee, made.cpu_limit) == (0.2, 2.0)
    assert (made.mem_guarantee, made.mem_limit) == (1 * GiB, 2 * GiB)


async def test_kubespawner_second_evaluation_sees_the_list_that_was_checked(monkeypatch):
    # Between the check and KubeSpawner's own evaluation of profile_list the course's
    # properties change (a teacher withdraws the profile): the checked list still applies,
    # and the start gets exactly what was checked.
    groups = {
        "student": {},
        "course-info101": {"course.profiles": "python", "course.python.size": "large"},
    }
    made = spawner(groups, {"profile": "info101--python"})
    original = UnilimSpawner.offer
    calls = []

    def offer_then_withdraw(self: UnilimSpawner, properties=None):
        found = original(self, properties)
        calls.append(found)
        groups_now = self.user.groups
        groups_now[1].properties = {}  # withdrawn right after the check
        return found

    monkeypatch.setattr(UnilimSpawner, "offer", offer_then_withdraw)
    await made.load_user_options()
    assert made.mem_limit == 4 * GiB  # the course's pinned "large" size
    assert len(calls) == 1  # KubeSpawner's evaluation did not ask the policy again
    # After the start, the list is asked afresh: the withdrawn profile is gone.
    monkeypatch.setattr(UnilimSpawner, "offer", original)
    assert "info101--python" not in [entry["slug"] for entry in made._profile_list(made)]


async def test_spawner_names_the_admins_memory_limit_not_the_groups(caplog):
    made = spawner(student(**{"quota.server_mem_limit": "1G"}), {})
    error = await refused(made)
    text = message(error)
    assert "none of the groups" not in text
    assert "group student (quota.server_mem_limit = 1G" in text
    # The hub log is in the site's language (French in the example configuration).
    assert "Groupe student : quota.server_mem_limit = 1G est inférieur" in caplog.text


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (False, "must be a JSON object"),
        (0, "must be a JSON object"),
        ("xl", "must be a JSON object"),
        (["python"], "must be a JSON object"),
        ({"profile": "python", "colour": "blue"}, "unknown option 'colour'"),
        ({"profile": 42}, "must be a text"),
        ({"profile": "p" * 10_000}, "longer than 200 characters"),
    ],
)
async def test_malformed_start_request_is_a_400_that_says_what_is_expected(options, expected):
    made = spawner(student(), options)
    error = await refused(made)
    assert error.status_code == 400
    assert expected in message(error)
    # JupyterHub 5 adds 1 after the failure: the refusal takes it back first. JupyterHub 6
    # counts no SpawnException (nor any 4xx), so nothing is taken back there.
    expected = -1 if compat.SpawnException is None else 0
    assert made.handler.settings["failure_count"] == expected


async def test_false_body_refused_even_when_jupyterhub_takes_it_for_no_body():
    # JupyterHub 6 turns a `false` body into "no options"; the body itself is checked.
    made = spawner(student(), {}, body=b"false")
    error = await refused(made)
    assert error.status_code == 400


async def test_a_newline_in_a_requested_profile_forges_no_log_line(caplog):
    made = spawner(student(), {"profile": "x\nINFO forged line" + "y" * 150})
    error = await refused(made)
    text = message(error)
    assert "\n" not in text
    assert "x\\nINFO forged line" in text
    assert "y" * 60 not in text  # cut to 64 characters


def test_form_keeps_only_the_chosen_profile_and_its_options():
    made = spawner(student(), {})
    form = {
        "profile": ["python"],
        "profile-option-python--size": ["large"],
        "profile-option-r--size": ["standard"],
        "evil\nfield": ["x"],
    }
    assert made.options_from_form(form) == {"profile": "python", "size": "large"}


def test_a_course_property_with_a_newline_forges_no_log_line(caplog):
    forged = "latest\n[E 2026-11-30 12:00:00.000 JupyterHub app] forged" + "z" * 500
    made = spawner(
        {
            "student": {},
            "course-info101": {"course.profiles": "python", "course.python.tag": forged},
        },
        {},
    )
    made.group_properties()
    assert "course.python.tag" in caplog.text
    assert not any(line.startswith("[E 2026") for line in caplog.text.splitlines())
    assert "z" * 100 not in caplog.text


async def test_an_empty_picker_reads_the_group_properties_once(caplog):
    # Nothing to offer (every size above the ceiling): the picker names the cause from the
    # offer the profile list was drawn from; a junk property is logged once, not twice.
    made = spawner(student(**{"quota.server_mem_limit": "1G", "quota.servers": "lots"}), {})
    html = await made.options_form(made)
    assert "quota.server_mem_limit = 1G" in html
    assert caplog.text.count("quota.servers") == 1


def test_a_start_reads_its_own_pods_events_from_the_index(monkeypatch):
    made = spawner(student(), {})
    reflector = IndexedEventReflector.__new__(IndexedEventReflector)

    def pod_event(uid: str, pod: str, second: int) -> dict[str, Any]:
        return {
            "metadata": {"uid": uid},
            "involvedObject": {"namespace": made.namespace, "name": pod},
            "lastTimestamp": f"2026-12-01T08:00:0{second}Z",
        }

    reflector.resources = {
        "old": pod_event("old", made.pod_name, 1),  # the previous pod of the same name
        "mine": pod_event("mine", made.pod_name, 3),
        "other": pod_event("other", "jupyter-bob", 2),
    }
    monkeypatch.setitem(UnilimSpawner.reflectors, made._get_reflector_key("events"), reflector)
    assert [e["metadata"]["uid"] for e in made.events] == ["old", "mine"]
    made._last_event = "old"  # the newest event when this start began
    assert [e["metadata"]["uid"] for e in made.events] == ["mine"]
    made.events_enabled = False
    assert made.events == []


async def test_kubespawner_reads_its_pods_from_the_view_of_the_cluster(monkeypatch):
    made = spawner(student(), {})
    pods = SimpleNamespace(pods={})  # the view's reflector
    view = SimpleNamespace(pods=pods)
    asked: list[bool] = []

    async def shared_view(parent: Any, scope: str | None, restart: bool = False) -> Any:
        asked.append(restart)
        return view

    monkeypatch.setattr(admission, "shared_view", shared_view)
    monkeypatch.setattr(admission, "shared_ledger", lambda view: None)
    monkeypatch.setattr(admission, "current_view", lambda scope: view)
    assert await made._start_watching_pods() is pods
    assert made.pod_reflector is pods
    # KubeSpawner's answer to a pod that never showed up: the view lists the pods again.
    assert await made._start_watching_pods(replace=True) is pods
    assert asked == [False, True]
    assert made._get_reflector_key("pods") not in UnilimSpawner.reflectors  # no second watch


async def test_with_a_namespace_per_user_kubespawner_keeps_its_own_pod_watch(monkeypatch):
    made = spawner(student(), {})
    made.enable_user_namespaces = True
    made.cluster_pods_scope = "namespace"  # the view would see the hub's namespace only
    own = SimpleNamespace(pods={})

    async def kubespawner_watch(self: Any, replace: bool = False) -> Any:
        UnilimSpawner.reflectors[self._get_reflector_key("pods")] = own
        return own

    monkeypatch.setattr(KubeSpawner, "_start_watching_pods", kubespawner_watch)
    monkeypatch.setattr(UnilimSpawner, "reflectors", {})
    assert await made._start_watching_pods() is own
    assert made.pod_reflector is own
