"""Browser end-to-end harness (issue #6).

* A real Daphne server (HTTP + WebSocket) in a subprocess, on a free port, on
  the *test* database that pytest-django created: tests that use it create
  their data committed (``django_db(transaction=True)``) so the server sees it.
* Headless Chromium from Debian (/usr/bin/chromium) driven by Playwright for
  Python; never a downloaded browser.
* ``shoot(page, name)`` saves a screenshot at phone (360 px) and desktop
  (1280 px) widths under test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
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
        webhook_delay=0.5,
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


@pytest.fixture(scope="module")
def browser(e2e_server):
    """Chromium for one test module.

    Playwright's sync API keeps an asyncio loop "running" in this thread for as
    long as it is started, and Django then refuses every ORM call from the test
    (SynchronousOnlyOperation) although this thread is plain sync code. So the
    browser lives per module, and DJANGO_ALLOW_ASYNC_UNSAFE is set only while
    it does: tests outside tests/e2e run with Django's guard intact.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}: "
            "install it with `apt-get install chromium` (.ci/run does this).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
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
    context = browser.new_context(base_url=e2e_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
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
    context.close()
    assert not errors, f"JavaScript errors or CSP violations on the page: {errors}"


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
