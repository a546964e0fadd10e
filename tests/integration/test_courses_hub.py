"""The course service through the real hub: SSO logins, JupyterHub's scopes, the real spawn.

The hub starts the service itself (devenv/jupyterhub_config.py); browsers reach it through
the proxy at /services/courses/ and log in with the hub's OAuth, an LMS sends a hub token.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from markupsafe import escape

from .hub import Hub
from .keycloak_admin import PASSWORD, temporary_user

SERVICE = "/services/courses/"
# What the tests start from: a key of the admins and one of their own notes, to be kept.
INFO101 = {"quota.servers": "50", "note": "room B12 on Tuesdays"}


def service_url(hub: Hub, path: str = "") -> str:
    return f"{hub.url}{SERVICE}{path}"


def wait_for_service(hub: Hub, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(service_url(hub, "api/openapi.json"), timeout=5).status_code == 200:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the course service does not answer:\n{hub.log_tail()}")


@pytest.fixture(scope="module")
def courses(sso_hub: Hub) -> Iterator[Hub]:
    wait_for_service(sso_hub)
    sso_hub.set_properties("course-info101", INFO101)
    sso_hub.set_properties("course-stat202", {"course.profiles": "r"})
    yield sso_hub
    sso_hub.api("DELETE", "/users/alice/server")
    sso_hub.set_properties("course-info101", {})
    sso_hub.set_properties("course-stat202", {})


def token_of(hub: Hub, name: str) -> dict[str, str]:
    """The Authorization header of a hub token of ``name``'s, as an LMS would hold."""
    hub.sso_login(name)  # the person's roles come from their login
    token = hub.api("POST", f"/users/{name}/tokens", json={"note": "lms"}).json()["token"]
    return {"Authorization": f"token {token}"}


def api(hub: Hub, method: str, path: str, headers: dict[str, str], **kwargs: Any):
    return requests.request(
        method, service_url(hub, f"api/{path}"), headers=headers, timeout=30, **kwargs
    )


def properties(hub: Hub, group: str) -> dict[str, Any]:
    return hub.api("GET", f"/groups/{group}").json()["properties"]


