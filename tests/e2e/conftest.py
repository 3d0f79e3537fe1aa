"""Browser end-to-end harness (issue #6).

* A real Daphne server (HTTP + WebSocket) in a subprocess, on a free port, on
  the *test* database that pytest-django created: tests that use it create
  their data committed (``django_db(transaction=True)``) so the server sees it.
* Headless Chromium driven by Playwright for Python: Debian's
  (/usr/bin/chromium) when it is there, else Playwright's own browser
  (``playwright install chromium`` on first use), else a clear failure.
* ``shoot(page, name)`` saves a screenshot at phone (360 px) and desktop
  (1280 px) widths under test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from django.db import connection

from dtexchange.server_options import daphne_options

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url_for(settings_dict: dict) -> str:
    user = settings_dict.get("USER") or "postgres"
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}" if password else user
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


class LiveServer:
    """One Daphne process serving the project against the test database."""

    def __init__(self, *, database_url: str, mail_dir: Path, log_path: Path):
        self.database_url = database_url
        self.mail_dir = mail_dir
        self.log_path = log_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.extra_env: dict[str, str] = {}

    def start(self, timeout: float = 30) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.e2e.server_settings",
            "DATABASE_URL": self.database_url,
            "E2E_MAIL_DIR": str(self.mail_dir),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                *daphne_options(env),
                "dtexchange.asgi:application",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_text()[-4000:]
                raise RuntimeError(f"Daphne exited with {self.proc.returncode}:\n{log}")
            try:
                with urlopen(f"{self.url}/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Daphne did not answer within {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        """Drop every connection (sockets included) and come back on the same port."""
        self.stop()
        self.start()

    def emails(self) -> list[str]:
        """Every message the server has sent so far, oldest first, as raw text."""
        files = sorted(self.mail_dir.glob("*"), key=lambda p: p.stat().st_mtime_ns)
        return [f.read_text(errors="replace") for f in files]


@pytest.fixture(scope="session")
def e2e_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    # The test database exists once django_db_setup has run; the server uses
    # its name (test_<dbname>) and is stopped before the database is dropped.
    with django_db_blocker.unblock():
        database_url = _database_url_for(connection.settings_dict)
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
