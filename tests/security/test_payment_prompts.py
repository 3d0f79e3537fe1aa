"""Payment prompts go to nobody's phone without limit, and never for an order
that no longer exists."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from payments.errors import TooManyPaymentPrompts
from payments.models import MobileMoneyPayment
from tests.factories import UserFactory, fund_reserves, set_prices
from trading.models import Trade, TradeStatus
from trading.services import trade_buy, trade_cancel

pytestmark = pytest.mark.django_db(transaction=True)
STRANGER = "+256772000001"


@pytest.fixture
def market():
    set_prices()
    fund_reserves()


def _buy_api(user, number):
    client = APIClient()
    client.force_authenticate(user)
    body = {
        "crypto_currency": "BTC",
        "fiat_currency": "UGX",
        "amount": "10000",
        "payment_method": "mobile_money",
        "payment_details": {"phone_number": number},
    }
    return client.post("/api/trading/buy", body, format="json")


def test_a_number_gets_at_most_the_limit_of_prompts_whoever_asks(make_sandbox, market, settings):
    sandbox = make_sandbox()  # webhooks go nowhere: only the prompts count here
    settings.MOBILE_MONEY_PROMPTS_PER_NUMBER = 3
    settings.MOBILE_MONEY_PROMPTS_PER_NUMBER_WINDOW = timedelta(minutes=10)
    attackers = [UserFactory() for _ in range(4)]
    for attacker in attackers[:3]:
        assert _buy_api(attacker, STRANGER).status_code == 201
    refused = _buy_api(attackers[3], STRANGER)
    assert refused.status_code == 429, refused.json()
    error = refused.json()["error"]
    assert error["code"] == "too_many_payment_prompts"
    assert error["details"]["scope"] == "phone_number"
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert Trade.objects.count() == 3
    assert MobileMoneyPayment.objects.count() == 3
    assert len(sandbox.requests) == 3  # the stranger's phone rang three times, not four
    # Past the window, prompts are allowed again.
    MobileMoneyPayment.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert _buy_api(attackers[3], STRANGER).status_code == 201


def test_a_user_gets_at_most_the_limit_of_prompts_over_all_numbers(make_sandbox, market, settings):
    make_sandbox()  # webhooks go nowhere: only the prompts count here
    settings.MOBILE_MONEY_PROMPTS_PER_USER = 2
    user = UserFactory()
    assert _buy_api(user, "+256772000011").status_code == 201
    assert _buy_api(user, "+256772000012").status_code == 201
    refused = _buy_api(user, "+256772000013")
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["scope"] == "user"
    assert Trade.objects.count() == 2


def test_parallel_requests_cannot_pass_the_number_limit_together(make_sandbox, market, settings):
    make_sandbox()
    settings.MOBILE_MONEY_PROMPTS_PER_NUMBER = 3
    users = [UserFactory() for _ in range(8)]
    barrier = threading.Barrier(len(users))
    outcomes = []

    def one(user):
        try:
            barrier.wait()
            trade_buy(
                user=user,
                crypto_currency="BTC",
                fiat_currency="UGX",
                amount=Decimal("10000"),
                payment_method="mobile_money",
                payment_details={"phone_number": STRANGER},
            )
            outcomes.append("ok")
        except TooManyPaymentPrompts:
            outcomes.append("limited")
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["limited"] * 5 + ["ok"] * 3
    assert MobileMoneyPayment.objects.count() == 3


def test_a_trade_cancelled_before_its_request_left_prompts_no_phone(make_sandbox, market):
    sandbox = make_sandbox()
    user = UserFactory()
    with transaction.atomic():
        trade = trade_buy(
            user=user,
            crypto_currency="BTC",
            fiat_currency="UGX",
            amount=Decimal("10000"),
            payment_method="mobile_money",
            payment_details={"phone_number": "+256770000001"},
        )
        trade_cancel(trade=trade, user=user)
    # The submission ran after the commit and found the order gone.
    assert sandbox.requests == {}
    payment = MobileMoneyPayment.objects.get(trade=trade)
    assert payment.status == MobileMoneyPayment.Status.FAILED
    assert payment.internal_reference is None
    assert Trade.objects.get(pk=trade.pk).status == TradeStatus.CANCELLED
