"""Named servers per user by group (quota.named_servers), through a real hub.

The hub runs the production example's snippet (config/unilim.yaml, hub.extraConfig):
JupyterHub's named_server_limit_per_user is unilim_hub.named_servers.by_group(default=3),
and the student group's baseline is 2 named servers. Light pods keep the servers cheap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from devenv import kube

from .hub import Hub, error_message

PORTS = (18650, 18651, 18691)
EXTRA_CONFIG = """
c.KubeSpawner.extra_labels = {"unilim.fr/podrunner": "light"}
c.UnilimSpawner.s3_mode = "off"  # light pods use no S3 (test_s3_hub.py tests it)
"""
STUDENT, TEACHER = "nsstudent", "nsteacher"


@pytest.fixture(scope="module")
def named_hub(platform: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    kube.ensure_hub_rbac()
    hub = Hub(tmp_path_factory.mktemp("named-hub"), ports=PORTS)
    try:
        hub.start(EXTRA_CONFIG)
        hub.add_user(STUDENT, ["student"])
        hub.add_user(TEACHER, ["faculty"])
        yield hub
    finally:
        if hub.process is not None and hub.process.poll() is None:
            for name in (STUDENT, TEACHER):
                remove_named_servers(hub, name)
        hub.stop()


def create(hub: Hub, user: str, server: str, language: str = "en") -> requests.Response:
    """Create (and start) a named server through the REST API, as an admin would."""
    return hub.api(
        "POST",
        f"/users/{user}/servers/{server}",
        json={"profile": "python"},
        headers={"Accept-Language": language},
    )


def named_servers(hub: Hub, user: str) -> set[str]:
    """The user's named servers, stopped ones included (they count towards the limit)."""
    model = hub.api("GET", f"/users/{user}", params={"include_stopped_servers": "1"}).json()
    return {name for name in model.get("servers", {}) if name}


def remove_named_servers(hub: Hub, user: str) -> None:
    for name in named_servers(hub, user):
        hub.api("DELETE", f"/users/{user}/servers/{name}", json={"remove": True})
    deadline = time.monotonic() + 120
    while named_servers(hub, user):
        assert time.monotonic() < deadline, f"{user}'s named servers not removed"
        time.sleep(1)


def test_a_student_limited_to_one_named_server_cannot_create_a_second(named_hub: Hub):
    named_hub.set_properties("student", {"quota.named_servers": "1"})
    assert create(named_hub, STUDENT, "first").status_code in (201, 202), named_hub.log_tail()
    refused = create(named_hub, STUDENT, "second")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "You cannot create another named server: you already have 1, the most the hub admins"
        " allow for the group student (quota.named_servers = 1; stopped servers count too)."
        " Delete one you no longer need on the home page, or start one of those you have."
    )
    in_french = create(named_hub, STUDENT, "second", language="fr").json()["message"]
    assert in_french.startswith("Vous ne pouvez pas créer un autre serveur nommé")
    # The student's own spawn page says the same, and nothing was created.
    page = named_hub.login(STUDENT).get(f"{named_hub.url}/hub/spawn/{STUDENT}/second", timeout=30)
    assert page.status_code == 403
    assert "the most the hub admins allow for the group student" in error_message(page)
    assert named_servers(named_hub, STUDENT) == {"first"}


def test_a_teacher_group_allowed_three_creates_three_and_not_a_fourth(named_hub: Hub):
    named_hub.set_properties("faculty", {"quota.named_servers": "3"})
    for server in ("one", "two", "three"):
        assert create(named_hub, TEACHER, server).status_code in (201, 202), named_hub.log_tail()
    refused = create(named_hub, TEACHER, "four")
    assert refused.status_code == 403
    assert "group faculty (quota.named_servers = 3;" in refused.json()["message"]


def test_an_admin_changes_the_limit_and_the_next_creation_honours_it(named_hub: Hub):
    named_hub.set_properties("student", {"quota.named_servers": "1"})
    create(named_hub, STUDENT, "first")  # from the first test, or now
    assert create(named_hub, STUDENT, "second").status_code == 403
    named_hub.set_properties("student", {"quota.named_servers": "2"})
    assert create(named_hub, STUDENT, "second").status_code in (201, 202), named_hub.log_tail()
    named_hub.set_properties("student", {"quota.named_servers": "0"})
    refused = create(named_hub, STUDENT, "third")
    assert refused.status_code == 403
    assert refused.json()["message"].startswith(
        "Named servers are not available to you: the hub admins allow none for the group"
        " student (quota.named_servers = 0)."
    )


def test_a_junk_limit_is_logged_and_the_baseline_applies(named_hub: Hub):
    remove_named_servers(named_hub, STUDENT)
    named_hub.set_properties("student", {"quota.named_servers": "lots"})
    # The baseline of config/unilim.yaml: 2 named servers for students.
    for server in ("first", "second"):
        assert create(named_hub, STUDENT, server).status_code in (201, 202), named_hub.log_tail()
    refused = create(named_hub, STUDENT, "third")
    assert refused.status_code == 403
    assert (
        "group student (UnilimSpawner.group_quotas['student'].named_servers = 2;"
        in refused.json()["message"]
    )
    assert (
        "Group student: quota.named_servers: 'lots' is not a number of named servers"
        in named_hub.log_tail(500)
    )
