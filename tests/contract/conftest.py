"""A live server for the API contract tests: the browser tests' Daphne
server (tests.live_server) and the Relworx sandbox, with a signed-in,
verified customer who has money in every currency.

The server's rate limits are raised (settings from the environment, as in
production) so that generated requests reach the views instead of stopping
at 429; the schema still documents 429 on every operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.request import Request, urlopen

import pytest
from django.db import connection

from tests.live_server import LiveServer, database_url_for

BALANCES = {
    "UGX": "50000000",
    "USD": "100000",
    "BTC": "5",
    "ETH": "50",
    "SOL": "5000",
    "TRX": "500000",
}


@dataclass
class Customer:
    email: str
    password: str
    access: str
    refresh: str


@pytest.fixture(scope="session")
def api_server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        database_url = database_url_for(connection.settings_dict)
    workdir = tmp_path_factory.mktemp("contract-server")
    mail_dir = workdir / "mail"
    mail_dir.mkdir()
    server = LiveServer(
        database_url=database_url, mail_dir=mail_dir, log_path=workdir / "daphne.log"
    )
    from payments.sandbox import SandboxServer

    sandbox = SandboxServer(
        api_key="contract-relworx-key",
        account_no="RELCT00001",
        webhook_url=f"{server.url}/api/payments/relworx/webhook",
        webhook_secret="contract-relworx-webhook-secret",
        webhook_delay=0.5,
        webhook_gap=0.1,
    ).start()
    many = "100000/min"
    server.extra_env = {
        "RELWORX_BASE_URL": sandbox.base_url,
        "RELWORX_API_KEY": sandbox.api_key,
        "RELWORX_ACCOUNT_NO": sandbox.account_no,
        "RELWORX_WEBHOOK_URL": sandbox.webhook_url,
        "RELWORX_WEBHOOK_SECRET": sandbox.webhook_secret,
        "RELWORX_TIMEOUT_SECONDS": "5",
        "JWT_ACCESS_MINUTES": "60",
        "PRICE_MAX_AGE_SECONDS": "3600",
        "THROTTLE_AUTH_IP": many,
        "THROTTLE_AUTH_ACCOUNT": many,
        "THROTTLE_OTP": many,
        "THROTTLE_VOUCHER_VALIDATE": many,
        "THROTTLE_TRADING": many,
        "THROTTLE_WITHDRAWALS": many,
        "THROTTLE_RELWORX_WEBHOOK": many,
    }
    server.start()
    yield server
    server.stop()
    sandbox.stop()


def post_json(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")  # noqa: S310
    with urlopen(request, timeout=10) as response:  # noqa: S310 - our local server
        return json.loads(response.read() or b"{}")


@pytest.fixture
def customer(api_server, transactional_db) -> Customer:
    """A verified customer with money in every currency, signed in over HTTP."""
    from tests.factories import (
        DEFAULT_PASSWORD,
        UserFactory,
        fund_reserves,
        fund_wallet,
        set_prices,
    )

    set_prices()
    fund_reserves()
    user = UserFactory(email="contract@example.com")
    for code, amount in BALANCES.items():
        fund_wallet(user, code, amount)
    pair = post_json(
        f"{api_server.url}/api/auth/token", {"email": user.email, "password": DEFAULT_PASSWORD}
    )
    return Customer(user.email, DEFAULT_PASSWORD, pair["access"], pair["refresh"])