class Form(HTMLParser):
    """The fields of the page's course form as a browser would send them unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.fields.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self._select = a["name"]
            self.fields[a["name"]] = [""]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = [a.get("value", "")]
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = [""]

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] = [data]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def course_form(session: requests.Session, hub: Hub, code: str) -> dict[str, list[str]]:
    page = session.get(service_url(hub, f"courses/{code}"), timeout=30)
    assert page.status_code == 200, page.text
    form = Form()
    form.feed(page.text)
    return form.fields


def test_teacher_lists_only_the_courses_they_teach(courses: Hub):
    session = courses.sso_login("tom").session
    page = session.get(service_url(courses), timeout=30)

    assert page.status_code == 200, page.text
    assert re.findall(r'href="/services/courses/courses/([^"]+)"', page.text) == ["info101"]
    # The hub's own page: its navigation bar and styles.
    assert "/hub/static/css/style.min.css" in page.text
    assert 'id="jupyterhub-logo"' in page.text
    # The hub's own navigation links to the service for teachers, not for students.
    home = session.get(f"{courses.url}/hub/home", timeout=30).text
    assert f'href="{SERVICE}"' in home
    student = courses.sso_login("alice").session.get(f"{courses.url}/hub/home", timeout=30)
    assert f'href="{SERVICE}"' not in student.text


def test_admin_manages_every_course(courses: Hub):
    listed = api(courses, "GET", "courses", token_of(courses, "ada")).json()["courses"]
    assert {"info101", "stat202"} <= {course["course"] for course in listed}


def test_teacher_of_one_course_gets_403_on_another_through_page_and_api(courses: Hub):
    session = courses.sso_login("tom", language="fr").session
    page = session.get(service_url(courses, "courses/stat202"), timeout=30)
    assert page.status_code == 403
    assert "Vous ne pouvez pas gérer le cours « stat202 »" in page.text

    form = course_form(session, courses, "info101")  # a valid _xsrf of tom's
    form["profile"] = ["python"]
    posted = session.post(service_url(courses, "courses/stat202"), data=form, timeout=30)
    assert posted.status_code == 403

    headers = token_of(courses, "tom")
    assert api(courses, "GET", "courses/stat202", headers).status_code == 403
    patched = api(courses, "PATCH", "courses/stat202", headers, json={"course.profiles": "python"})
    assert patched.status_code == 403
    assert "You may not manage the course 'stat202'" in patched.json()["message"]
    assert properties(courses, "course-stat202") == {"course.profiles": "r"}


def test_teacher_assigns_a_profile_and_a_student_sees_it_and_starts_it(courses: Hub):
    session = courses.sso_login("tom").session
    form = course_form(session, courses, "info101")
    form["profile"] = ["r"]
    form["course.r.size"] = ["standard"]
    saved = session.post(service_url(courses, "courses/info101"), data=form, timeout=30)

    assert saved.status_code == 200, saved.text
    assert 'id="saved"' in saved.text
    stored = properties(courses, "course-info101")
    assert stored == INFO101 | {"course.profiles": "r", "course.r.size": "standard"}
    assert "tom" in saved.text.split('id="history"')[1]  # who, in the page's history

    student = courses.sso_login("alice").session
    spawn = student.get(f"{courses.url}/hub/spawn", timeout=30).text
    assert "info101--r" in re.findall(r'name="profile"[^>]*value="([^"]+)"', spawn)
    started = courses.api("POST", "/users/alice/server", json={"profile": "info101--r"})
    assert started.status_code in (201, 202), started.text
    courses.wait_ready("alice")

    # The teacher sees the student's server, with the course's environment.
    servers = api(courses, "GET", "courses/info101/servers", token_of(courses, "tom")).json()
    alice = [server for server in servers["servers"] if server["student"] == "alice"]
    assert [(s["server"], s["profile"], s["ready"]) for s in alice] == [("", "info101--r", True)]
    page = session.get(service_url(courses, "courses/info101"), timeout=30).text
    assert "info101--r" in page.split('id="servers"')[1]
    # ...in the room placement sent it to (the hub's rooms: config/unilim.yaml).
    [room] = [s["room"] for s in alice]
    assert room in ("salle-a", "salle-b")
    assert f'class="room">{room}<' in page.split('id="servers"')[1]
    # The admins see that room's nodes and what they hold, as of this start.
    status = api(courses, "GET", "status", token_of(courses, "ada")).json()
    assert status["rooms"][room]["nodes"]["ready"] >= 1
    assert status["rooms"][room]["capacity"]["servers"] > 0
    assert (
        0
        <= status["rooms"][room]["free"]["servers"]
        <= status["rooms"][room]["capacity"]["servers"]
    )
    page = courses.sso_login("ada").session.get(service_url(courses, "status"), timeout=30).text
    rooms = page.split('id="rooms"')[1].split("</table>")[0]
    assert re.search(rf'data-room="{room}".*?class="nodes">\d+ / \d+<', rooms, re.S), rooms
    courses.api("DELETE", "/users/alice/server")
    courses.wait_stopped("alice")


def test_two_teachers_saving_different_keys_at_once_both_keep_theirs(courses: Hub):
    with temporary_user("theo", ["faculty", "teacher-info101"], ["faculty"]):
        courses.sso_login("theo", PASSWORD)
        theo = courses.api("POST", "/users/theo/tokens", json={"note": "lms"}).json()["token"]
        tom = token_of(courses, "tom")
        api(courses, "PUT", "courses/info101", tom, json={"course.profiles": "python"})
        changes = [
            (tom, {"course.python.tag": "2025-10-20"}),
            ({"Authorization": f"token {theo}"}, {"course.python.size": "large"}),
            (tom, {"course.python.start": "2026-09-01"}),
            ({"Authorization": f"token {theo}"}, {"course.python.end": "2027-01-31"}),
            (tom, {"course.description": "Python for INFO101"}),
        ]
        answers: list[int] = []
        barrier = threading.Barrier(len(changes))

        def save(headers: dict[str, str], change: dict[str, str]) -> None:
            barrier.wait()
            answers.append(
                api(courses, "PATCH", "courses/info101", headers, json=change).status_code
            )

        threads = [threading.Thread(target=save, args=change) for change in changes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert answers == [200] * len(changes)
    stored = properties(courses, "course-info101")
    for _, change in changes:
        assert change.items() <= stored.items()
    assert INFO101.items() <= stored.items()  # the admins' keys are kept
    history = api(courses, "GET", "courses/info101/history", tom).json()["history"]
    assert {entry["author"] for entry in history[: len(changes)]} == {"tom", "theo"}


def test_script_in_a_description_is_stored_and_shown_as_text(courses: Hub):
    payload = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
    headers = token_of(courses, "tom")
    saved = api(courses, "PATCH", "courses/info101", headers, json={"course.description": payload})
    assert saved.status_code == 200, saved.text
    assert properties(courses, "course-info101")["course.description"] == payload

    page = courses.sso_login("tom").session.get(service_url(courses, "courses/info101"), timeout=30)
    assert payload not in page.text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text


def test_a_wrong_setting_is_refused_in_the_persons_language_and_nothing_is_saved(courses: Hub):
    headers = token_of(courses, "tom") | {"Accept-Language": "fr-FR,fr;q=0.9"}
    before = properties(courses, "course-info101")
    answer = api(
        courses,
        "PATCH",
        "courses/info101",
        headers,
        json={"course.profiles": "python", "course.python.size": "huge", "quota.servers": "999"},
    )
    assert answer.status_code == 400
    problems = {problem["key"]: problem["message"] for problem in answer.json()["problems"]}
    assert problems["quota.servers"].startswith("Propriété de groupe inconnue")
    assert properties(courses, "course-info101") == before

    answer = api(courses, "PATCH", "courses/info101", headers, json={"course.python.size": "huge"})
    assert answer.status_code == 400
    (problem,) = answer.json()["problems"]
    assert problem["key"] == "course.python.size"
    assert "« huge » n'est pas une taille de ce profil" in problem["message"]
    assert properties(courses, "course-info101") == before


def test_a_form_without_its_xsrf_token_is_refused(courses: Hub):
    session = courses.sso_login("tom").session
    form = course_form(session, courses, "info101")
    del form["_xsrf"]
    form["profile"] = ["r", "python"]
    before = properties(courses, "course-info101")

    posted = session.post(service_url(courses, "courses/info101"), data=form, timeout=30)
    assert posted.status_code == 403
    assert properties(courses, "course-info101") == before


def test_api_description_is_served(courses: Hub):
    described = requests.get(service_url(courses, "api/openapi.json"), timeout=30).json()
    assert described["openapi"].startswith("3.")
    assert {
        "/api/courses",
        "/api/courses/{code}",
        "/api/courses/{code}/history",
        "/api/courses/{code}/servers",
    } <= set(described["paths"])


def test_admin_status_page_names_a_wrong_group_property_and_teachers_get_403(courses: Hub):
    courses.set_properties("course-stat202", {"course.profiles": "r", "course.r.size": "xl"})
    try:
        ada = courses.sso_login("ada").session
        page = ada.get(service_url(courses, "status"), timeout=30)
        assert page.status_code == 200, page.text
        problems = page.text.split('id="problems"')[1]
        assert "course-stat202" in problems and "course.r.size" in problems
        assert 'id="usage"' in page.text and 'id="rooms"' in page.text

        tom = courses.sso_login("tom").session
        assert tom.get(service_url(courses, "status"), timeout=30).status_code == 403
        assert api(courses, "GET", "status", token_of(courses, "tom")).status_code == 403
    finally:
        courses.set_properties("course-stat202", {"course.profiles": "r"})


def test_admin_status_lists_a_refusal_that_just_happened_with_its_time_and_message(courses: Hub):
    courses.sso_login("alice")
    before = time.time()
    refused = courses.api(
        "POST",
        "/users/alice/server",
        json={"profile": "research"},
        headers={"Accept-Language": "fr"},
    )
    assert refused.status_code == 403, refused.text

    status = api(courses, "GET", "status", token_of(courses, "ada")).json()
    latest = status["latest_refusals"][0]  # the newest first
    assert (latest["user"], latest["reason"]) == ("alice", "spawn.profile_not_allowed")
    assert "research" in latest["message"] and latest["at"].endswith("+00:00")
    assert abs(datetime.fromisoformat(latest["at"]).timestamp() - before) < 60
    page = courses.sso_login("ada").session.get(service_url(courses, "status"), timeout=30).text
    listed = page.split('id="latest-refusals"')[1].split("</table>")[0]
    first = listed.split("<tbody>")[1].split("</tr>")[0]
    assert "alice" in first and "spawn.profile_not_allowed" in first
    assert str(escape(latest["message"])) in first  # as the page's autoescape writes it
    # The hub's route itself answers only with its scope: not to a teacher's token.
    hub_route = f"{courses.url}/hub/api/unilim/refusals"
    assert requests.get(hub_route, headers=token_of(courses, "tom"), timeout=30).status_code == 403


def test_teacher_switches_the_course_folder_and_s3_data_off_and_on_again(courses: Hub):
    before = properties(courses, "course-info101")
    try:
        _switch_off_and_on(courses)
    finally:
        courses.set_properties("course-info101", before)


def _switch_off_and_on(courses: Hub) -> None:
    session = courses.sso_login("tom").session
    form = course_form(session, courses, "info101")
    assert form["course.folder"] == ["on"] and form["course.s3"] == ["on"]  # unset: on
    form["course.folder"] = ["off"]
    saved = session.post(service_url(courses, "courses/info101"), data=form, timeout=30)
    assert saved.status_code == 200 and 'id="saved"' in saved.text, saved.text
    assert properties(courses, "course-info101")["course.folder"] == "off"
    history = saved.text.split('id="history"')[1]
    assert "course.folder" in history and "off" in history
    assert course_form(session, courses, "info101")["course.folder"] == ["off"]

    headers = token_of(courses, "tom")
    turned = api(courses, "PATCH", "courses/info101", headers, json={"course.s3": "off"})
    assert turned.status_code == 200, turned.text
    assert turned.json()["offered"] == {"course.folder": True, "course.s3": True}
    again = {"course.folder": "on", "course.s3": None}
    assert api(courses, "PATCH", "courses/info101", headers, json=again).status_code == 200
    stored = properties(courses, "course-info101")
    assert stored["course.folder"] == "on" and "course.s3" not in stored
    wrong = api(courses, "PATCH", "courses/info101", headers, json={"course.s3": "maybe"})
    assert wrong.status_code == 400
    assert wrong.json()["problems"][0]["code"] == "switch.invalid"


def test_a_refused_form_keeps_what_was_typed_and_the_fixed_save_keeps_every_field(
    courses: Hub,
):
    session = courses.sso_login("tom", language="fr").session
    form = course_form(session, courses, "info101")
    before = properties(courses, "course-info101")
    form["profile"] = ["python"]
    form["course.python.start"] = ["2027-06-01"]
    form["course.python.end"] = ["2027-01-31"]  # before the start
    form["course.description"] = ["Python, second semester"]

    posted = session.post(service_url(courses, "courses/info101"), data=form, timeout=30)
    assert posted.status_code == 400
    assert "Rien n'a été enregistré" in html.unescape(posted.text)
    assert "course.python.end" in posted.text.split('id="problems"')[1]
    assert properties(courses, "course-info101") == before
    refused = Form()
    refused.feed(posted.text)
    assert refused.fields["course.python.start"] == ["2027-06-01"]  # as typed
    assert refused.fields["was:course.python.start"] == [before.get("course.python.start", "")]

    refused.fields["course.python.end"] = ["2027-12-31"]
    again = session.post(service_url(courses, "courses/info101"), data=refused.fields, timeout=30)
    assert again.status_code == 200 and 'id="saved"' in again.text
    stored = properties(courses, "course-info101")
    assert stored["course.python.start"] == "2027-06-01"
    assert stored["course.python.end"] == "2027-12-31"
    assert stored["course.description"] == "Python, second semester"
