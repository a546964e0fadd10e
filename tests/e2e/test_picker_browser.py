"""The environment picker as a student uses it, in Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import SCREENSHOTS
from tests.integration.hub import Hub


def log_in(page: Page, hub: Hub, name: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", "x")
    page.click("#login_submit")


def test_student_starts_their_course_profile_and_lands_in_jupyterlab(page: Page, hub: Hub):
    hub.add_user("lea", ["student", "course-info101"])
    hub.set_properties("course-info101", {"course.profiles": "spark, python"})
    log_in(page, hub, "lea")

    page.goto(f"{hub.url}/hub/spawn")
    profiles = page.locator(".unilim-picker .profile")
    expect(profiles.first).to_contain_text("Spark (cours de données massives)")  # French browser
    expect(profiles.first).to_contain_text("cours info101")
    expect(profiles.first.locator("input[type=radio]")).to_be_checked()
    expect(profiles.first).to_contain_text("quay.io/jupyter/pyspark-notebook:2025-10-20")
    expect(profiles.first.locator("select")).to_contain_text("Standard — 4 CPU · 6 Go de RAM")
    expect(page.locator("h1")).to_have_text("Choisissez votre environnement")
    expect(page.locator("#spawn_form [type=submit]")).to_have_text("Démarrer")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "picker.png"), full_page=True)

    page.locator("#spawn_form [type=submit]").click()
    page.wait_for_url(re.compile(r"/user/lea/lab"), timeout=120_000)
    expect(page.locator("#jp-main-dock-panel")).to_be_visible(timeout=60_000)
    hub.api("DELETE", "/users/lea/server")
    hub.wait_stopped("lea")


def test_user_of_no_allowed_group_gets_a_clear_page(page: Page, hub: Hub):
    hub.add_user("noe", ["alumni"])
    log_in(page, hub, "noe")
    page.goto(f"{hub.url}/hub/spawn")
    expect(page.locator("#unilim-no-profile")).to_contain_text(
        "Aucun environnement ne vous est proposé"
    )
    expect(page.locator("#spawn_form [type=submit]")).to_be_hidden()
