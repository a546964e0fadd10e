"""The course service in Chromium: a teacher's whole flow, and a stored script that stays text."""

from __future__ import annotations

import re
import time

import requests
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_sso_browser import sign_in_with_keycloak
from tests.integration.hub import Hub
from tests.integration.test_courses_hub import service_url, wait_for_service

# "Two minutes" is the issue's promise; the browser's part is measured against it.
PROMISE = 120


def reset(hub: Hub) -> None:
    hub.set_properties("course-info101", {})


def test_teacher_sets_up_a_course_and_a_student_sees_it_within_two_minutes(
    browser: Browser, sso_hub: Hub
):
    wait_for_service(sso_hub)
    reset(sso_hub)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    teacher = browser.new_context(locale="fr-FR", viewport={"width": 1200, "height": 900})
    page = teacher.new_page()
    sign_in_with_keycloak(page, sso_hub, "tom")
    page.wait_for_url(re.compile(rf"^{re.escape(sso_hub.url)}/hub/"))

    page.goto(service_url(sso_hub))
    expect(page.locator("h1")).to_have_text("Les cours que vous gérez")
    page.screenshot(path=str(SCREENSHOTS / "courses-list.png"))
    page.click("#courses a:has-text('info101')")
    row = page.locator("tr[data-profile='python']")
    row.locator("input[name='profile']").check()
    row.locator("select[name='course.python.size']").select_option("large")
    row.locator("input[name='course.python.end']").fill("2099-01-31")
    page.screenshot(path=str(SCREENSHOTS / "courses-form.png"), full_page=True)
    page.click("#save")
    expect(page.locator("#saved")).to_have_text("Enregistré.")
    expect(page.locator("#history")).to_contain_text("tom")
    page.screenshot(path=str(SCREENSHOTS / "courses-saved.png"))
    teacher.close()

    student = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 800})
    page = student.new_page()
    sign_in_with_keycloak(page, sso_hub, "alice")
    page.wait_for_url(re.compile(rf"^{re.escape(sso_hub.url)}/hub/"))
    page.goto(f"{sso_hub.url}/hub/spawn")
    offered = page.locator("input[name='profile'][value='info101--python']")
    expect(offered).to_be_attached()
    elapsed = time.monotonic() - began
    page.screenshot(path=str(SCREENSHOTS / "courses-student-sees.png"))
    student.close()
    reset(sso_hub)

    print(f"teacher's login to the student seeing the course profile: {elapsed:.1f} s")
    assert elapsed < PROMISE


def test_a_script_stored_in_a_description_does_not_run(page: Page, sso_hub: Hub):
    wait_for_service(sso_hub)
    payload = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2">'
    sso_hub.set_properties("course-info101", {"course.description": payload})
    try:
        alerts: list[str] = []
        page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
        sign_in_with_keycloak(page, sso_hub, "tom")
        page.wait_for_url(re.compile(rf"^{re.escape(sso_hub.url)}/hub/"))
        page.goto(service_url(sso_hub, "courses/info101"))
        expect(page.locator("#shown-description")).to_have_text(payload)
        page.wait_for_timeout(500)  # time for an image's onerror to fire, if it could

        assert page.evaluate("window.pwned") is None
        assert alerts == []
        assert page.locator("#shown-description img").count() == 0
        assert page.locator("#description").input_value() == payload
    finally:
        reset(sso_hub)
    assert requests.get(service_url(sso_hub, "api/openapi.json"), timeout=10).ok
