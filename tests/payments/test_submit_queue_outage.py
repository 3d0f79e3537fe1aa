"""A broker outage after a mobile-money buy committed: the trade and its
payment exist, so the answer is the trade, not an error (which would invite
a second buy); the request goes out when the poller next runs. Tried for
real: a server (tasks queued, not run in-process) whose broker is a closed
port."""

import json
import socket
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import token_obtain
from payments.models import MobileMoneyPayment
from payments.tasks import mobile_money_poll_due
from tests.factories import DEFAULT_PASSWORD, UserFactory, fund_reserves, set_prices
from tests.notifications.daphne_server import daphne_server
from trading.models import Trade

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def _post(port: int, path: str, body: dict, access: str):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {access}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_broker_outage_after_commit_answers_with_the_trade(closed_port, make_sandbox):
    set_prices()
    fund_reserves()
    user = UserFactory()
    access = token_obtain(email=user.email, password=DEFAULT_PASSWORD)["access"]
    server_env = {
        # The project's settings, so tasks go to the broker as in production.
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port}/0",
    }
    with daphne_server(settings_module="dtexchange.settings", extra_env=server_env) as server:
        status, raw = _post(
            server["port"],
            "/api/trading/buy",
            {
                "crypto_currency": "BTC",
                "fiat_currency": "UGX",
                "amount": "100000",
                "payment_method": "mobile_money",
                "payment_details": {"phone_number": "+256770000001"},
            },
            access,
        )
    assert status in (200, 201), raw[:1000]
    trade = Trade.objects.get(user=user)
    assert trade.status == "pending"
    assert str(trade.public_id) in raw.decode()  # the answer is this trade
    payment = MobileMoneyPayment.objects.get(trade_id=trade.pk)
    assert payment.status == "pending"
    assert payment.submitted_at is None and not payment.internal_reference

    # The broker is back; the poller finds the request that never went out.
    make_sandbox()
    MobileMoneyPayment.objects.filter(pk=payment.pk).update(
        created_at=timezone.now() - timedelta(minutes=5), next_poll_at=timezone.now()
    )
    assert mobile_money_poll_due() == 1
    payment.refresh_from_db()
    assert payment.submitted_at is not None and payment.internal_reference
