"""Chromium driven by Playwright, against the session's gunicorn.

The browser is Debian's Chromium (``make browser-deps`` installs it), never one
downloaded by ``playwright install``. Each test gets a fresh profile, a page
that records every request it makes (and every one that failed), and, if the
test fails, a full-page screenshot under ``test-results/browser/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect, sync_playwright

from conftest import PROJECT_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
RESULTS_DIR = PROJECT_DIR / "test-results" / "browser"
# Bounds for every wait: an action or assertion (click, fill, expect) and a page load.
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 20_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Request.failure of a request the page's Content-Security-Policy refused to send.
BLOCKED_BY_CSP = "csp"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item, so fixtures can tell a failed test at teardown.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@dataclass
class NetworkLog:
    requests: list[Request] = field(default_factory=list)
    failures: list[Request] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def broken_by_csp(self) -> list[str]:
        """The Content-Security-Policy refusals of something of this server's own or inline.

        A refused resource of another host is the policy keeping the page local (Redoc's
        CDN logo, see :meth:`assert_stays_local`); anything else it refused — an inline
        script, an ``eval``, a file of this server — would be a page the policy broke.
        """
        broken = []
        for message in self.csp_violations:
            refused = re.search(r"'((?:https?|wss?|blob):[^']+)'", message)  # the refused URL, if any
            host = urlsplit(refused.group(1)).hostname if refused else None
            if host is None or host in LOCAL_HOSTS:
                broken.append(message)
        return broken

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def failed(self, *, allow_superseded_xhr: bool = False) -> list[tuple[str, str]]:
        """``(url, error)`` of the failed requests.

        Requests the page's Content-Security-Policy stopped are left out (they were
        never sent; see :func:`assert_stays_local`), and with ``allow_superseded_xhr``
        so are XHRs the page cancelled itself: an autocomplete aborts its previous
        search at every keystroke.
        """
        return [
            (request.url, request.failure or "")
            for request in self.failures
            if request.failure != BLOCKED_BY_CSP
            and not (
                allow_superseded_xhr
                and request.resource_type in ("xhr", "fetch")
                and request.failure == "net::ERR_ABORTED"
            )
        ]

    def assert_stays_local(self) -> None:
        """Every request the page sent went to this machine.

        ``blob:`` and ``data:`` URLs are the page's own. A request to another host
        passes only if the page's Content-Security-Policy stopped it in the browser,
        before anything was sent (Redoc's bundle shows a logo from its CDN).
        """
        remote = [
            (request.url, request.failure)
            for request in self.requests
            if not request.url.startswith("data:")
            and urlsplit(request.url.removeprefix("blob:")).hostname not in LOCAL_HOSTS
        ]
        sent = [(url, failure) for url, failure in remote if failure != BLOCKED_BY_CSP]
        assert not sent, f"requests leaving 127.0.0.1: {sent}"

    def errors(self) -> list[tuple[str, int]]:
        """``(url, status)`` of the responses with a 4xx or 5xx status."""
        return [(url, status) for url, status in self.statuses if status >= 400]

    def clear(self) -> None:
        self.requests.clear()
        self.failures.clear()
        self.statuses.clear()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    """Chromium with a fresh profile, for one test module.

    Not for the session: while it runs, Django's async-safety check is off (see
    below), and the tests that come after the browser tests must have it back.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps` (Debian's chromium package).")
    # Playwright's sync API keeps an asyncio loop in this thread, so Django would take
    # every ORM call of the test for one made from async code. They are not: the loop
    # only talks to the browser, and nothing else runs Django code in this thread.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            locale="en-US",
            timezone_id="UTC",
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        expect.set_options(timeout=ACTION_TIMEOUT_MS)
        yield context
        context.close()


@pytest.fixture
def network() -> NetworkLog:
    return NetworkLog()


@pytest.fixture
def page(request, browser_context, network) -> Page:
    """A new tab with no cookies; screenshots itself if the test fails."""
    failure_shot = RESULTS_DIR / ("FAILED-" + re.sub(r"[^\w.-]+", "_", request.node.nodeid) + ".png")
    failure_shot.unlink(missing_ok=True)  # from an earlier run
    browser_context.clear_cookies()
    page = browser_context.new_page()
    page.on("request", lambda sent: network.requests.append(sent))
    page.on("requestfailed", lambda failed: network.failures.append(failed))
    page.on("response", lambda response: network.statuses.append((response.url, response.status)))
    page.on(
        "console",
        lambda message: (
            network.csp_violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(failure_shot), full_page=True, timeout=5_000)
            print(f"screenshot of the failure: {failure_shot} (page {page.url})")
        except Exception as error:  # the page may be gone; the test's own error matters more
            print(f"no screenshot of the failure: {error}")
    page.close()
    # Every page every browser test opens works under the Content-Security-Policy (issue 22).
    broken = network.broken_by_csp()
    assert not broken, f"the Content-Security-Policy broke the page: {broken}"


@pytest.fixture
def snapshot(page):
    """Save a full-page screenshot of a key page under ``test-results/browser/`` (for people to look at)."""

    def take(name: str, *, full_page: bool = True) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")  # the admin's sticky sidebar follows the scroll
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
