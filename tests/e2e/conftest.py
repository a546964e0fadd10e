"""Browser tests: Debian's Chromium driven by Playwright, never a downloaded browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from devenv import paths

CHROMIUM = "/usr/bin/chromium"
# Chromium's own background traffic would try to leave this machine: turn it off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing but loopback: every other name fails to resolve, and no proxy is ever used.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--no-proxy-server",
]
# The docs' screenshots are refreshed on request (UNILIM_UPDATE_SCREENSHOTS=1 ./dev test),
# so that a test run leaves the working tree as it was.
SCREENSHOTS = (
    Path(__file__).parents[2] / "docs" / "_static" / "screenshots"
    if os.environ.get("UNILIM_UPDATE_SCREENSHOTS")
    else paths.CACHE / "screenshots"
)


# Module scope: Playwright's sync API keeps an event loop running in this thread while it
# is open, which the asyncio tests of other modules cannot share.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: ./dev test installs Debian's chromium package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1100, "height": 800})
    yield context.new_page()
    context.close()
