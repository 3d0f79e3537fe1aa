"""Fixtures for the payments tests: the Relworx sandbox as a real local HTTP
server (its own thread, a free port), wired to our settings."""

import pytest

from payments.sandbox import SandboxServer

WEBHOOK_PATH = "/api/payments/relworx/webhook"
API_KEY = "test-relworx-api-key"
ACCOUNT_NO = "RELTEST0001"
WEBHOOK_SECRET = "test-relworx-webhook-secret"


@pytest.fixture
def make_sandbox(settings):
    servers = []

    def make(*, webhook_url: str = "http://127.0.0.1:9/unused", delay: float = 0.3):
        server = SandboxServer(
            api_key=API_KEY,
            account_no=ACCOUNT_NO,
            webhook_url=webhook_url,
            webhook_secret=WEBHOOK_SECRET,
            webhook_delay=delay,
            webhook_gap=0.1,
        ).start()
        servers.append(server)
        settings.RELWORX_BASE_URL = server.base_url
        settings.RELWORX_API_KEY = API_KEY
        settings.RELWORX_ACCOUNT_NO = ACCOUNT_NO
        settings.RELWORX_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.RELWORX_WEBHOOK_URL = webhook_url
        settings.RELWORX_TIMEOUT_SECONDS = 3.0
        settings.RELWORX_RETRY_BACKOFF_SECONDS = 0.01
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(make_sandbox, live_server):
    """The sandbox, posting signed webhooks to our live test server."""
    return make_sandbox(webhook_url=f"{live_server.url}{WEBHOOK_PATH}")


@pytest.fixture
def customer(django_user_model):
    return django_user_model.objects.create_user("ada@example.com", "pw-correct-horse")


def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05):
    """Poll until ``predicate()`` is truthy (webhooks arrive asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")
