"""Browser tests: the demo panel served in a thread, driven by Debian's Chromium through Playwright.

They skip when /usr/bin/chromium is missing, unless PANELPAY_REQUIRE_BROWSER=1 (CI), which makes a missing
browser a failure. Nothing is downloaded: ``playwright install`` is never needed.
"""
from __future__ import annotations

import os
import pytest

from tests.browser.demo_server import chromium_available, launch_chromium, logged_in_context, start_demo


@pytest.fixture(scope="session")
def demo():
    """The running demo panel (one for the session; tests leave its settings as they found them)."""
    server = start_demo()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not chromium_available():
        message = "Chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        if os.environ.get("PANELPAY_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def login(browser, demo):
    """Factory: ``login("alice", **context_options)`` → a logged-in browser context, closed afterwards.
    Every page it opens is watched: a Content-Security-Policy violation fails the test."""
    contexts, violations = [], []

    def watch(page):
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)

    def factory(username: str, **options):
        context = logged_in_context(browser, demo.base_url, username, **options)
        context.set_default_timeout(15000)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield factory
    for context in contexts:
        context.close()
    assert violations == [], violations
