"""deposit_update over /ws/trading: a top-up's changes reach its owner only,
after commit, and the credited top-up is emailed once."""

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.core import mail

from accounts.roles import DEPOSIT_REVIEWER
from notifications.models import OutboxEvent
from payments.services import deposit_approve
from tests.factories import UserFactory
from tests.notifications.conftest import access_token, run
from tests.notifications.test_consumer import connect, expect_silence
from wallet.services import top_up_start

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_top_up_is_live_to_its_owner_only_and_emailed_when_credited():
    owner, other = UserFactory(), UserFactory()
    reviewer = UserFactory(roles=[DEPOSIT_REVIEWER], is_staff=True)

    def start():
        return top_up_start(
            user=owner, currency="UGX", amount=Decimal("200000"), method="bank_deposit"
        )

    def approve(deposit):
        deposit_approve(
            deposit_id=deposit.bank_deposit.pk,
            reviewer=reviewer,
            amount_received=Decimal("200000"),
        )

    async def scenario():
        mine, theirs = await connect(), await connect()
        await mine.send_json_to({"type": "authenticate", "token": access_token(owner)})
        assert (await mine.receive_json_from())["user_id"] == owner.pk
        await theirs.send_json_to({"type": "authenticate", "token": access_token(other)})
        assert (await theirs.receive_json_from())["user_id"] == other.pk

        deposit = await sync_to_async(start)()
        first = await mine.receive_json_from(timeout=5)
        assert first["type"] == "deposit_update"
        assert first["data"]["id"] == str(deposit.public_id)
        assert first["data"]["status"] == "pending"
        assert first["data"]["reference_code"] == deposit.reference_code

        await sync_to_async(approve)(deposit)
        done = await mine.receive_json_from(timeout=5)
        assert done["type"] == "deposit_update"
        assert (done["data"]["status"], done["data"]["net_amount"]) == ("completed", "197000")
        await expect_silence(theirs)
        for ws in (mine, theirs):
            await ws.disconnect()

    run(scenario)
    credited = [m for m in mail.outbox if "added to your wallet" in m.subject]
    assert len(credited) == 1
    assert credited[0].to == [owner.email]
    assert "UGX 197,000" in credited[0].subject
    assert "Fee: UGX 3,000" in credited[0].body
    # The start is live only: no email until the money is in.
    assert OutboxEvent.objects.filter(kind="deposit.updated").count() == 2
