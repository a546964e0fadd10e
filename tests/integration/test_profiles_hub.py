"""Profiles through the real hub on the local platform: what users see and what they get."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes_asyncio import client

from devenv import kube

from .hub import Hub

TODAY_COURSE = {"course.profiles": "spark, python", "course.python.size": "large"}


@pytest.fixture(scope="module")
def users(hub: Hub) -> Iterator[Hub]:
    hub.add_user("alice", ["student", "course-info101"])
    hub.add_user("bob", ["student", "course-stat202"])
    hub.add_user("tom", ["faculty", "teacher-info101"])
    hub.add_user("eve", ["alumni"])
    hub.set_properties("course-info101", TODAY_COURSE)
    hub.set_properties("course-stat202", {"course.profiles": "r", "course.r.end": "2020-01-31"})
    yield hub
    for name in ("alice", "bob", "tom", "eve"):
        hub.api("DELETE", f"/users/{name}/server")


def spawn_page_profiles(hub: Hub, name: str) -> list[str]:
    page = hub.login(name).get(f"{hub.url}/hub/spawn", timeout=30)
    page.raise_for_status()
    return re.findall(r'<input[^>]*name="profile"[^>]*value="([^"]+)"', page.text)


def test_student_sees_own_course_first_then_student_profiles(users: Hub):
    assert spawn_page_profiles(users, "alice") == [
        "info101--spark",
        "info101--python",
        "python",
        "r",
    ]


def test_course_profile_outside_its_dates_is_hidden(users: Hub):
    assert spawn_page_profiles(users, "bob") == ["python", "r"]


def test_teacher_sees_the_course_variants_and_staff_profiles(users: Hub):
    assert spawn_page_profiles(users, "tom") == [
        "info101--spark",
        "info101--python",
        "python",
        "r",
        "research",
    ]


@pytest.mark.parametrize(
    ("name", "options", "says"),
    [
        ("alice", {"profile": "research"}, "The environment 'research' is not available to you"),
        # Issue 9.5: the cause is named (here the course's dates), not "not in your list".
        (
            "bob",
            {"profile": "stat202--r"},
            "The environment 'stat202--r' of the course stat202 is offered only from … to"
            " 2020-01-31",
        ),
        ("alice", {"profile": "python", "size": "huge"}, "The choice 'huge'"),
        ("alice", {"profile": "python", "size--unlisted-choice": "64G"}, "The choice '64G'"),
        ("eve", {}, "No environment is available to you"),
    ],
)
def test_rest_start_of_something_not_offered_is_refused_with_the_reason(
    users: Hub, name, options, says
):
    response = users.api("POST", f"/users/{name}/server", json=options)
    assert response.status_code == 403, response.text
    assert says in response.json()["message"]
    assert not users.api("GET", f"/users/{name}").json()["servers"]


def new_log(hub: Hub, since: int) -> str:
    return hub.log_path.read_text(errors="replace")[since:]


def log_size(hub: Hub) -> int:
    return len(hub.log_path.read_text(errors="replace"))


def test_refusals_do_not_count_as_failures_that_stop_the_hub(users: Hub):
    # The hub exits after 5 consecutive failed spawns (2 s after the last one), and says so
    # from the second one on: "2 consecutive spawns failed". That line is what is checked, at
    # once, rather than waiting for an exit that JupyterHub 6 would never do anyway.
    since = log_size(users)
    for options in [{"profile": "research"}] * 3 + ["xl", False, {"colour": "blue"}]:
        response = users.api("POST", "/users/alice/server", json=options)
        assert response.status_code in (400, 403), response.text
    log = new_log(users, since)
    assert "consecutive spawns failed" not in log, log
    assert "Aborting due to" not in log
    assert users.process is not None and users.process.poll() is None
    assert users.api("GET", "/").ok, users.log_tail()


async def test_spawned_pod_has_exactly_the_chosen_profile(users: Hub, core_v1: client.CoreV1Api):
    response = users.api("POST", "/users/alice/server", json={"profile": "info101--python"})
    assert response.status_code in (201, 202), response.text + users.log_tail()
    users.wait_ready("alice")
    pod = await core_v1.read_namespaced_pod("jupyter-alice", kube.USER_NAMESPACE)
    container = pod.spec.containers[0]
    assert container.image == "quay.io/jupyter/scipy-notebook:2025-10-20"
    # The course pinned the "large" size: 0.5 CPU / 2G guaranteed, 4 CPU / 4G limit.
    assert container.resources.requests == {"cpu": "500m", "memory": str(2 * 1024**3)}
    assert container.resources.limits == {"cpu": "4", "memory": str(4 * 1024**3)}
    assert pod.status.pod_ip.startswith("127.")
    # And the server really answers through the proxy.
    session = users.login("alice")
    lab = session.get(f"{users.url}/user/alice/api/status", timeout=30)
    assert lab.status_code == 200, lab.text
    users.api("DELETE", "/users/alice/server")
    users.wait_stopped("alice")


def test_last_choice_is_preselected(users: Hub):
    # alice last started info101--python (previous test); a new start page offers it again.
    page = users.login("alice").get(f"{users.url}/hub/spawn", timeout=30).text
    checked = re.findall(r'<input[^>]*name="profile"[^>]*value="([^"]+)"[^>]*checked', page)
    assert checked == ["info101--python"]


def test_spawns_are_counted_by_profile(users: Hub):
    metrics = requests.get(
        f"{users.url}/hub/metrics", headers={"Authorization": f"token {users.token}"}, timeout=30
    ).text
    assert re.search(
        r'unilim_spawns_total\{profile="info101--python",size="large"\} [1-9]', metrics
    )
    assert re.search(
        r'unilim_spawn_refusals_total\{reason="spawn.profile_not_allowed"\} [1-9]', metrics
    )


def test_a_wrong_configuration_is_explained_not_a_traceback(tmp_path, platform):
    # With another authenticator nothing checks the configuration at start-up: the first
    # start finds the mistake and says so.
    hub = Hub(tmp_path, ports=(18300, 18301, 18381))
    try:
        hub.start("c.UnilimSpawner.group_quotas = {'student': {'memory': '4Gx'}}\n")
        hub.add_user("zed", ["student"])
        response = hub.api("POST", "/users/zed/server", json={"profile": "python"})
        # The course service stays up too (it must not stop the hub) and says the same.
        courses = requests.get(f"{hub.url}/services/courses/api/courses", timeout=30)
        log = hub.log_tail(200)
    finally:
        hub.stop()
    assert response.status_code == 503
    assert response.json()["message"].startswith("The hub's configuration has a mistake")
    assert "UnilimSpawner.group_quotas['student'].memory" in log
    assert courses.status_code == 503
    assert courses.json()["message"].startswith("The course service cannot work")


def test_a_wrong_course_setting_is_named_in_the_hub_log(users: Hub):
    users.add_user("ines", ["student", "course-math303"])
    users.set_properties(
        "course-math303", {"course.profiles": "python", "course.python.tag": "latest"}
    )
    assert spawn_page_profiles(users, "ines") == ["python", "r"]  # withdrawn, not offered
    expected = "Group course-math303: course.python.tag: Image tag 'latest' is not allowed"
    assert expected in users.log_tail(300)


def test_a_server_that_dies_while_starting_fails_cleanly(tmp_path, platform):
    # A broken image: jupyterhub-singleuser cannot even load its application.
    hub = Hub(tmp_path, ports=(18400, 18401, 18481))
    try:
        hub.start(
            "c.KubeSpawner.environment = {'JUPYTERHUB_SINGLEUSER_APP': 'no.such.App'}\n"
            "c.KubeSpawner.http_timeout = 15\n"
        )
        hub.add_user("yan", ["student"])
        response = hub.api("POST", "/users/yan/server", json={"profile": "python"})
        hub.wait_stopped("yan", timeout=90)
        log = hub.log_tail(300)
    finally:
        hub.stop()
    assert response.status_code in (201, 202), response.text  # not a 500
    assert "Exception is not set" not in log
    assert "yan's server never showed up" in log


def test_student_under_a_1g_limit_is_told_the_admins_limit_not_her_groups(users: Hub):
    # Issue 9.5: `student` has quota.server_mem_limit = 1G, below every size.
    users.add_user("sara", ["student"])
    since = log_size(users)
    users.set_properties("student", {"quota.server_mem_limit": "1G"})
    try:
        page = users.login("sara").get(f"{users.url}/hub/spawn", timeout=30).text
        response = users.api("POST", "/users/sara/server", json={})
    finally:
        users.set_properties("student", {})
    says = "the limit per server that the hub admins set for the group student"
    assert says in page and "none of the groups" not in page
    assert response.status_code == 403
    message = response.json()["message"]
    assert says in message and "(quota.server_mem_limit = 1G;" in message
    assert "Group student: quota.server_mem_limit = 1G is below" in new_log(users, since)


def test_course_whose_ceiling_is_below_its_pinned_size_says_so(users: Hub):
    # The same kind: a course pins "large" (4G) and caps its own servers at 2G.
    users.add_user("paul", ["student", "course-phys404"])
    users.set_properties(
        "course-phys404",
        {
            "course.profiles": "python",
            "course.python.size": "large",
            "quota.server_mem_limit": "2G",
        },
    )
    since = log_size(users)
    response = users.api("POST", "/users/paul/server", json={"profile": "phys404--python"})
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    assert "the group course-phys404 (quota.server_mem_limit = 2G)" in message
    assert "Group course-phys404: quota.server_mem_limit = 2G is below" in new_log(users, since)
    assert spawn_page_profiles(users, "paul") == ["python", "r"]


def test_memory_limit_in_french_units_is_applied(users: Hub):
    # Issue 9.6: "2 Go" is how the French picker writes 2 GiB; it was dropped as invalid.
    users.add_user("sara", ["student"])
    since = log_size(users)
    for typed in ("2 Go", "2Go"):
        users.set_properties("student", {"quota.server_mem_limit": typed})
        try:
            page = users.login("sara").get(f"{users.url}/hub/spawn", timeout=30).text
        finally:
            users.set_properties("student", {})
        sizes = re.findall(r'<option value="([^"]+)"', page)
        assert sizes == ["standard", "standard"], typed  # python and r, no "large" (4G)
    assert "is not an amount of memory" not in new_log(users, since)


MALFORMED = [
    (b"false", "JSON object"),
    (b"0", "JSON object"),
    (b'"xl"', "JSON object"),
    (b'["python"]', "JSON object"),
    (json.dumps({"profile": "python", "colour": "blue"}).encode(), "'colour'"),
    (json.dumps({"profile": 5}).encode(), "must be a text"),
    (json.dumps({"profile": "p" * 100_000}).encode(), "longer than 200 characters"),
]


@pytest.mark.parametrize(("body", "says"), MALFORMED)
def test_malformed_start_request_is_a_400_that_says_what_is_expected(users: Hub, body, says):
    # Issue 9.7: these answered 500 with a traceback (the user_options trait refused them).
    since = log_size(users)
    response = users.api(
        "POST", "/users/alice/server", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert says in response.json()["message"]
    log = new_log(users, since)
    assert "Traceback" not in log and "consecutive spawns failed" not in log
    assert not users.api("GET", "/users/alice").json()["servers"]


def test_a_newline_in_a_requested_profile_forges_no_log_line(users: Hub):
    # Issue 10.6: user text in the spawn path's log lines is escaped and cut.
    since = log_size(users)
    forged = "python\n[E 2026-11-30 12:00:00.000 JupyterHub app] forged" + "x" * 120
    response = users.api("POST", "/users/alice/server", json={"profile": forged})
    assert response.status_code == 403
    log = new_log(users, since)
    assert not any(line.startswith("[E 2026-11-30 12:00:00.000") for line in log.splitlines())
    assert "x" * 100 not in log


json_bodies = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["profile", "size", "size--unlisted-choice", "user_options"])
            | st.text(max_size=10),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_bodies)
def test_any_json_start_body_gets_an_answer_below_500_and_the_hub_stays_up(users: Hub, body):
    # eve is offered nothing, so no body starts a server: only the answers are checked.
    response = users.api("POST", "/users/eve/server", json=body)
    assert response.status_code < 500, (body, response.text, users.log_tail())
    assert users.process is not None and users.process.poll() is None
