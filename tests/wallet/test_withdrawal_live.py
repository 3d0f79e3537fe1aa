"""withdrawal_update on /ws/trading: to the withdrawal's owner only, after commit."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from dtexchange.asgi import application
from tests.factories import UserFactory, fund_wallet
from tests.notifications.conftest import access_token, run
from tests.wallet.helpers import BANK
from wallet.services import withdrawal_cancel, withdrawal_create

pytestmark = pytest.mark.django_db(transaction=True)


async def _signed_in(user):
    ws = WebsocketCommunicator(
        application, "/ws/trading", headers=[(b"origin", b"http://127.0.0.1")]
    )
    connected, _ = await ws.connect()
    assert connected
    await ws.send_json_to({"type": "authenticate", "token": access_token(user)})
    assert (await ws.receive_json_from(timeout=5))["type"] == "authenticated"
    return ws


def test_withdrawal_updates_reach_their_owner_only():
    alice, bob = UserFactory(), UserFactory()
    fund_wallet(alice, "UGX", "500000")

    async def scenario():
        a, b = await _signed_in(alice), await _signed_in(bob)
        withdrawal = await sync_to_async(withdrawal_create)(
            user=alice,
            currency="UGX",
            amount=Decimal("100000"),
            method="bank",
            destination=BANK,
        )
        update = await a.receive_json_from(timeout=5)
        assert update["type"] == "withdrawal_update"
        assert update["data"]["id"] == str(withdrawal.public_id)
        assert update["data"]["status"] == "awaiting_confirmation"
        assert update["data"]["destination"]["account_number"].endswith("5678")
        assert BANK["account_number"] not in str(update)
        await sync_to_async(withdrawal_cancel)(user=alice, withdrawal_id=withdrawal.public_id)
        update = await a.receive_json_from(timeout=5)
        assert update["data"]["status"] == "cancelled"
        assert update["data"]["previous_status"] == "awaiting_confirmation"
        assert await b.receive_nothing(timeout=0.5)
        await a.disconnect()
        await b.disconnect()

    run(scenario)
