"""Trading's part of erasure: a trade still waiting for its payment blocks
it, with the same statuses as the rest of trading calls active."""

from decimal import Decimal

import pytest

from tests.factories import UserFactory, fund_reserves, set_prices
from trading import personal_data
from trading.models.trades import ACTIVE_STATUSES, Trade, TradeStatus
from trading.services import trade_buy

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", list(TradeStatus))
def test_a_trade_blocks_erasure_exactly_while_its_status_is_active(status):
    set_prices()
    fund_reserves()
    user = UserFactory()
    trade = trade_buy(
        user=user,
        crypto_currency="BTC",
        fiat_currency="UGX",
        amount=Decimal("1000000"),
        payment_method="bank_deposit",
        payment_details={},
    )
    Trade.objects.filter(pk=trade.pk).update(status=status)
    blockers = personal_data.blockers(user, give_up_small_balances=False)
    if status in ACTIVE_STATUSES:
        assert blockers == [{"code": "trade_in_flight", "message": "1 trade(s) are still open"}]
    else:
        assert blockers == []
