"""Logging in with the university's SSO (the devenv's Keycloak), in Chromium."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from devenv import keycloak
from tests.e2e.conftest import SCREENSHOTS
from tests.integration.hub import Hub


def sign_in_with_keycloak(page: Page, hub: Hub, name: str, screenshot: str = "") -> None:
    page.goto(f"{hub.url}/hub/login")
    page.click("a[href^='/hub/oauth_login']")  # "Sign in with SSO"
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:18080/realms/unilim/"))
    page.fill("#username", name)
    page.fill("#password", keycloak.DEMO_PASSWORD)
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot))
    page.click("#kc-login")


def test_student_signs_in_with_sso_and_reaches_the_hub(page: Page, sso_hub: Hub):
    sign_in_with_keycloak(page, sso_hub, "chloe", screenshot="sso-login.png")

    page.wait_for_url(re.compile(rf"^{re.escape(sso_hub.url)}/hub/"))
    expect(page.locator("body")).to_contain_text("chloe")
    groups = sso_hub.api("GET", "/users/chloe").json()["groups"]
    assert set(groups) == {"student", "course-info101", "course-stat202"}


def test_alumna_is_told_in_french_why_she_cannot_use_the_hub(page: Page, sso_hub: Hub):
    sign_in_with_keycloak(page, sso_hub, "eve")

    error = page.locator("div.error")
    expect(error).to_contain_text("403")
    expect(error).to_contain_text(
        "votre compte ne fait pas partie de ceux que ce hub accueille"  # French browser
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sso-refused.png"))
