"""Browser end-to-end harness.

* A real Daphne server (HTTP + WebSocket) in a subprocess, on a free port, on
  the *test* database that pytest-django created: tests that use it create
  their data committed (``django_db(transaction=True)``) so the server sees it.
* Headless Chromium driven by Playwright for Python: Debian's
  (/usr/bin/chromium) when it is there, else Playwright's own browser
  (``playwright install chromium`` on first use), else a clear failure.
* Every page a test visits is audited by axe-core (npm, pinned; `make test`
  installs it) against WCAG 2.1 A and AA: the audit runs in the browser once
  each document has loaded and reports back; any violation fails the test.
* ``shoot(page, name)`` saves a screenshot at phone (360 px) and desktop
  (1280 px) widths under test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.live_server import LiveServer, database_url_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Runs in every document after axe itself (both are init scripts, so the
# page's Content-Security-Policy does not apply to them): audit once the
# document has loaded, report through the binding the fixture exposes.
AXE_RUNNER = """
(() => {
  if (window.top !== window) return;
  window.addEventListener("load", () => {
    setTimeout(() => {
      axe.run(document, { runOnly: { type: "tag", values: __TAGS__ }, resultTypes: ["violations"] })
        .then((r) => window.__axeReport({
          url: location.href,
          violations: r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ") + " :: " + n.failureSummary),
          })),
        }))
        .catch((e) => window.__axeReport({ url: location.href, error: String(e) }));
    }, 0);
  });
})();
""".replace("__TAGS__", json.dumps(AXE_TAGS))
PHONE = {"width": 360, "height": 780}
DESKTOP = {"width": 1280, "height": 800}
RELWORX_WEBHOOK_PATH = "/api/payments/relworx/webhook"


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    # The test database exists once django_db_setup has run; the server uses
    # its name (test_<dbname>) and is stopped before the database is dropped.
    with django_db_blocker.unblock():
        database_url = database_url_for(connection.settings_dict)
    workdir = tmp_path_factory.mktemp("e2e-server")
    mail_dir = workdir / "mail"
    mail_dir.mkdir()
    server = LiveServer(
        database_url=database_url, mail_dir=mail_dir, log_path=workdir / "daphne.log"
    )
    # The Relworx sandbox (payments.sandbox) as a real local HTTP server in this
    # process; its signed webhooks go to the Daphne server.
    from payments.sandbox import SandboxServer

    sandbox = SandboxServer(
        api_key="e2e-relworx-key",
        account_no="RELE2E0001",
        webhook_url=f"{server.url}{RELWORX_WEBHOOK_PATH}",
        webhook_secret="e2e-relworx-webhook-secret",
        # Long enough that the trade page has loaded and shows the pending
        # state before the webhook settles it, even on a loaded CI host; the
        # tests wait up to 25 s for the live completion.
        webhook_delay=3.0,
        webhook_gap=0.1,
    ).start()
    server.extra_env = {
        "RELWORX_BASE_URL": sandbox.base_url,
        "RELWORX_API_KEY": sandbox.api_key,
        "RELWORX_ACCOUNT_NO": sandbox.account_no,
        "RELWORX_WEBHOOK_URL": sandbox.webhook_url,
        "RELWORX_WEBHOOK_SECRET": sandbox.webhook_secret,
        "RELWORX_TIMEOUT_SECONDS": "5",
    }
    server.start()
    yield server
    server.stop()
    sandbox.stop()


_playwright_install: list[str] = []  # the failure of this session's one install try


def _chromium_executable() -> str | None:
    """Debian's Chromium if present; else None, meaning Playwright's own
    browser, downloaded once by ``playwright install chromium`` (where
    downloads are allowed); if that fails, the test fails saying what to do."""
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if not _playwright_install:
        try:
            result = subprocess.run(
                [sys.executable, "-m", "playwright", "install", "chromium"],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            _playwright_install.append(
                "" if result.returncode == 0 else (result.stderr or result.stdout)[-500:]
            )
        except subprocess.TimeoutExpired:
            _playwright_install.append("`playwright install chromium` timed out")
    if _playwright_install[0]:
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}: "
            "install it with `apt-get install chromium` (.ci/run does this). "
            f"Playwright's own browser could not be installed either:\n{_playwright_install[0]}",
            pytrace=False,
        )
    return None


@pytest.fixture(scope="module")
def browser(e2e_server):
    """Chromium for one test module.

    Playwright's sync API keeps an asyncio loop "running" in this thread for as
    long as it is started, and Django then refuses every ORM call from the test
    (SynchronousOnlyOperation) although this thread is plain sync code. So the
    browser lives per module, and DJANGO_ALLOW_ASYNC_UNSAFE is set only while
    it does: tests outside tests/e2e run with Django's guard intact.
    """
    executable = _chromium_executable()
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, e2e_server):
    if not AXE.exists():
        pytest.fail(
            f"The accessibility audit needs axe-core at {AXE}: run `make test` "
            "(it installs it with npm ci).",
            pytrace=False,
        )
    context = browser.new_context(base_url=e2e_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    audits: list[dict] = []
    loads: list[str] = []
    context.expose_binding("__axeReport", lambda source, report: audits.append(report))
    context.add_init_script(path=str(AXE))
    context.add_init_script(script=AXE_RUNNER)
    page = context.new_page()
    page.on("load", lambda p: loads.append(p.url))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    yield page
    # The audit of the last page may still be running: give it a moment.
    for _ in range(50):
        if len(audits) >= len(loads):
            break
        page.wait_for_timeout(100)
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"
    assert audits, "no page was audited for accessibility"
    failed = [a for a in audits if a.get("error") or a.get("violations")]
    assert not failed, "accessibility (axe-core, WCAG 2.1 AA) violations:\n" + "\n".join(
        f"{a['url']}: {a.get('error') or ''}"
        + "".join(
            f"\n  {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
            for v in a.get("violations", [])
        )
        for a in failed
    )


@pytest.fixture
def shoot():
    """Save a full-page screenshot of the current page at phone and desktop widths."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shoot(page, name: str) -> list[Path]:
        paths = []
        for label, size in (("360", PHONE), ("1280", DESKTOP)):
            page.set_viewport_size(size)
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {label}px wide"
            path = SCREENSHOTS / f"{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        page.set_viewport_size(DESKTOP)
        return paths

    return _shoot


@pytest.fixture
def sign_in(e2e_server):
    """Put a signed-in session for ``user`` into the browser page (a real
    session row in the test database, as the log-in form would create)."""
    from django.test import Client

    def _sign_in(page, user) -> None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"]
        page.context.add_cookies(
            [{"name": "sessionid", "value": cookie.value, "url": e2e_server.url}]
        )

    return _sign_in
